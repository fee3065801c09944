using System.CommandLine;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Vision;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace LabelLens.Cli;

/// <summary>
/// `labellens relabel --failed|--all|--model-older`: queues the images, then works through their jobs in
/// this process with a progress bar; the old labels stay searchable until the new ones land. With a server
/// running on the same data (it holds serve.lock) the jobs are left to it, and the command says so: two
/// processes splitting the work would load the models twice and each report half of it. Without --models it
/// uses the models folder the server of this data folder uses (data/serve.json), so both judge "model older"
/// by the same models.
/// </summary>
public static class RelabelCommand
{
    public static Command Create(Option<string?> modelsOption, Option<bool> verboseOption)
    {
        var failed = new Option<bool>("--failed") { Description = "Images whose labeling failed." };
        var all = new Option<bool>("--all") { Description = "Every image." };
        var older = new Option<bool>("--model-older") { Description = "Images with an analysis result from another model version than the configured one, or none yet: only those analyses run again." };
        var data = new Option<string?>("--data") { Description = "Data folder (default ./data, or $LABELLENS_DATA); $LABELLENS_CATALOG=postgresql://... uses a PostgreSQL catalog instead." };
        var queueOnly = new Option<bool>("--queue-only") { Description = "Only queue the jobs; let a running server do them." };
        var command = new Command("relabel", "Label images again.") { failed, all, older, data, queueOnly, modelsOption, verboseOption };
        command.Validators.Add(r =>
        {
            if (new[] { r.GetValue(failed), r.GetValue(all), r.GetValue(older) }.Count(v => v) != 1)
            {
                r.AddError("Give exactly one of --failed, --all, --model-older.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(data) is { Length: > 0 } folder)
            {
                overrides["Server:DataFolder"] = folder;
            }

            if (parse.GetValue(modelsOption) is { Length: > 0 } models)
            {
                overrides["Models:Folder"] = models;
            }

            string dataFolder = "";
            using var host = CliHost.Build(overrides, parse.GetValue(verboseOption), (services, configuration) =>
            {
                dataFolder = Path.GetFullPath(configuration["Server:DataFolder"] is { Length: > 0 } configured ? configured : "data");
                services.AddCatalog(configuration, dataFolder);
                if (string.IsNullOrEmpty(configuration["Models:Folder"]) && DataFolderLock.ReadInfo(dataFolder) is { } server)
                {
                    services.PostConfigure<LabelLens.Models.ModelOptions>(o => o.Folder = server.ModelsFolder);
                }
            });
            var sharedCatalog = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<CatalogOptions>>().Value.IsPostgres;
            if (!sharedCatalog && !File.Exists(Path.Combine(dataFolder, "catalog.db")))
            {
                await Console.Error.WriteLineAsync($"labellens: no catalog in {dataFolder} (run `labellens serve --data {dataFolder}` first, or pass --data).");
                return Commands.ExitFatal;
            }

            var catalog = host.Services.GetRequiredService<ICatalog>();
            ImageLabeler labeler;
            try
            {
                labeler = await host.Services.GetRequiredService<LabelerLoader>().LoadAsync(null, null, cancellationToken);
            }
            catch (Exception ex) when (ex is Models.ModelMissingException or InvalidDataException)
            {
                await Console.Error.WriteLineAsync($"labellens: {ex.Message}");
                return Commands.ExitFatal;
            }

            using (labeler)
            {
                var scope = parse.GetValue(failed) ? RelabelScope.Failed : parse.GetValue(all) ? RelabelScope.All : RelabelScope.ModelOlder;
                var ids = await catalog.EnqueueRelabelAsync(scope, labeler.Models, cancellationToken);
                Console.WriteLine($"Queued {ids.Count} image(s) for relabeling with {labeler.ModelVersion}.");
                if (labeler.Text is not null)
                {
                    // Text jobs (after the labels, or of images whose text alone is stale) are the server's text worker's.
                    Console.WriteLine("The text of these images is read by `labellens serve` (its text worker), after their labels.");
                }

                if (ids.Count == 0 || parse.GetValue(queueOnly))
                {
                    return 0;
                }

                if (DataFolderLock.IsHeld(dataFolder))
                {
                    var pid = DataFolderLock.ReadInfo(dataFolder)?.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
                    Console.WriteLine($"A LabelLens server (pid {pid}) is running on {dataFolder} (it holds serve.lock): it labels these {ids.Count} image(s) itself. Follow them with `labellens status --data {dataFolder}`; to relabel in this process instead, stop the server first.");
                    return 0;
                }

                return await QueuedJobs.LabelAsync(host.Services, labeler, ids.Count, "Relabeling", "", cancellationToken);
            }
        });
        return command;
    }
}
