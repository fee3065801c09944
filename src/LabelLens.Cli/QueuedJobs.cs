using LabelLens.Labels;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace LabelLens.Cli;

/// <summary>`relabel` and `backfill` label what they queued in this process, through the application's job loop.</summary>
internal static class QueuedJobs
{
    /// <summary>
    /// Works through the queued image jobs on every core, with a progress bar on a terminal, then prints
    /// "<paramref name="summaryPrefix"/>1 labeled, 1 rejected". A server on the same data may take some of the
    /// jobs too (leases keep them from being done twice).
    /// </summary>
    /// <returns>The exit code: <see cref="Commands.ExitFilesFailed"/> when a job was rejected or failed.</returns>
    public static async Task<int> LabelAsync(IServiceProvider services, ImageLabeler labeler, long expected, string title, string summaryPrefix, CancellationToken cancellationToken)
    {
        var loop = services.GetRequiredService<JobLoop>();
        var runner = services.GetRequiredService<JobRunner>();
        var owner = $"cli:{Environment.ProcessId}:{Guid.NewGuid():N}";
        Task<IReadOnlyDictionary<JobOutcome, int>> WorkAsync(Action<int>? progress) =>
            loop.DrainAsync(owner, Environment.ProcessorCount, (job, ct) => runner.RunAsync(labeler, job, ct), progress, cancellationToken);

        IReadOnlyDictionary<JobOutcome, int> outcomes;
        if (!Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            outcomes = await console.Progress().AutoClear(true).StartAsync(async context =>
            {
                var task = context.AddTask(title, maxValue: expected);
                return await WorkAsync(done => task.Value = Math.Min(done, expected));
            });
        }
        else
        {
            outcomes = await WorkAsync(null);
        }

        Console.WriteLine(summaryPrefix + string.Join(", ", outcomes.OrderBy(o => o.Key.Name(), StringComparer.Ordinal).Select(o => $"{o.Value} {o.Key.Name()}")));
        return outcomes.Any(o => o.Key.IsFailure()) ? Commands.ExitFilesFailed : 0;
    }
}
