using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

// Beyond one process (issue: PostgreSQL catalog and stateless workers), on one machine:
//   dotnet run -c Release --project bench/LabelLens.ClusterBench -- --postgres postgresql://USER@HOST:PORT/postgres [--photos 1500] [--workers 4] [--rounds 3]
// 1. Labeling throughput: an api process takes N uploads (workers stopped), then either one worker process with
//    Queue:Workers=W or two with W/2 each label them; throughput = images / (last labeled_at - labeled_at at the end
//    of the warm-up, the first fifth of the photos).
//    On 2 cores the second process adds no cores: the ratio shows what coordinating through PostgreSQL costs.
// 2. Claim latency: ClaimJobsAsync + CompleteJobAsync on a queue of 5,000 jobs, 1 and 4 concurrent claimers,
//    PostgreSQL against the embedded SQLite catalog.
// --postgres names a server where the user may CREATE DATABASE (each run gets a new database).
#if DEBUG
const string configuration = "Debug";
#else
const string configuration = "Release";
#endif

const double TicksPerSecond = 100; // USER_HZ
var repo = FindRepo();
var dll = Path.Combine(repo, "src", "LabelLens", "bin", configuration, "net10.0", "labellens.dll");
var models = Path.GetFullPath(Path.Combine(repo, "..", "shared", "models"));
var images = Path.GetFullPath(Path.Combine(repo, "..", "shared", "images"));
var server = Arg("--postgres") ?? throw new ArgumentException("--postgres postgresql://USER@HOST:PORT/postgres is required");
var photos = int.Parse(Arg("--photos") ?? "1500", CultureInfo.InvariantCulture);
var workers = int.Parse(Arg("--workers") ?? "4", CultureInfo.InvariantCulture);
var rounds = int.Parse(Arg("--rounds") ?? "3", CultureInfo.InvariantCulture);

Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}; {photos} photos (the shared JPEGs, 0.1-0.5 MP), analyses objects+classes, {workers} labeling threads in all");
var results = new List<(int Processes, Throughput Result)>();
for (var round = 0; round < rounds; round++)
{
    // Alternate which goes first, so drift in the VM's speed does not favour one.
    foreach (var processes in round % 2 == 0 ? new[] { 1, 2 } : [2, 1])
    {
        var result = await ThroughputAsync(processes);
        results.Add((processes, result));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {round + 1}: {processes} worker process(es): {result.ImagesPerSecond:0.0} images/s; workers {result.WorkerCpuMs:0.0} ms CPU per image, everything else (api, PostgreSQL, benchmark, others) {result.OtherCpuMs:0.0} ms; cores busy {result.Busy:P0}"));
    }
}

