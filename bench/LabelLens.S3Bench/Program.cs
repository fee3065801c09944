using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using LabelLens.S3Bench;

// S3 endpoint benchmark: small-object PUT throughput and 100 MiB uploads through the S3 listener of a real
// `labellens serve` (a child process), next to the REST PUT, in the same run. Tables on stdout (Markdown),
// progress on stderr.
var options = BenchOptions.Parse(args);
if (options is null)
{
    return 2;
}

var root = BenchOptions.RepositoryRoot();
var configuration = typeof(BenchOptions).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
var serverDll = Path.Combine(root, "src", "LabelLens", "bin", configuration, "net10.0", "labellens.dll");
var models = options.Models ?? Environment.GetEnvironmentVariable("LABELLENS_MODELS") ?? Path.GetFullPath(Path.Combine(root, "..", "shared", "models"));
if (!File.Exists(serverDll))
{
    Console.Error.WriteLine($"error: {serverDll} is not built (dotnet build -c {configuration} src/LabelLens)");
    return 2;
}

var data = Directory.CreateTempSubdirectory("labellens-s3bench-").FullName;
try
{
    await using var server = await ServeProcess.StartAsync(serverDll, data, models, UploadBenchmark.AccessKey, UploadBenchmark.SecretKey);
    using var bench = new UploadBenchmark(server);
    Console.Error.WriteLine($"serve: REST {server.RestAddress}, S3 {server.S3Address}, data {data}");

    var small = UploadBenchmark.Bodies(options.Objects, options.ObjectBytes);
    var big = UploadBenchmark.Bodies(1, options.BigMiB * 1024 * 1024)[0];
    var partBytes = options.PartMiB * 1024 * 1024;
    var parts = (big.Length + partBytes - 1) / partBytes;

    // Warm-up, untimed: JIT, connection pools, SQLite, the SDK's signer, both listeners.
    Console.Error.WriteLine("warm-up");
    foreach (var bucket in new[] { "warmup-0", "warmup-1", "warmup-2" })
    {
        await bench.CreateBucketAsync(bucket);
    }

    // As many objects as a timed run: the first timed round otherwise still pays for tiered JIT (about 35% slower).
    var warm = UploadBenchmark.Bodies(options.Objects, options.ObjectBytes);
    await bench.S3PutObjectsAsync("warm", "warmup-0", warm, options.Concurrency, chunked: true);
    await bench.S3PutObjectsAsync("warm", "warmup-1", warm, options.Concurrency, chunked: false);
    await bench.RestPutObjectsAsync("warm", "warmup-2", warm, options.Concurrency);
    var warmBig = big.AsSpan(0, Math.Min(big.Length, 2 * partBytes)).ToArray();
    await bench.S3MultipartAsync("warm", "warmup-0", "big.bin", warmBig, partBytes, options.PartsInFlight);
    await bench.S3PutBigAsync("warm", "warmup-1", "big.bin", warmBig);
    await bench.RestPutBigAsync("warm", "warmup-2", "big.bin", warmBig);
    await server.WaitForEmptyQueueAsync();

    var smallNames = new[] { "S3 PutObject, SDK default body (aws-chunked)", "S3 PutObject, UseChunkEncoding=false", "REST PUT" };
    var bigNames = new[] { $"S3 multipart, {parts} parts of {options.PartMiB} MiB, {options.PartsInFlight} in flight", "S3 PutObject, one request", "REST PUT, one request" };
    var results = new Dictionary<string, List<Measurement>>();
    for (var round = 1; round <= options.Rounds; round++)
    {
        // The order turns every round, so no path always runs first (or last) on a freshly drained server.
        for (var turn = 0; turn < smallNames.Length; turn++)
        {
            var which = (turn + round - 1) % smallNames.Length;
            var name = smallNames[which];
            var bucket = $"small-{which}-r{round}";
            await bench.CreateBucketAsync(bucket);
            Console.Error.WriteLine($"round {round}: {name}, {options.Objects} x {options.ObjectBytes / 1024} KiB, {options.Concurrency} clients");
            var measured = which switch
            {
                0 => await bench.S3PutObjectsAsync(name, bucket, small, options.Concurrency, chunked: true),
                1 => await bench.S3PutObjectsAsync(name, bucket, small, options.Concurrency, chunked: false),
                _ => await bench.RestPutObjectsAsync(name, bucket, small, options.Concurrency),
            };
            Record(results, measured);
            await server.WaitForEmptyQueueAsync();
            var listed = await bench.CountObjectsAsync(bucket);
            if (listed != options.Objects)
            {
                throw new InvalidOperationException($"{bucket}: {listed} objects listed, {options.Objects} uploaded");
            }
        }

        for (var turn = 0; turn < bigNames.Length; turn++)
        {
            var which = (turn + round - 1) % bigNames.Length;
            var name = bigNames[which];
            var bucket = $"big-r{round}";
            var key = $"big-{which}.bin";
            await bench.CreateBucketAsync(bucket);
            Console.Error.WriteLine($"round {round}: {name}, {options.BigMiB} MiB");
            var measured = which switch
            {
                0 => await bench.S3MultipartAsync(name, bucket, key, big, partBytes, options.PartsInFlight),
                1 => await bench.S3PutBigAsync(name, bucket, key, big),
                _ => await bench.RestPutBigAsync(name, bucket, key, big),
            };
            Record(results, measured);
            await server.WaitForEmptyQueueAsync();
            await bench.DeleteAsync(bucket, key);
        }
    }

    Report(options, results, smallNames, bigNames);
    return 0;
}
finally
{
    Directory.Delete(data, recursive: true);
}

