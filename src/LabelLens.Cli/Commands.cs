using System.CommandLine;
using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Vision;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace LabelLens.Cli;

/// <summary>The command tree. Each action builds its services, does its work, and returns the exit code.</summary>
public static class Commands
{
    public const int ExitFilesFailed = 1;
    public const int ExitFatal = 2;

    public static readonly Option<string?> ModelsOption = new("--models")
    {
        Description = "Models folder (one subfolder per model). Default: $LABELLENS_MODELS, then configuration, then ~/.local/share/labellens/models.",
        Recursive = true,
    };

    public static readonly Option<bool> VerboseOption = new("--verbose", "-v")
    {
        Description = "Log what happens (model loading, downloads) to stderr.",
        Recursive = true,
    };

    public static Command Label()
    {
        var paths = new Argument<string[]>("path") { Description = "Image files and folders.", Arity = ArgumentArity.OneOrMore };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Descend into subfolders." };
        var format = new Option<OutputFormat>("--format", "-f") { Description = "Output format.", DefaultValueFactory = _ => OutputFormat.Jsonl };
        var minConfidence = new Option<double>("--min-confidence") { Description = "Drop labels below this confidence (0-100).", DefaultValueFactory = _ => LabelRequest.DefaultMinConfidence };
        var maxLabels = new Option<int?>("--max-labels") { Description = "At most this many labels per image (default: no limit)." };
        var model = new Option<string?>("--model", "-m") { Description = "Model name (default: yolox-nano)." };
        // One more worker than cores: while one waits on file I/O or libvips hands work between threads, the
        // cores stay busy (measured: 2 MP photos 54 -> 62 images/s on 2 cores, see bench/README.md).
        var workers = new Option<int>("--workers") { Description = "Images labeled at once (default: cores + 1).", DefaultValueFactory = _ => Environment.ProcessorCount + 1 };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar even on a terminal." };
        var features = new Option<string[]>("--features")
        {
            Description = "GENERAL_LABELS and/or IMAGE_PROPERTIES (quality and dominant colours), as Rekognition's Features (default: GENERAL_LABELS; a label filter implies it); TEXT adds the text read (DetectText's TextDetections).",
            AllowMultipleArgumentsPerToken = true,
        };
        features.AcceptOnlyFromAmong("GENERAL_LABELS", "IMAGE_PROPERTIES", "TEXT");
        var includeLabel = new Option<string[]>("--include-label") { Description = "Return only these labels (repeatable; with --include-category, either matches)." };
        var excludeLabel = new Option<string[]>("--exclude-label") { Description = "Never return these labels (repeatable)." };
        var includeCategory = new Option<string[]>("--include-category") { Description = "Return only labels of these categories, e.g. \"Animals and Pets\" (repeatable)." };
        var excludeCategory = new Option<string[]>("--exclude-category") { Description = "Never return labels of these categories (repeatable)." };
        var maxColors = new Option<int>("--max-dominant-colors") { Description = "Dominant colours per image, region and instance with IMAGE_PROPERTIES (0-20).", DefaultValueFactory = _ => 10 };
        maxColors.Validators.Add(r =>
        {
            if (r.GetValue(maxColors) is < 0 or > 20)
            {
                r.AddError("--max-dominant-colors must be between 0 and 20.");
            }
        });
        minConfidence.Validators.Add(r =>
        {
            if (r.GetValue(minConfidence) is < 0 or > 100)
            {
                r.AddError("--min-confidence must be between 0 and 100.");
            }
        });
        maxLabels.Validators.Add(r =>
        {
            if (r.GetValue(maxLabels) is < 0)
            {
                r.AddError("--max-labels must be 0 or more.");
            }
        });
        workers.Validators.Add(r =>
        {
            if (r.GetValue(workers) is < 1 or > 256)
            {
                r.AddError("--workers must be between 1 and 256.");
            }
        });

        var tasks = new Option<string?>("--tasks") { Description = "Analyses to run, comma-separated: objects (YOLOX, boxes), classes (ImageNet classifier), faces (UltraFace, the Face label), text (PP-OCRv4). Default: Analysis:Tasks (objects,classes,faces)." };
        tasks.Validators.Add(r =>
        {
            try
            {
                if (AnalysisTasks.ParseList(r.GetValue(tasks)).Count == 0 && r.GetValue(tasks) is not null)
                {
                    r.AddError("--tasks names no analysis; give objects, classes or both.");
                }
            }
            catch (ArgumentException ex)
            {
                r.AddError($"--tasks: {ex.Message}");
            }
        });

        var command = new Command("label", "Label images; one JSON object per file on stdout, errors per file on stderr.")
        {
            paths, recursive, format, minConfidence, maxLabels, features, includeLabel, excludeLabel, includeCategory, excludeCategory, maxColors,
            model, tasks, workers, noProgress, ModelsOption, VerboseOption,
        };
        command.Validators.Add(r =>
        {
            try
            {
                if (r.GetValue(model) is { Length: > 0 } && r.GetValue(tasks) is { Length: > 0 } list && !AnalysisTasks.ParseList(list).Contains(AnalysisTask.Objects))
                {
                    r.AddError("--model names the objects detector, but --tasks leaves objects out.");
                }
            }
            catch (ArgumentException)
            {
                // --tasks reports its own error.
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = BuildHost(parse);
            var services = host.Services;
            ImageLabeler labeler;
            try
            {
                var asked = parse.GetValue(tasks) is { Length: > 0 } list ? AnalysisTasks.ParseList(list) : null;
                // TEXT adds the text analysis; TEXT alone loads nothing else.
                if (parse.GetValue(features) is { } wanted && wanted.Contains("TEXT"))
                {
                    var labelTasks = (asked ?? services.GetRequiredService<IOptions<AnalysisOptions>>().Value.ParseTasks()).Where(t => t != AnalysisTask.Text);
                    asked = wanted.Any(f => f != "TEXT") ? [.. labelTasks, AnalysisTask.Text] : [AnalysisTask.Text];
                }

                labeler = await services.GetRequiredService<LabelerLoader>().LoadAsync(parse.GetValue(model), DownloadProgressOnTerminal(), cancellationToken, asked);
            }
            catch (Exception ex) when (ex is ModelMissingException or InvalidDataException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"labellens: {ex.Message}");
                return ExitFatal;
            }

            using (labeler)
            {
                var options = new LabelRunOptions(
                    parse.GetValue(paths) ?? [],
                    parse.GetValue(recursive),
                    parse.GetValue(format),
                    new LabelRequest
                    {
                        MinConfidence = parse.GetValue(minConfidence),
                        MaxLabels = parse.GetValue(maxLabels),
                        // A label filter asks for labels: `--features IMAGE_PROPERTIES --include-category X` gives the
                        // properties and the labels of X, not the properties alone with the filter silently ignored.
                        GeneralLabels = parse.GetValue(features) is not { Length: > 0 } asked || asked.Contains("GENERAL_LABELS")
                            || new[] { includeLabel, excludeLabel, includeCategory, excludeCategory }.Any(o => parse.GetValue(o) is { Length: > 0 }),
                        ImageProperties = parse.GetValue(features)?.Contains("IMAGE_PROPERTIES") == true,
                        MaxDominantColors = parse.GetValue(maxColors),
                        LabelInclusionFilters = parse.GetValue(includeLabel) ?? [],
                        LabelExclusionFilters = parse.GetValue(excludeLabel) ?? [],
                        LabelCategoryInclusionFilters = parse.GetValue(includeCategory) ?? [],
                        LabelCategoryExclusionFilters = parse.GetValue(excludeCategory) ?? [],
                    },
                    parse.GetValue(workers),
                    services.GetRequiredService<IOptions<ImageOptions>>().Value.MaxBytes,
                    ShowProgress: !parse.GetValue(noProgress) && !Console.IsErrorRedirected)
                {
                    TextMinConfidence = parse.GetValue(features)?.Contains("TEXT") == true ? services.GetRequiredService<IOptions<LabelLens.Vision.Ocr.TextOptions>>().Value.MinConfidence : null,
                    Labels = parse.GetValue(features) is not { Length: > 0 } chosen || chosen.Any(f => f != "TEXT"),
                };
                var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
                await using (stdout)
                {
                    var summary = await new LabelCommand(labeler, TimeProvider.System).RunAsync(options, stdout, Console.Error, cancellationToken);
                    if (parse.GetValue(VerboseOption))
                    {
                        await Console.Error.WriteLineAsync(string.Create(
                            CultureInfo.InvariantCulture,
                            $"labellens: {summary.Labeled} labeled, {summary.Failed} failed in {summary.Elapsed.TotalSeconds:0.00} s ({summary.Labeled / Math.Max(summary.Elapsed.TotalSeconds, 1e-9):0.0} images/s)"));
                    }

                    return summary.Failed > 0 ? ExitFilesFailed : 0;
                }
            }
        });
        return command;
    }

