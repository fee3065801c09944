using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using LabelLens.Vision;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace LabelLens.Cli;

public enum SearchOutputFormat
{
    Table,
    Jsonl,
}

public enum ExportFormat
{
    Jsonl,
    Csv,
}

public enum StatusFormat
{
    Text,
    Json,
}

/// <summary>What <c>labellens status --format json</c> prints (the shape of <c>GET /api/v1/queue</c>, plus the catalog's path).</summary>
public sealed record CatalogStatus(string Catalog, ImageCounts Images, QueueCounts Jobs);

/// <summary>
/// Commands that read the catalog directly (no server needed; SQLite's WAL lets them run beside a live
/// <c>serve</c>): search, status, export. The data folder is found as <c>serve</c> finds it.
/// </summary>
public static class CatalogCommands
{
    /// <summary>Images per catalog read when output is streamed (export, long searches).</summary>
    public const int PageSize = ImageQuery.MaxLimit;

    private const int TopLabels = 5;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = CatalogJsonContext.Default,
    };

    private static readonly Option<string?> DataOption = new("--data")
    {
        Description = "Data folder holding catalog.db (default: $LABELLENS_DATA, then Server:DataFolder in configuration, then ./data). $LABELLENS_CATALOG=postgresql://... reads a PostgreSQL catalog instead.",
    };

    public static Command Search()
    {
        var labels = new Argument<string[]>("label") { Description = "Labels every result must have (case-insensitive; Animal matches dogs too).", Arity = ArgumentArity.ZeroOrMore };
        var any = new Option<bool>("--any") { Description = "Match images with at least one of the labels instead of all of them." };
        var not = new Option<string[]>("--not") { Description = "Leave out images with this label (repeatable)." };
        var minConfidence = new Option<double>("--min-confidence") { Description = "Labels below this confidence (0-100) do not count." };
        var bucket = new Option<string?>("--bucket") { Description = "Only this bucket." };
        var prefix = new Option<string?>("--prefix") { Description = "Only object keys starting with this." };
        var status = new Option<string?>("--status") { Description = "Only images in this status: queued, labeling, labeled, failed." };
        var category = new Option<string?>("--category") { Description = "Only images with a label of this category, e.g. \"Animals and Pets\"." };
        var text = new Option<string?>("--text") { Description = "Only images whose text has these words on one line (case- and accent-insensitive), e.g. --text \"scene 42\"; quotes inside make a phrase." };
        var faces = new Option<int?>("--faces") { Description = "Exactly this many faces (0: pictures the face analysis found none in)." };
        var minFaces = new Option<int?>("--min-faces") { Description = "At least this many faces, e.g. --min-faces 2 for group shots." };
        var maxFaces = new Option<int?>("--max-faces") { Description = "At most this many faces." };
        var shot = new Option<string?>("--shot") { Description = "Shot size from the largest face: close-up, medium or wide." };
        var count = new Option<string[]>("--count") { Description = "LABEL:N, at least N boxes of LABEL (repeatable), e.g. --count Person:2." };
        var minArea = new Option<double?>("--min-area") { Description = "A box of the labels asked for covers at least this share of the image (0-1)." };
        var sort = new Option<ImageSort>("--sort") { Description = "time (newest first) or confidence (highest first).", DefaultValueFactory = _ => ImageSort.Time };
        var limit = new Option<int>("--limit", "-n") { Description = "Print at most this many images.", DefaultValueFactory = _ => ImageQuery.DefaultLimit };
        var format = new Option<SearchOutputFormat?>("--format", "-f") { Description = "table (default on a terminal) or jsonl (default when piped: one {image, labels} object per line)." };
        var color = new Option<string[]>("--color") { Description = "A simple colour covering at least --min-color-percent of the image (repeatable): red, orange, yellow, green, teal, blue, purple, pink, brown, black, white, gray." };
        var minColorPercent = new Option<double>("--min-color-percent") { Description = "Share of the image (0-100) a --color must cover.", DefaultValueFactory = _ => ImageQuery.DefaultMinColorPercent };
        var minBrightness = new Option<double?>("--min-brightness") { Description = "Image brightness at least this (0-100)." };
        var maxBrightness = new Option<double?>("--max-brightness") { Description = "Image brightness at most this (0-100)." };
        var minSharpness = new Option<double?>("--min-sharpness") { Description = "Image sharpness at least this (0-100)." };
        var maxSharpness = new Option<double?>("--max-sharpness") { Description = "Image sharpness at most this (0-100)." };
        var minContrast = new Option<double?>("--min-contrast") { Description = "Image contrast at least this (0-100)." };
        var maxContrast = new Option<double?>("--max-contrast") { Description = "Image contrast at most this (0-100)." };
        minConfidence.Validators.Add(r =>
        {
            if (r.GetValue(minConfidence) is < 0 or > 100)
            {
                r.AddError("--min-confidence must be between 0 and 100.");
            }
        });
        minArea.Validators.Add(r =>
        {
            if (r.GetValue(minArea) is < 0 or > 1)
            {
                r.AddError("--min-area must be between 0 and 1.");
            }
        });
        limit.Validators.Add(r =>
        {
            if (r.GetValue(limit) < 1)
            {
                r.AddError("--limit must be 1 or more.");
            }
        });

        var command = new Command("search", "Search the catalog by label: matching images with their top labels.")
        {
            labels, any, not, minConfidence, bucket, prefix, status, category, text, faces, minFaces, maxFaces, shot, count, minArea, color, minColorPercent, minBrightness, maxBrightness,
            minSharpness, maxSharpness, minContrast, maxContrast, sort, limit, format, DataOption,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var names = parse.GetValue(labels) ?? [];
            var query = new ImageQuery
            {
                Labels = parse.GetValue(any) ? [] : names,
                AnyLabels = parse.GetValue(any) ? names : [],
                NotLabels = parse.GetValue(not) ?? [],
                MinConfidence = parse.GetValue(minConfidence),
                Bucket = parse.GetValue(bucket),
                Prefix = parse.GetValue(prefix),
                Status = parse.GetValue(status),
                Category = parse.GetValue(category),
                Text = parse.GetValue(text),
                Faces = parse.GetValue(faces),
                MinFaces = parse.GetValue(minFaces),
                MaxFaces = parse.GetValue(maxFaces),
                Shot = parse.GetValue(shot),
                MinArea = parse.GetValue(minArea),
                Colors = parse.GetValue(color) ?? [],
                MinColorPercent = parse.GetValue(minColorPercent),
                MinBrightness = parse.GetValue(minBrightness),
                MaxBrightness = parse.GetValue(maxBrightness),
                MinSharpness = parse.GetValue(minSharpness),
                MaxSharpness = parse.GetValue(maxSharpness),
                MinContrast = parse.GetValue(minContrast),
                MaxContrast = parse.GetValue(maxContrast),
                Sort = parse.GetValue(sort),
            }.WithAliasesResolved(LabelingServices.LoadTaxonomy(new ConfigurationBuilder().AddLabelLensSources(new Dictionary<string, string?>()).Build()));
            var wanted = parse.GetValue(limit);
            var table = (parse.GetValue(format) ?? (Console.IsOutputRedirected ? SearchOutputFormat.Jsonl : SearchOutputFormat.Table)) == SearchOutputFormat.Table;
            try
            {
                query = query with { Counts = (parse.GetValue(count) ?? []).Select(ParseCount).ToList() };
                if (OpenCatalog(parse) is not { } catalog)
                {
                    return Commands.ExitFatal;
                }

                var rows = table ? new List<ImageResponse>() : null;
                using var stdout = table ? null : StandardOutput();
                var printed = 0;
                string? cursor = null;
                do
                {
                    var page = await catalog.SearchAsync(query with { Limit = Math.Min(PageSize, wanted - printed), Cursor = cursor }, cancellationToken);
                    // As the API's search: videos say so and carry their segments of the searched labels.
                    var found = await ImageViews.AttachAsync(catalog, page.Images.Select(ImageResponse.From).ToList(), [.. query.Labels, .. query.AnyLabels], cancellationToken, query.MinConfidence, query);
                    if (query.Text is not null)
                    {
                        found = await ImageViews.AttachTextAsync(catalog, found, cancellationToken, query.Text);
                    }

                    foreach (var image in found)
                    {
                        if (rows is not null)
                        {
                            rows.Add(image);
                        }
                        else
                        {
                            await stdout!.WriteLineAsync(JsonSerializer.Serialize(image, JsonOptions));
                        }
                    }

                    if (stdout is not null)
                    {
                        await stdout.FlushAsync(cancellationToken);
                    }

                    printed += page.Images.Count;
                    cursor = page.NextCursor;
                }
                while (cursor is not null && printed < wanted);

                if (rows is not null)
                {
                    WriteTable(rows, query);
                }

                if (cursor is not null)
                {
                    await Console.Error.WriteLineAsync($"labellens: showing the first {printed} matches; --limit N shows more.");
                }

                return 0;
            }
            catch (InvalidQueryException ex)
            {
                await Console.Error.WriteLineAsync($"labellens: {ex.Message}");
                return Commands.ExitFatal;
            }
        });
        return command;
    }

    public static Command Status()
    {
        var format = new Option<StatusFormat>("--format", "-f") { Description = "text or json.", DefaultValueFactory = _ => StatusFormat.Text };
        var command = new Command("status", "Images by status, labeling jobs by state, and the queue depth.") { format, DataOption };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (OpenCatalog(parse) is not { } catalog)
            {
                return Commands.ExitFatal;
            }

            var images = await catalog.GetImageCountsAsync(cancellationToken);
            var jobs = await catalog.GetQueueCountsAsync(cancellationToken);
            if (parse.GetValue(format) == StatusFormat.Json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new CatalogStatus(catalog.Location, images, jobs), JsonOptions));
                return 0;
            }

            Console.WriteLine($"catalog      {catalog.Location}");
            Console.WriteLine(Invariant($"images       {images.Total} ({images.Labeled} labeled, {images.Queued} queued, {images.Labeling} labeling, {images.Failed} failed)"));
            Console.WriteLine(Invariant($"jobs         {jobs.Queued} queued, {jobs.Running} running, {jobs.Done} done, {jobs.Failed} failed, {jobs.Superseded} superseded"));
            Console.WriteLine(Invariant($"queue depth  {jobs.Depth}"));
            return 0;
        });
        return command;
    }

    public static Command Export()
    {
        var format = new Option<ExportFormat>("--format", "-f")
        {
            Description = "jsonl (one {image, labels} object per image) or csv (one row per label; an image without labels gets one row).",
            DefaultValueFactory = _ => ExportFormat.Jsonl,
        };
        var command = new Command("export", "Every image with its labels to stdout, newest first, read page by page.") { format, DataOption };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (OpenCatalog(parse) is not { } catalog)
            {
                return Commands.ExitFatal;
            }

            var csv = parse.GetValue(format) == ExportFormat.Csv;
            using var stdout = StandardOutput();
            if (csv)
            {
                await stdout.WriteLineAsync("bucket,key,id,status,width,height,format,model_version,label,confidence,instances,parents,categories,source");
            }

            string? cursor = null;
            do
            {
                // One page in memory at a time; the cursor makes the walk immune to uploads arriving meanwhile.
                var page = await catalog.SearchAsync(new ImageQuery { Limit = PageSize, Cursor = cursor }, cancellationToken);
                var responses = csv ? null : await ImageViews.AttachFacesAsync(catalog, await ImageViews.AttachTextAsync(catalog, await ImageViews.AttachAsync(catalog, page.Images.Select(ImageResponse.From).ToList(), null, cancellationToken), cancellationToken), cancellationToken);
                for (var i = 0; i < page.Images.Count; i++)
                {
                    if (csv)
                    {
                        WriteCsv(stdout, page.Images[i]);
                    }
                    else
                    {
                        await stdout.WriteLineAsync(JsonSerializer.Serialize(responses![i], JsonOptions));
                    }
                }

                await stdout.FlushAsync(cancellationToken);
                cursor = page.NextCursor;
            }
            while (cursor is not null);

            return 0;
        });
        return command;
    }

    /// <summary>
    /// The data folder as <c>serve</c> finds it (the same configuration sources): --data, LABELLENS_DATA,
    /// LABELLENS_Server__DataFolder, labellens.json, appsettings.json; ./data by default.
    /// </summary>
    internal static string DataFolder(string? option)
    {
        var overrides = new Dictionary<string, string?>();
        if (!string.IsNullOrEmpty(option))
        {
            overrides["Server:DataFolder"] = option;
        }

        var configuration = new ConfigurationBuilder().AddLabelLensSources(overrides).Build();
        return Path.GetFullPath(configuration["Server:DataFolder"] is { Length: > 0 } configured ? configured : "data");
    }

    /// <summary>`labellens catalog migrate --to postgresql://...`: the data folder's SQLite catalog into an empty PostgreSQL catalog.</summary>
    public static Command CatalogGroup()
    {
        var to = new Option<string>("--to") { Description = "The PostgreSQL catalog to fill: postgresql://USER[:PASSWORD]@HOST:PORT/DB (it must hold no images yet).", Required = true };
        var migrate = new Command("migrate", "Copy the embedded SQLite catalog (every image, label, manual edit, job, event and video result) into PostgreSQL.") { to, DataOption };
        migrate.SetAction(async (parse, cancellationToken) =>
        {
            var folder = DataFolder(parse.GetValue(DataOption));
            try
            {
                await using var target = new PostgresCatalog(parse.GetValue(to)!, TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
                var started = System.Diagnostics.Stopwatch.StartNew();
                var copied = await CatalogMigration.CopyAsync(folder, target, cancellationToken, new Progress<(string Table, long Rows)>(t => Console.Error.WriteLine($"  {t.Table,-18} {t.Rows,10:N0} rows")));
                Console.WriteLine($"Copied {copied.Sum(c => c.Rows):N0} rows of {copied.Count} tables from {Path.Combine(folder, "catalog.db")} to {target.Location} in {started.Elapsed.TotalSeconds:0.0} s.");
                Console.WriteLine($"Serve from it with: LABELLENS_CATALOG='{parse.GetValue(to)}' labellens serve --data {folder}");
                return 0;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or Npgsql.NpgsqlException or SqliteException or IOException)
            {
                await Console.Error.WriteLineAsync($"labellens: cannot migrate: {ex.Message}");
                return Commands.ExitFatal;
            }
        });
        return new Command("catalog", "Catalog administration.") { migrate };
    }

    /// <summary>
    /// The configured catalog: PostgreSQL when LABELLENS_CATALOG (Catalog:ConnectionString) names one, else the data
    /// folder's SQLite file; null (with the reason on stderr) when there is none: reading must not create one.
    /// </summary>
    private static ICatalog? OpenCatalog(ParseResult parse)
    {
        var folder = DataFolder(parse.GetValue(DataOption));
        var options = new ConfigurationBuilder().AddLabelLensSources(new Dictionary<string, string?>()).Build().GetSection(CatalogOptions.Section).Get<CatalogOptions>() ?? new CatalogOptions();
        if (options.IsPostgres)
        {
            try
            {
                return new PostgresCatalog(options.ConnectionString ?? "", TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or Npgsql.NpgsqlException)
            {
                Console.Error.WriteLine($"labellens: cannot open the PostgreSQL catalog: {ex.Message}");
                return null;
            }
        }

        var path = Path.Combine(folder, "catalog.db");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"labellens: no catalog at {path}; point --data (or LABELLENS_DATA) at the data folder of `labellens serve`, or LABELLENS_CATALOG at its PostgreSQL catalog.");
            return null;
        }

        try
        {
            return new SqliteCatalog(folder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
        }
        catch (Exception ex) when (ex is InvalidOperationException or SqliteException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"labellens: cannot open the catalog {path}: {ex.Message}");
            return null;
        }
    }

    private static LabelCount ParseCount(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon >= 1 && int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var minimum)
            ? new LabelCount(value[..colon], minimum)
            : throw new InvalidQueryException("InvalidCount", $"--count is LABEL:N, e.g. --count Person:2 (got '{value}').");
    }

    private static StreamWriter StandardOutput() => new(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false };

    private static void WriteTable(List<ImageResponse> images, ImageQuery query)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 4096;
        }

        if (images.Count == 0)
        {
            console.WriteLine("No image matches.");
            return;
        }

        // The labels searched for come first, then the image's most confident others.
        var asked = query.Labels.Concat(query.AnyLabels).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var table = new Table().AddColumns("Image", "Status", "Labels");
        foreach (var response in images)
        {
            var (image, labels) = (response.Image, response.Labels);
            var shown = labels.OrderByDescending(l => asked.Contains(l.Name)).Take(TopLabels).Select(l => Invariant($"{l.Name} {l.Confidence:0.0}"));
            var more = labels.Count > TopLabels ? $" (+{labels.Count - TopLabels})" : "";
            var text = string.Join(", ", shown) + more;
            // A text search's hit: the lines read in it.
            if (response.Text is { Count: > 0 } lines)
            {
                // A video's occurrences say when.
                text += "\n" + string.Join(" / ", lines.Take(TopLabels).Select(l => l.StartTimestampMillis is { } start
                    ? $"\"{l.Text}\" {Clock(start)}-{Clock(l.EndTimestampMillis ?? start)}"
                    : $"\"{l.Text}\""));
            }

            // A video found by label: where in it (the first few segments of the searched labels).
            if (response.Video is { } video && asked.Count > 0 && video.Segments.Count > 0)
            {
                var segments = video.Segments.Take(TopLabels).Select(s => $"{s.Name} {Clock(s.StartTimestampMillis)}-{Clock(s.EndTimestampMillis)}");
                text += "\n" + string.Join(", ", segments) + (video.Segments.Count > TopLabels ? $" (+{video.Segments.Count - TopLabels} segments)" : "");
            }

            table.AddRow(Markup.Escape($"{image.Bucket}/{image.Key}"), Markup.Escape(image.Status), Markup.Escape(text));
        }

        console.Write(table);
        console.WriteLine(images.Count == 1 ? "1 image" : $"{images.Count} images");
    }

    private static void WriteCsv(StreamWriter writer, ImageDetails details)
    {
        var image = details.Image;
        var head = string.Join(
            ',',
            Csv(image.Bucket),
            Csv(image.Key),
            image.Id,
            image.Status,
            Invariant($"{image.Width}"),
            Invariant($"{image.Height}"),
            Csv(image.Format ?? ""),
            Csv(image.ModelVersion ?? ""));
        if (details.Labels.Count == 0)
        {
            writer.WriteLine($"{head},,,,,,");
            return;
        }

        foreach (var label in details.Labels)
        {
            writer.WriteLine(string.Join(
                ',',
                head,
                Csv(label.Name),
                label.Confidence.ToString("0.###", CultureInfo.InvariantCulture),
                label.Instances.Count.ToString(CultureInfo.InvariantCulture),
                Csv(string.Join('|', label.Parents.Select(p => p.Name))),
                Csv(string.Join('|', label.Categories.Select(c => c.Name))),
                label.Source));
        }
    }

    /// <summary>RFC 4180 quoting; a leading formula character is neutralised so spreadsheets do not execute it (as `label --format csv`).</summary>
    private static string Csv(string value) => LabelOutput.Csv(value);

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A video time as m:ss.f (h:mm:ss.f past an hour).</summary>
    private static string Clock(long millis)
    {
        var time = TimeSpan.FromMilliseconds(millis);
        return time.TotalHours >= 1
            ? Invariant($"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}.{time.Milliseconds / 100}")
            : Invariant($"{time.Minutes}:{time.Seconds:00}.{time.Milliseconds / 100}");
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ImageResponse))]
[JsonSerializable(typeof(CatalogStatus))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
