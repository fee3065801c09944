using System.CommandLine;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Vision;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace LabelLens.Cli;

/// <summary>
/// `labellens backfill s3://bucket/prefix`: lists a bucket of an external store (ExternalStores:&lt;name&gt;),
/// queues labeling for every object whose ETag the catalog does not have, then labels the queued jobs in
/// this process (unless --queue-only, for a running server to do). Re-running resumes an interrupted
/// listing and skips what is done.
/// </summary>
public static class BackfillCommand
{
    public static Command Create(Option<string?> modelsOption, Option<bool> verboseOption)
    {
        var target = new Argument<string>("s3-url") { Description = "s3://bucket or s3://bucket/prefix of an external store." };
        var store = new Option<string?>("--store") { Description = "The ExternalStores entry to use (default: the one whose Buckets list holds the bucket)." };
        var data = new Option<string?>("--data") { Description = "Data folder (default ./data, or $LABELLENS_DATA); $LABELLENS_CATALOG=postgresql://... uses a PostgreSQL catalog instead." };
        var queueOnly = new Option<bool>("--queue-only") { Description = "Only queue the jobs; let a running server label them." };
        var maxObjects = new Option<long?>("--max-objects") { Description = "List at most this many objects now; the next run continues from there." };
        var command = new Command("backfill", "Label what is in an external bucket and not labeled yet.") { target, store, data, queueOnly, maxObjects, modelsOption, verboseOption };
        command.Validators.Add(r =>
        {
            if (!TryParse(r.GetValue(target), out _, out _))
            {
                r.AddError("Give the bucket as s3://bucket or s3://bucket/prefix.");
            }

            if (r.GetValue(maxObjects) is <= 0)
            {
                r.AddError("--max-objects must be positive.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParse(parse.GetValue(target), out var bucket, out var prefix))
            {
                return Commands.ExitFatal;
            }

            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(data) is { Length: > 0 } folder)
            {
                overrides["Server:DataFolder"] = folder;
            }

            if (parse.GetValue(modelsOption) is { Length: > 0 } models)
            {
                overrides["Models:Folder"] = models;
            }

            using var host = CliHost.Build(overrides, parse.GetValue(verboseOption), (services, configuration) =>
            {
                var dataFolder = Path.GetFullPath(configuration["Server:DataFolder"] is { Length: > 0 } configured ? configured : "data");
                services.AddCatalog(configuration, dataFolder);
            });
            var backfiller = host.Services.GetRequiredService<Backfiller>();
            var request = new BackfillRequest(bucket, prefix, parse.GetValue(store), parse.GetValue(maxObjects));
            BackfillSummary summary;
            try
            {
                summary = await ListAsync(backfiller, request, cancellationToken);
            }
            catch (BackfillException ex)
            {
                await Console.Error.WriteLineAsync($"labellens: backfill: {ex.Message}");
                return Commands.ExitFatal;
            }

            Console.WriteLine(
                $"Listed {summary.Listed} object(s) in s3://{summary.Bucket}/{summary.Prefix} (store {summary.Store})"
                + (summary.ResumedAfter is { } after ? $", resuming after '{after}'" : "")
                + $": {summary.Queued} queued, {summary.Skipped} already labeled or queued"
                + (summary.Complete ? "." : "; not finished, run again to continue."));
            if (summary.Queued == 0 || parse.GetValue(queueOnly))
            {
                return 0;
            }

            return await LabelQueuedAsync(host.Services, summary.Queued, cancellationToken);
        });
        return command;
    }

    /// <summary>s3://bucket/prefix → bucket and prefix.</summary>
    internal static bool TryParse(string? url, out string bucket, out string prefix)
    {
        bucket = prefix = "";
        if (url is null || !url.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = url["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        bucket = slash < 0 ? rest : rest[..slash];
        prefix = slash < 0 ? "" : rest[(slash + 1)..];
        return bucket.Length > 0;
    }

    private static async Task<BackfillSummary> ListAsync(Backfiller backfiller, BackfillRequest request, CancellationToken cancellationToken)
    {
        if (Console.IsErrorRedirected)
        {
            return await backfiller.RunAsync(request, null, null, cancellationToken);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        BackfillSummary? summary = null;
        await console.Status().StartAsync($"Listing s3://{request.Bucket}/{request.Prefix}", async context =>
        {
            summary = await backfiller.RunAsync(
                request,
                p => context.Status($"Listing s3://{Markup.Escape(request.Bucket)}/{Markup.Escape(request.Prefix ?? "")}: {p.Listed} listed, {p.Queued} queued, {p.Skipped} skipped"),
                null,
                cancellationToken);
        });
        return summary!;
    }

    /// <summary>Labels queued jobs in this process, as `relabel` does, with a progress bar on a terminal.</summary>
    private static async Task<int> LabelQueuedAsync(IServiceProvider services, long queued, CancellationToken cancellationToken)
    {
        ImageLabeler labeler;
        try
        {
            labeler = await services.GetRequiredService<LabelerLoader>().LoadAsync(null, null, cancellationToken);
        }
        catch (Exception ex) when (ex is Models.ModelMissingException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"labellens: {ex.Message} (the jobs stay queued for `serve`)");
            return Commands.ExitFatal;
        }

        using (labeler)
        {
            return await QueuedJobs.LabelAsync(services, labeler, queued, "Labeling", "Labeled: ", cancellationToken);
        }
    }
}