static void Record(Dictionary<string, List<Measurement>> results, Measurement measured)
{
    if (!results.TryGetValue(measured.Name, out var list))
    {
        results[measured.Name] = list = [];
    }

    list.Add(measured);
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {measured.ObjectsPerSecond:F1} objects/s, {measured.MiBPerSecond:F1} MiB/s, server CPU {measured.ServerCpu.TotalSeconds:F2} s, client CPU {measured.ClientCpu.TotalSeconds:F2} s, others {measured.OthersShare:P0}"));
}

static void Report(BenchOptions options, Dictionary<string, List<Measurement>> results, string[] smallNames, string[] bigNames)
{
    var text = new StringBuilder();
    var inv = CultureInfo.InvariantCulture;
    text.AppendLine(inv, $"Machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; commit {Commit()}.");
    text.AppendLine(inv, $"Each figure is the median of {options.Rounds} rounds (every round in the table's last column).");
    text.AppendLine();
    text.AppendLine(inv, $"Small objects: {options.Objects} PUTs of {options.ObjectBytes / 1024} KiB (random bytes), {options.Concurrency} concurrent clients.");
    text.AppendLine();
    text.AppendLine("| upload path | objects/s | MiB/s | p50 ms | p95 ms | p99 ms | server CPU ms/object | client CPU ms/object | others | objects/s, every round |");
    text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    foreach (var name in smallNames)
    {
        var runs = results[name];
        var median = Median(runs);
        text.AppendLine(inv, $"| {name} | {median.ObjectsPerSecond:F0} | {median.MiBPerSecond:F1} | {median.Percentile(50):F2} | {median.Percentile(95):F2} | {median.Percentile(99):F2} | {median.ServerCpu.TotalMilliseconds / median.Objects:F2} | {median.ClientCpu.TotalMilliseconds / median.Objects:F2} | {median.OthersShare:P0} | {string.Join(", ", runs.Select(r => r.ObjectsPerSecond.ToString("F0", inv)))} |");
    }

    text.AppendLine();
    text.AppendLine(inv, $"One object of {options.BigMiB} MiB (random bytes), one client.");
    text.AppendLine();
    text.AppendLine("| upload path | MiB/s | seconds | of which Complete, s | server CPU s | client CPU s | others | MiB/s, every round |");
    text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
    foreach (var name in bigNames)
    {
        var runs = results[name];
        var median = Median(runs);
        text.AppendLine(inv, $"| {name} | {median.MiBPerSecond:F0} | {median.Elapsed.TotalSeconds:F2} | {(median.Complete is { } complete ? complete.TotalSeconds.ToString("F2", inv) : "")} | {median.ServerCpu.TotalSeconds:F2} | {median.ClientCpu.TotalSeconds:F2} | {median.OthersShare:P0} | {string.Join(", ", runs.Select(r => r.MiBPerSecond.ToString("F0", inv)))} |");
    }

    var disturbed = results.Values.SelectMany(r => r).Where(r => r.OthersShare > 0.05).ToList();
    if (disturbed.Count > 0)
    {
        text.AppendLine();
        text.AppendLine(inv, $"WARNING: other processes took more than 5% of the CPU during {disturbed.Count} of {results.Values.Sum(r => r.Count)} measurements (up to {disturbed.Max(r => r.OthersShare):P0}); run again on a quiet machine.");
    }

    text.AppendLine();
    text.AppendLine("`others` is the share of all cores that processes other than this benchmark and the server used during the measurement (/proc/stat).");
    Console.Write(text.ToString());
}

static Measurement Median(List<Measurement> runs) => runs.OrderBy(r => r.ObjectsPerSecond).ElementAt(runs.Count / 2);

static string Commit()
{
    try
    {
        var start = new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = BenchOptions.RepositoryRoot() };
        using var git = Process.Start(start)!;
        var commit = git.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        return git.ExitCode == 0 ? commit : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}

/// <summary>Command-line options of the S3 benchmark.</summary>
internal sealed record BenchOptions(int Objects, int ObjectBytes, int Concurrency, int BigMiB, int PartMiB, int PartsInFlight, int Rounds, string? Models)
{
    public const string Usage = """
        usage: LabelLens.S3Bench [--objects 500] [--object-kib 16] [--concurrency 4] [--big-mib 100]
                                 [--part-mib 8] [--parts-in-flight 4] [--rounds 5] [--models DIR]
        """;

    public static BenchOptions? Parse(string[] args)
    {
        var options = new BenchOptions(500, 16 * 1024, 4, 100, 8, 4, 5, null);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            int Number() => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"{args[i]} needs a positive whole number");
            try
            {
                options = args[i] switch
                {
                    "--objects" => options with { Objects = Number() },
                    "--object-kib" => options with { ObjectBytes = Number() * 1024 },
                    "--concurrency" => options with { Concurrency = Number() },
                    "--big-mib" => options with { BigMiB = Number() },
                    "--part-mib" => options with { PartMiB = Math.Max(5, Number()) },
                    "--parts-in-flight" => options with { PartsInFlight = Number() },
                    "--rounds" => options with { Rounds = Number() },
                    "--models" => options with { Models = value ?? throw new FormatException("--models needs a folder") },
                    _ => throw new FormatException($"unknown option {args[i]}"),
                };
                i++;
            }
            catch (FormatException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}{Environment.NewLine}{Usage}");
                return null;
            }
        }

        return options;
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LabelLens.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"LabelLens.slnx not found above {AppContext.BaseDirectory}");
    }
}