var one = results.Where(r => r.Processes == 1).Select(r => r.Result).ToList();
var two = results.Where(r => r.Processes == 2).Select(r => r.Result).ToList();
var ratios = Enumerable.Range(0, Math.Min(one.Count, two.Count)).Select(i => two[i].ImagesPerSecond / one[i].ImagesPerSecond).ToList();
Console.WriteLine();
Console.WriteLine("| worker processes | labeling threads | images/s (mean of rounds) | rounds | worker CPU ms/image | other CPU ms/image | vs one process |");
Console.WriteLine("|---:|---:|---:|---|---:|---:|---:|");
foreach (var (count, threads, set) in new[] { (1, $"{workers}", one), (2, $"{workers / 2} + {workers / 2}", two) })
{
    var mean = set.Average(r => r.ImagesPerSecond);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {count} | {threads} | {mean:0.0} | {string.Join(", ", set.Select(r => r.ImagesPerSecond.ToString("0.0", CultureInfo.InvariantCulture)))} | {set.Average(r => r.WorkerCpuMs):0.0} | {set.Average(r => r.OtherCpuMs):0.0} | {mean / one.Average(r => r.ImagesPerSecond):P0} |"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"two / one, round by round: {string.Join(", ", ratios.Select(r => r.ToString("P0", CultureInfo.InvariantCulture)))}; mean {ratios.Average():P1}, min {ratios.Min():P0}, max {ratios.Max():P0}"));
Console.WriteLine();

Console.WriteLine("| queue | claimers | claim+complete p50 ms | p95 ms | jobs/s |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var claimers in new[] { 1, 4 })
{
    var sqliteFolder = Directory.CreateTempSubdirectory("labellens-claimbench-");
    try
    {
        await ClaimLatencyAsync("SQLite", new SqliteCatalog(sqliteFolder.FullName, TimeProvider.System, NullLogger<SqliteCatalog>.Instance), claimers);
    }
    finally
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        sqliteFolder.Delete(recursive: true);
    }

    await using var postgres = new PostgresCatalog(CreateDatabase("claims"), TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
    await ClaimLatencyAsync("PostgreSQL", postgres, claimers);
}

return 0;

async Task<Throughput> ThroughputAsync(int processes)
{
    var url = CreateDatabase("throughput");
    var data = Directory.CreateTempSubdirectory("labellens-clusterbench-");
    var started = new List<Process>();
    try
    {
        var environment = new Dictionary<string, string>
        {
            ["LABELLENS_CATALOG"] = url,
            ["LABELLENS_Analysis__Tasks"] = "objects,classes",
            ["LABELLENS_Queue__Workers"] = (workers / processes).ToString(CultureInfo.InvariantCulture),
            ["LABELLENS_Queue__MaxBacklog"] = "0",
        };
        var apiPort = FreePort();
        started.Add(await StartAsync(["--role", "api", "--port", apiPort.ToString(CultureInfo.InvariantCulture), "--s3-port", "-1", "--data", Path.Combine(data.FullName, "shared")], environment, apiPort));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        var sources = Directory.GetFiles(images, "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        for (var i = 0; i < photos; i++)
        {
            using var body = new ByteArrayContent(sources[i % sources.Length]);
            (await http.PutAsync($"/api/v1/buckets/bench/objects/{i:D5}.jpg", body)).EnsureSuccessStatusCode();
        }

        // The workers share the api's data folder (same machine): the objects are local files.
        for (var p = 0; p < processes; p++)
        {
            var port = FreePort();
            started.Add(await StartAsync(["--role", "worker", "--port", port.ToString(CultureInfo.InvariantCulture), "--data", Path.Combine(data.FullName, "shared")], environment, port));
        }

        // CPU from the first label to the last: the worker processes' own, and everything else on the machine (the
        // api process, PostgreSQL, this benchmark's polling, other processes).
        var workerProcesses = started.Skip(1).ToList();
        await using var catalog = NpgsqlDataSource.Create(PostgresConnectionString.ToNpgsql(url));
        // The first fifth of the photos is warm-up: the workers load their models and the JIT compiles and re-tiers
        // their code while the first jobs run (seconds of CPU per process, paid twice by two processes). The measured
        // window starts at the poll that first sees that many labeled, and ends at the last label.
        var warmUp = photos / 5;
        (long Busy, long Total)? machineAtFirst = null;
        double workerCpuAtFirst = 0;
        long labeledAtFirst = 0;
        long labeledAtMillis = 0;
        while (true)
        {
            await using var command = catalog.CreateCommand("SELECT COUNT(*) FILTER (WHERE status = 'labeled'), MIN(labeled_at), MAX(labeled_at) FROM images");
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            var labeled = reader.GetInt64(0);
            if (machineAtFirst is null && labeled > warmUp)
            {
                machineAtFirst = MachineTicks();
                workerCpuAtFirst = workerProcesses.Sum(ProcessCpuSeconds);
                labeledAtFirst = labeled;
                labeledAtMillis = reader.GetInt64(2);
            }

            if (labeled >= photos)
            {
                var machine = MachineTicks();
                var workerCpu = workerProcesses.Sum(ProcessCpuSeconds) - workerCpuAtFirst;
                var busy = (machine.Busy - machineAtFirst!.Value.Busy) / TicksPerSecond;
                var images = photos - labeledAtFirst;
                return new Throughput(
                    images / ((reader.GetInt64(2) - labeledAtMillis) / 1000.0),
                    workerCpu * 1000 / images,
                    (busy - workerCpu) * 1000 / images,
                    (machine.Busy - machineAtFirst.Value.Busy) / (double)(machine.Total - machineAtFirst.Value.Total));
            }

            await Task.Delay(250);
        }
    }
    finally
    {
        foreach (var process in started)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        data.Delete(recursive: true);
    }
}

async Task ClaimLatencyAsync(string name, ICatalog catalog, int claimers)
{
    const int Jobs = 5_000;
    var queue = new QueueOptions { LeaseSeconds = 600, BatchSize = 1 };
    for (var i = 0; i < Jobs; i++)
    {
        var key = $"claims/{i:D6}.jpg";
        await catalog.RecordUploadAsync(new StoredObject("bench", key, 1, "e", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))), DateTimeOffset.UtcNow), null, CancellationToken.None);
    }

    var result = new LabelLens.Labels.LabelsResult([], "bench:0", new LabelLens.Labels.ImageInfo(1, 1, "jpeg", 1), new LabelLens.Labels.StageTimings(0, 0, 0, 0));
    var timings = new System.Collections.Concurrent.ConcurrentBag<double>();
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, claimers).Select(c => Task.Run(async () =>
    {
        while (true)
        {
            var started = Stopwatch.GetTimestamp();
            var jobs = await catalog.ClaimJobsAsync($"bench:{c}", 1, queue, CancellationToken.None);
            if (jobs.Count == 0)
            {
                return;
            }

            await catalog.CompleteJobAsync(jobs[0], result, 55, CancellationToken.None);
            timings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    })));
    var sorted = timings.Order().ToList();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {claimers} | {sorted[sorted.Count / 2]:0.00} | {sorted[(int)(sorted.Count * 0.95)]:0.00} | {sorted.Count / clock.Elapsed.TotalSeconds:0} |"));
}