    public static Command ModelsCommand()
    {
        var list = new Command("list", "The models LabelLens can fetch, and which are present.") { ModelsOption, VerboseOption };
        list.SetAction(parse =>
        {
            using var host = BuildHost(parse);
            var store = host.Services.GetRequiredService<ModelStore>();
            var analysis = host.Services.GetRequiredService<IOptions<AnalysisOptions>>().Value;
            var configured = analysis.ParseTasks();
            var table = new Table().AddColumns("Model", "Kind", "Task", "Input", "Params (M)", "COCO mAP", "Present", "Source");
            foreach (var entry in ModelCatalog.All)
            {
                var local = store.Find(entry.Name);
                var inUse = configured.Contains(entry.Task) && string.Equals(analysis.ModelFor(entry.Task, null, store.DefaultModel), entry.Name, StringComparison.OrdinalIgnoreCase);
                table.AddRow(
                    entry.Name + (inUse ? " (default)" : ""),
                    entry.Kind,
                    entry.Task.Name(),
                    $"{entry.InputSize}x{entry.InputSize}",
                    entry.ParametersMillions.ToString("0.##"),
                    entry.CocoMap > 0 ? entry.CocoMap.ToString("0.0") : "-",
                    local is null ? "no" : Markup.Escape(local.Path),
                    Markup.Escape(store.SourceUrl(entry).ToString()));
            }

            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
            if (Console.IsOutputRedirected)
            {
                // Piped output has no terminal width; do not let the table wrap URLs and paths.
                console.Profile.Width = 4096;
            }

            console.Write(table);
            console.WriteLine($"Models folder: {store.Folder}");
            return 0;
        });

        var name = new Argument<string>("name") { Description = "Model name, e.g. yolox-nano." };
        var sha = new Option<string?>("--sha256") { Description = "Expected SHA-256 of the file (hex); the download is refused if it differs." };
        var url = new Option<Uri?>("--url") { Description = "Download from this URL instead of the catalog's." };
        var force = new Option<bool>("--force") { Description = "Download even if the model is present." };
        var pull = new Command("pull", "Download a model into the models folder (verified, written atomically).") { name, sha, url, force, ModelsOption, VerboseOption };
        pull.SetAction(async (parse, cancellationToken) =>
        {
            using var host = BuildHost(parse);
            var store = host.Services.GetRequiredService<ModelStore>();
            var modelName = parse.GetValue(name)!;
            var entry = ModelCatalog.Find(modelName);
            if (entry is null)
            {
                await Console.Error.WriteLineAsync($"labellens: '{modelName}' is not a catalog model; known: {string.Join(", ", ModelCatalog.All.Select(m => m.Name))}.");
                return ExitFatal;
            }

            if (!parse.GetValue(force) && store.Find(entry.Name) is { } present)
            {
                Console.WriteLine(present.Path);
                return 0;
            }

            try
            {
                var path = await store.PullAsync(entry, DownloadProgressOnTerminal(), parse.GetValue(sha), cancellationToken, parse.GetValue(url));
                Console.WriteLine(path);
                return 0;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidDataException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"labellens: could not download {entry.Name}: {ex.Message}");
                return ExitFatal;
            }
        });

