using System.Diagnostics;
using System.Globalization;
using LabelLens.SearchBench;
using LabelLens.Storage;
using Microsoft.Extensions.Logging.Abstractions;

// Search latency at scale: seeds a catalog with synthetic labeled images, then times each query type through
// SqliteCatalog.SearchAsync (the same call the API and CLI make, labels of the page included).
//   dotnet run -c Release --project bench/LabelLens.SearchBench -- [--images 100000] [--runs 200] [--warmup 20] [--compare] [--plans]
// --only TEXT times only the queries whose name contains TEXT.
// --properties seeds what the default Labeling:ImageProperties stores too: each image's properties and each box's colours.
// --data DIR keeps the catalog in DIR (and reuses it when present) instead of a temporary folder.
// --compare adds the p95 of each query forced down each of the two strategies; --plans prints SQLite's query plans.
// --postgres URL copies the seeded catalog into that (empty, or already filled by an earlier run) PostgreSQL
// database with `catalog migrate`'s code and times the same queries through PostgresCatalog instead.
var images = IntArg("--images", 100_000);
var runs = IntArg("--runs", 200);
var warmup = IntArg("--warmup", 20);
var compare = args.Contains("--compare");
var plans = args.Contains("--plans");

var keep = StringArg("--data");
var folder = keep ?? Directory.CreateTempSubdirectory("labellens-searchbench-").FullName;
try
{
    var reuse = keep is not null && File.Exists(Path.Combine(keep, "catalog.db"));
    var catalog = new SqliteCatalog(folder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
    var seeding = Stopwatch.StartNew();
    var seeded = reuse ? await CatalogSeeder.CountAsync(catalog.DatabasePath) : await CatalogSeeder.SeedAsync(catalog.DatabasePath, images, seed: 42, args.Contains("--properties"));
    images = seeded.Images;
    if (reuse && args.Contains("--properties"))
    {
        Console.WriteLine("--properties applies when seeding; the catalog in --data is used as it is.");
    }

    seeding.Stop();
    var bytes = Directory.EnumerateFiles(folder).Sum(f => new FileInfo(f).Length);
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Catalog: {images:N0} images, {seeded.Labels:N0} labels ({(double)seeded.Labels / images:0.0}/image), {seeded.Instances:N0} instances; seeded in {seeding.Elapsed.TotalSeconds:0.0} s; {bytes / 1048576.0:0} MiB on disk"));
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {runs} timed runs per query after {warmup} warm-up runs; limit 50 unless stated"));
    Console.WriteLine();

    var postgresUrl = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault();
    await using var postgres = postgresUrl is null ? null : new LabelLens.Storage.Postgres.PostgresCatalog(postgresUrl, TimeProvider.System, NullLogger<LabelLens.Storage.Postgres.PostgresCatalog>.Instance);
    if (postgres is not null)
    {
        if ((await postgres.GetImageCountsAsync(CancellationToken.None)) is { Queued: 0, Labeled: 0, Failed: 0 })
        {
            var copying = Stopwatch.StartNew();
            var copied = await LabelLens.Storage.Postgres.CatalogMigration.CopyAsync(folder, postgres, CancellationToken.None);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Copied {copied.Sum(c => c.Rows):N0} rows into {postgres.Location} in {copying.Elapsed.TotalSeconds:0.0} s"));
        }

        Console.WriteLine($"Timing PostgreSQL: {postgres.Location}");
        compare = false;
        plans = false;
    }

    var queries = await BenchQueries.BuildAsync(postgres is null ? catalog : postgres);
    Console.WriteLine(compare
        ? "| Query | Results | p50 ms | p95 ms | max ms | p95 walk-in-order ms | p95 start-from-filter ms |"
        : "| Query | Results | p50 ms | p95 ms | max ms |");
    Console.WriteLine(compare ? "|---|---:|---:|---:|---:|---:|---:|" : "|---|---:|---:|---:|---:|");
    var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
    foreach (var query in queries.Where(q => only is null || q.Name.Contains(only, StringComparison.Ordinal)))
    {
        catalog.SearchDriverThreshold = null;
        if (plans)
        {
            catalog.SearchStatementObserver = QueryPlans.Print(query.Name);
            await query.Run();
            catalog.SearchStatementObserver = null;
        }

        var (count, timings) = await TimeAsync(query.Run, runs, warmup);
        var line = string.Create(CultureInfo.InvariantCulture, $"| {query.Name} | {count} | {Percentile(timings, 50):0.00} | {Percentile(timings, 95):0.00} | {timings.Max():0.00} |");
        if (compare && !query.IsFacet)
        {
            catalog.SearchDriverThreshold = 0;
            var walk = await TimeAsync(query.Run, runs / 4, warmup / 4);
            catalog.SearchDriverThreshold = int.MaxValue;
            var driven = await TimeAsync(query.Run, runs / 4, warmup / 4);
            line += string.Create(CultureInfo.InvariantCulture, $" {Percentile(walk.Timings, 95):0.00} | {Percentile(driven.Timings, 95):0.00} |");
        }
        else if (compare)
        {
            line += " | |";
        }

        Console.WriteLine(line);
    }
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    if (keep is null)
    {
        Directory.Delete(folder, recursive: true);
    }
}

return 0;

static async Task<(int Count, List<double> Timings)> TimeAsync(Func<Task<int>> run, int runs, int warmup)
{
    var count = 0;
    for (var i = 0; i < warmup; i++)
    {
        count = await run();
    }

    var timings = new List<double>(runs);
    for (var i = 0; i < runs; i++)
    {
        var started = Stopwatch.GetTimestamp();
        count = await run();
        timings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    return (count, timings);
}

static double Percentile(List<double> values, double percentile)
{
    var sorted = values.Order().ToList();
    var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
    return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
}

string? StringArg(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? Path.GetFullPath(args[index + 1]) : null;
}

int IntArg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