async Task<Process> StartAsync(string[] arguments, Dictionary<string, string> environment, int port)
{
    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var argument in new[] { dll, "serve", "--models", models }.Concat(arguments))
    {
        start.ArgumentList.Add(argument);
    }

    foreach (var (key, value) in environment)
    {
        start.Environment[key] = value;
    }

    var process = Process.Start(start)!;
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, _) => { };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    using var http = new HttpClient();
    for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(100))
    {
        try
        {
            if ((await http.GetAsync($"http://127.0.0.1:{port}/readyz")).IsSuccessStatusCode)
            {
                return process;
            }
        }
        catch (HttpRequestException)
        {
            // not listening yet
        }
    }

    throw new InvalidOperationException($"serve {string.Join(' ', arguments)} did not become ready");
}

string CreateDatabase(string prefix)
{
    var name = $"{prefix}_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];
    using var connection = new NpgsqlConnection(PostgresConnectionString.ToNpgsql(server));
    connection.Open();
    using (var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection))
    {
        command.ExecuteNonQuery();
    }

    var builder = new UriBuilder(server) { Path = "/" + name };
    return builder.Uri.ToString();
}

// /proc/stat's first line: busy and total jiffies of all cores (Linux; USER_HZ is 100 on every Linux this runs on).
static (long Busy, long Total) MachineTicks()
{
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
    var idle = fields[3] + fields[4];
    var total = fields.Take(8).Sum();
    return (total - idle, total);
}

static double ProcessCpuSeconds(Process process)
{
    process.Refresh();
    return process.TotalProcessorTime.TotalSeconds;
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

string? Arg(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static string FindRepo()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "LabelLens.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("LabelLens.slnx not found above " + AppContext.BaseDirectory);
}

internal sealed record Throughput(double ImagesPerSecond, double WorkerCpuMs, double OtherCpuMs, double Busy);