        var pathName = new Argument<string?>("name") { Description = "A model name; without one, the models folder.", Arity = ArgumentArity.ZeroOrOne };
        var path = new Command("path", "Print the models folder, or where a model's file is (exit 1 if it is not there).") { pathName, ModelsOption, VerboseOption };
        path.SetAction(parse =>
        {
            using var host = BuildHost(parse);
            var store = host.Services.GetRequiredService<ModelStore>();
            if (parse.GetValue(pathName) is not { } modelName)
            {
                Console.WriteLine(store.Folder);
                return 0;
            }

            var expected = store.ExpectedPath(modelName);
            Console.WriteLine(expected);
            return File.Exists(expected) ? 0 : 1;
        });

        return new Command("models", "List, fetch and locate models.") { list, pull, path };
    }

    private static IHost BuildHost(ParseResult parse)
    {
        var overrides = new Dictionary<string, string?>();
        if (parse.GetValue(ModelsOption) is { Length: > 0 } models)
        {
            overrides["Models:Folder"] = models;
        }

        return CliHost.Build(overrides, parse.GetValue(VerboseOption));
    }

    /// <summary>A progress bar for downloads when stderr is a terminal; nothing otherwise.</summary>
    private static Progress<DownloadProgress>? DownloadProgressOnTerminal()
    {
        if (Console.IsErrorRedirected)
        {
            return null;
        }

        var last = DateTime.MinValue;
        return new Progress<DownloadProgress>(p =>
        {
            var now = DateTime.UtcNow;
            if (now - last < TimeSpan.FromMilliseconds(200) && p.Bytes != p.TotalBytes)
            {
                return;
            }

            last = now;
            var total = p.TotalBytes is { } t ? $" / {t / 1048576.0:0.0} MiB ({100.0 * p.Bytes / t:0}%)" : "";
            Console.Error.Write($"\rDownloading {p.Model}: {p.Bytes / 1048576.0:0.0} MiB{total}   ");
            if (p.Bytes == p.TotalBytes)
            {
                Console.Error.WriteLine();
            }
        });
    }
}
