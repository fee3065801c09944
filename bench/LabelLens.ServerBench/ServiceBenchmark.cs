using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Bench;
using LabelLens.Labels;
using LabelLens.Vision;
using Microsoft.Extensions.Options;

namespace LabelLens.ServerBench;

public sealed record ServiceBenchSettings(
    string ModelsFolder,
    string ImagesFolder,
    string ServerDll,
    int Count,
    double Megapixels,
    int LatencyRuns,
    int Uploaders,
    int Rounds,
    IReadOnlyDictionary<string, string> ServerSettings);

/// <summary>
/// Everything one run measured; written as-is to the --out JSON. Limits, Offline and Sustained hold one result per
/// round: they alternate (limit, offline, sustained, limit, offline, sustained...) because on a shared VM the cores'
/// speed drifts by up to a quarter within a minute, and alternating exposes all three to the same drift.
/// SustainedOfOffline, OfflineOfLimit and SustainedOfLimit are ratios of the means.
/// </summary>
/// <param name="Analyses">The analyses the offline labeler runs, as the server runs them (Analysis:Tasks).</param>
public sealed record ServiceReport(
    string Date,
    MachineInfo Machine,
    int Width,
    int Height,
    int Images,
    long MeanJpegBytes,
    int LabelWorkers,
    IReadOnlyDictionary<string, string> ServerSettings,
    IReadOnlyList<AnalysisInfo> Analyses,
    IReadOnlyList<LimitResult> Limits,
    IReadOnlyList<Rate> Offline,
    LatencyResult Latency,
    IReadOnlyList<SustainedResult> Sustained,
    UploadPathResult UploadPath)
{
    public double LimitImagesPerSecond => Limits.Average(r => r.ImagesPerSecond);

    public double OfflineImagesPerSecond => Offline.Average(r => r.ImagesPerSecond);

    public double SustainedImagesPerSecond => Sustained.Average(r => r.ImagesPerSecond);

    public double SustainedOfOffline => SustainedImagesPerSecond / OfflineImagesPerSecond;

    public double OfflineOfLimit => OfflineImagesPerSecond / LimitImagesPerSecond;

    public double SustainedOfLimit => SustainedImagesPerSecond / LimitImagesPerSecond;
}


/// <summary>Milliseconds: mean, median, 95th percentile (nearest rank) and maximum.</summary>
public sealed record Millis(double Mean, double P50, double P95, double Max)
{
    public static Millis Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0
            ? new Millis(0, 0, 0, 0)
            : new Millis(sorted.Average(), Percentile(sorted, 0.50), Percentile(sorted, 0.95), sorted[^1]);
    }

    private static double Percentile(double[] sorted, double fraction) => sorted[Math.Max(0, (int)Math.Ceiling(fraction * sorted.Length) - 1)];
}

/// <summary>CPU shares of all the cores during a measurement: the server process, this (client) process, and everything else.</summary>
public sealed record CpuShares(double Server, double Client, double? Others)
{
    public static CpuShares From(CpuReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        return new CpuShares(reading.Watched, reading.Ours - reading.Watched, reading.Others);
    }
}

/// <summary>
/// Sequential uploads to an idle server. UploadToLabeled: PUT start until a GET shows status labeled.
/// Upload: the PUT alone (stored, fsynced, catalogued, queued). ServerLabeling: the image record's labelingMs
/// (decode, model, postprocess). ServerQueuedToLabeled: the record's labeledAt - createdAt (ms resolution):
/// from the upload's catalog write to the worker's result write.
/// </summary>
public sealed record LatencyResult(int Runs, Millis UploadToLabeled, Millis Upload, Millis ServerLabeling, Millis ServerQueuedToLabeled, CpuShares Cpu);

/// <summary>
/// N photos uploaded by a few concurrent uploaders, then waited for until all are labeled.
/// ImagesPerSecond = N / (first upload start to the queue poll that saw all labeled).
/// DuringUploads: from the first upload start to the last PUT's 201; AfterUploads: from then until all are labeled.
/// PeakBacklog: most images queued or being labeled at a queue poll.
/// WorkerJobMs: mean time a worker spent per job (read, label, store: /metrics labellens_labeling_seconds).
/// ServerLabeling: the image records' labelingMs (decode, model, postprocess) under this load.
/// </summary>
public sealed record SustainedResult(
    int Images,
    int Uploaders,
    double Seconds,
    double ImagesPerSecond,
    Millis Upload,
    Phase DuringUploads,
    Phase AfterUploads,
    int PeakBacklog,
    double? WorkerJobMs,
    Millis ServerLabeling,
    CpuShares Cpu);

/// <summary>Part of the sustained run: how long, how many images were labeled in it, and the CPU meanwhile.</summary>
public sealed record Phase(double Seconds, int Labeled, CpuShares Cpu)
{
    public double LabeledPerSecond => Labeled / Seconds;
}

/// <summary>
/// (e) The upload path alone: a server without a model (nothing is labeled), N uploads by the same uploaders.
/// Every upload is stored, fsynced, catalogued and queued as in (d); the CPU it costs is what (d) pays on top of labeling.
/// </summary>
public sealed record UploadPathResult(int Uploads, int Uploaders, double Seconds, double UploadsPerSecond, Millis Upload, CpuShares Cpu)
{
    public double ServerCpuMsPerUpload => Cpu.Server * Environment.ProcessorCount * Seconds * 1000 / Uploads;

    public double ClientCpuMsPerUpload => Cpu.Client * Environment.ProcessorCount * Seconds * 1000 / Uploads;
}

/// <summary>
/// Offline `label` throughput, then the real server as a child process: upload-to-labeled latency when idle
/// and sustained throughput through the HTTP API, on the same photos; then the upload path alone.
/// </summary>
public sealed class ServiceBenchmark(ServiceBenchSettings settings, TextWriter log)
{
    /// <summary>How often the latency measurement polls the image, and the sustained one the queue.</summary>
    private static readonly TimeSpan ImagePoll = TimeSpan.FromMilliseconds(2);

    private static readonly TimeSpan QueuePoll = TimeSpan.FromMilliseconds(20);

    /// <summary>Untimed passes of N uploads before the upload path alone is measured.</summary>
    private const int UploadPathWarmupPasses = 8;

    /// <summary>A photo not labeled within this time means something is broken, not slow.</summary>
    private static readonly TimeSpan GiveUp = TimeSpan.FromMinutes(5);

    public async Task<ServiceReport> RunAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.ServerDll))
        {
            throw new FileNotFoundException(
                $"No server at {settings.ServerDll}; build it (dotnet build -c Release src/LabelLens) or pass --server-dll.", settings.ServerDll);
        }

        var models = Benchmark.FindModels(settings.ModelsFolder, ServerTasks());
        var samples = TestPhotos.Samples(settings.ImagesFolder);
        var (width, height) = TestPhotos.FourByThree(settings.Megapixels);
        var work = Directory.CreateTempSubdirectory("labellens-serverbench-");
        try
        {
            var photoFolder = Path.Combine(work.FullName, "photos");
            await log.WriteLineAsync($"Writing {settings.Count} JPEGs of {width}x{height} to {photoFolder}");
            var photos = TestPhotos.Derive(samples, settings.Megapixels);
            await TestPhotos.WriteCopiesAsync(photos, photoFolder, settings.Count, cancellationToken);

            var limits = new List<LimitResult>();
            var offline = new List<Rate>();
            var sustained = new List<SustainedResult>();
            LatencyResult latency;
            IReadOnlyList<AnalysisInfo> analyses;
            var decoder = new VipsImageDecoder(Options.Create(new ImageOptions()));
            var labeler = Benchmark.NewLabeler(models, decoder);
            try
            {
                await using var server = await StartServerAsync(Path.Combine(work.FullName, "data"), settings.ModelsFolder, withModel: true, cancellationToken);
                using var client = NewClient(server);
                var api = new Api(client);
                // JIT tiers, ONNX Runtime arenas, SQLite pages, HTTP connections: the whole sustained run once, untimed,
                // as the first offline measurement warms up with a whole pass over its folder.
                await MeasureSustainedAsync(api, server, photos, "warmup", cancellationToken);
                latency = await Quiet.RetryAsync(
                    "upload-to-labeled latency", attempt => MeasureLatencyAsync(api, server, photos, attempt, cancellationToken), r => r.Cpu.Others, log, cancellationToken);
                analyses = Benchmark.Describe(labeler);
                for (var round = 1; round <= settings.Rounds; round++)
                {
                    limits.Add(await MeasureLimitAsync(labeler, decoder, photos, round, cancellationToken));
                    offline.Add(await MeasureOfflineAsync(labeler, decoder, photoFolder, round, cancellationToken));
                    var r = round;
                    sustained.Add(await Quiet.RetryAsync(
                        "sustained throughput", attempt => MeasureSustainedAsync(api, server, photos, $"sustained-{r}-{attempt}", cancellationToken), x => x.Cpu.Others, log, cancellationToken));
                }
            }
            finally
            {
                labeler.Dispose();
            }

            UploadPathResult uploadPath;
            var noModels = Directory.CreateDirectory(Path.Combine(work.FullName, "no-models")).FullName;
            await using (var server = await StartServerAsync(Path.Combine(work.FullName, "data-uploads-only"), noModels, withModel: false, cancellationToken))
            using (var client = NewClient(server))
            {
                var api = new Api(client);
                // A fresh process: its upload path is still being JIT-compiled through the tiers for a few hundred uploads
                // (in a profile after one pass, a third of the CPU was the JIT), so it warms up longer than (d)'s server.
                for (var pass = 1; pass <= UploadPathWarmupPasses; pass++)
                {
                    var warmup = await MeasureUploadPathAsync(api, server, photos, $"warmup-{pass}", cancellationToken);
                    await log.WriteLineAsync($"  {warmup.UploadsPerSecond:0} uploads/s, server {warmup.ServerCpuMsPerUpload:0.0} ms CPU per upload");
                }

                uploadPath = await Quiet.RetryAsync(
                    "upload path", attempt => MeasureUploadPathAsync(api, server, photos, $"uploads-{attempt}", cancellationToken), r => r.Cpu.Others, log, cancellationToken);
            }

            return new ServiceReport(
                DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                Benchmark.DescribeMachine(),
                width,
                height,
                settings.Count,
                (long)photos.Average(p => p.LongLength),
                Benchmark.LabelWorkers,
                settings.ServerSettings,
                analyses,
                limits,
                offline,
                latency,
                sustained,
                uploadPath);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static HttpClient NewClient(ServerProcess server) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>The server with the real model, or (for the upload path alone) with an empty models folder and no download: it stores and queues, never labels.</summary>
    private async Task<ServerProcess> StartServerAsync(string dataFolder, string modelsFolder, bool withModel, CancellationToken cancellationToken)
    {
        var serverSettings = new Dictionary<string, string>(settings.ServerSettings, StringComparer.Ordinal);
        if (!withModel)
        {
            serverSettings["Models:AutoDownload"] = "false";
        }

        await log.WriteLineAsync($"Starting dotnet {settings.ServerDll} serve --data {dataFolder} --models {modelsFolder}");
        return await ServerProcess.StartAsync(settings.ServerDll, dataFolder, modelsFolder, serverSettings, withModel, cancellationToken);
    }

    /// <summary>
    /// The analyses the server runs: Analysis:Tasks from --set, else from LABELLENS_Analysis__Tasks (the server
    /// inherits the environment), else the default (objects, classes). The offline labeler runs the same ones.
    /// </summary>
    private IReadOnlyList<AnalysisTask> ServerTasks()
    {
        var tasks = settings.ServerSettings.TryGetValue("Analysis:Tasks", out var set) ? set
            : Environment.GetEnvironmentVariable("LABELLENS_Analysis__Tasks") is { Length: > 0 } env ? env
            : new AnalysisOptions().Tasks;
        return AnalysisTasks.ParseList(tasks);
    }

    /// <summary>(b) The decode-only and inference-only limit, with the server running idle, as LabelLens.Bench measures it.</summary>
    private async Task<LimitResult> MeasureLimitAsync(ImageLabeler labeler, VipsImageDecoder decoder, List<byte[]> photos, int round, CancellationToken cancellationToken)
    {
        var runs = settings.Count * Benchmark.CheapMeasurementPasses;
        await log.WriteLineAsync($"(b) round {round}: decode only and each model's inference only, {runs} runs on {Environment.ProcessorCount} threads");
        return await Benchmark.MeasureLimitAsync(decoder, labeler, photos, runs, log, cancellationToken);
    }

    /// <summary>
    /// (a) `labellens label FOLDER` with its default workers, as LabelLens.Bench measures it (the first round after a
    /// warm-up pass over the folder). The server is running meanwhile, idle. With IMAGE_PROPERTIES, as `serve` labels
    /// by default (Labeling:ImageProperties), and with the same analyses, so (d) / (a) compares the same work.
    /// </summary>
    private async Task<Rate> MeasureOfflineAsync(ImageLabeler labeler, VipsImageDecoder decoder, string photoFolder, int round, CancellationToken cancellationToken)
    {
        await log.WriteLineAsync($"(a) round {round}: offline `label`, {Benchmark.LabelWorkers} workers");
        return await Quiet.RetryAsync(
            "offline label",
            _ => Benchmark.MeasureLabelCommandAsync(labeler, photoFolder, Benchmark.LabelWorkers, settings.Count, decoder.Limits.MaxBytes, cancellationToken, warmUp: round == 1, Benchmark.Request),
            r => r.OthersBusy,
            log,
            cancellationToken);
    }

    /// <summary>(c) One upload at a time, each polled every 2 ms until labeled.</summary>
    private async Task<LatencyResult> MeasureLatencyAsync(Api api, ServerProcess server, List<byte[]> photos, int attempt, CancellationToken cancellationToken)
    {
        await log.WriteLineAsync($"(c) upload-to-labeled latency: {settings.LatencyRuns} sequential uploads, polled every {ImagePoll.TotalMilliseconds:0} ms");
        var total = new List<double>();
        var upload = new List<double>();
        var labeling = new List<double>();
        var queuedToLabeled = new List<double>();
        var meter = new CpuMeter(server.ProcessId);
        for (var i = 0; i < settings.LatencyRuns; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var put = await api.PutAsync("latency", $"run-{attempt}/photo-{i:D4}.jpg", photos[i % photos.Count], cancellationToken);
            upload.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            var image = await api.WaitLabeledAsync(put.ImageId, ImagePoll, cancellationToken);
            total.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            labeling.Add(image.LabelingMs);
            queuedToLabeled.Add(image.QueuedToLabeledMs);
        }

        return new LatencyResult(settings.LatencyRuns, Millis.Of(total), Millis.Of(upload), Millis.Of(labeling), Millis.Of(queuedToLabeled), CpuShares.From(meter.Stop()));
    }

    /// <summary>(d) N uploads from a few concurrent uploaders as fast as the server takes them, then the queue polled until all are labeled.</summary>
    private async Task<SustainedResult> MeasureSustainedAsync(Api api, ServerProcess server, List<byte[]> photos, string bucket, CancellationToken cancellationToken)
    {
        var count = settings.Count;
        await log.WriteLineAsync($"{(bucket == "warmup" ? "Warm-up, untimed" : "(d) sustained")}: {count} uploads by {settings.Uploaders} uploaders to bucket {bucket}, "
            + $"queue polled every {QueuePoll.TotalMilliseconds:0} ms until all are labeled");
        var before = await api.QueueAsync(cancellationToken);
        var metricsBefore = await api.LabelingSecondsAsync(cancellationToken);

        var total = new CpuMeter(server.ProcessId);
        var started = Stopwatch.GetTimestamp();
        var uploads = UploadAllAsync(api, server, photos, bucket, cancellationToken);
        var peakBacklog = 0;
        while (true)
        {
            var queue = await api.QueueAsync(cancellationToken);
            var labeled = queue.Labeled - before.Labeled;
            peakBacklog = Math.Max(peakBacklog, queue.Queued + queue.Labeling);
            if (queue.Failed > before.Failed)
            {
                throw new InvalidOperationException($"{queue.Failed - before.Failed} upload(s) failed labeling.");
            }

            if (uploads.IsFaulted)
            {
                await uploads; // an upload failed: stop now, with its error
            }

            if (labeled >= count && uploads.IsCompleted)
            {
                break;
            }

            if (Stopwatch.GetElapsedTime(started) > GiveUp)
            {
                throw new TimeoutException($"Only {labeled} of {count} labeled after {GiveUp.TotalMinutes:0} minutes.");
            }

            await Task.Delay(QueuePoll, cancellationToken);
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = CpuShares.From(total.Stop());
        var (ids, uploadMs, uploadPhase, afterMeter) = await uploads;
        var afterReading = afterMeter.Stop();
        var afterPhase = new Phase(afterReading.Wall.TotalSeconds, count - (uploadPhase.Labeled - before.Labeled), CpuShares.From(afterReading));
        var metricsAfter = await api.LabelingSecondsAsync(cancellationToken);
        double? workerJobMs = metricsBefore is { } b && metricsAfter is { } a && a.Count > b.Count
            ? (a.Sum - b.Sum) / (a.Count - b.Count) * 1000
            : null;

        // Not timed: what the server recorded for each image.
        var labeling = new List<double>(count);
        foreach (var id in ids)
        {
            labeling.Add((await api.GetImageAsync(id, cancellationToken)).LabelingMs);
        }

        return new SustainedResult(
            count,
            settings.Uploaders,
            seconds,
            count / seconds,
            Millis.Of(uploadMs),
            uploadPhase with { Labeled = uploadPhase.Labeled - before.Labeled },
            afterPhase,
            peakBacklog,
            workerJobMs,
            Millis.Of(labeling),
            cpu);
    }

    /// <summary>(e) N uploads to a server without a model, as in (d): what the upload path alone costs.</summary>
    private async Task<UploadPathResult> MeasureUploadPathAsync(Api api, ServerProcess server, List<byte[]> photos, string bucket, CancellationToken cancellationToken)
    {
        await log.WriteLineAsync($"{(bucket.StartsWith("warmup", StringComparison.Ordinal) ? "Warm-up, untimed" : "(e) upload path alone")}: {settings.Count} uploads by {settings.Uploaders} uploaders, server without a model");
        var (_, uploadMs, phase, _) = await UploadAllAsync(api, server, photos, bucket, cancellationToken);
        return new UploadPathResult(settings.Count, settings.Uploaders, phase.Seconds, settings.Count / phase.Seconds, Millis.Of(uploadMs), phase.Cpu);
    }

    /// <summary>
    /// Uploads the N photos with the configured number of concurrent uploaders. Returns the image ids, each PUT's
    /// time, the upload phase (its Labeled is the catalog's labeled count when the last PUT returned) and a meter
    /// started at that moment.
    /// </summary>
    private async Task<(string[] Ids, double[] UploadMs, Phase Phase, CpuMeter After)> UploadAllAsync(
        Api api, ServerProcess server, List<byte[]> photos, string bucket, CancellationToken cancellationToken)
    {
        var count = settings.Count;
        var ids = new string[count];
        var uploadMs = new double[count];
        var next = -1;
        var meter = new CpuMeter(server.ProcessId);
        await Task.WhenAll(Enumerable.Range(0, settings.Uploaders).Select(_ => Task.Run(
            async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var t = Stopwatch.GetTimestamp();
                    ids[i] = (await api.PutAsync(bucket, $"photo-{i:D4}.jpg", photos[i % photos.Count], cancellationToken)).ImageId;
                    uploadMs[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                }
            },
            cancellationToken)));
        var reading = meter.Stop();
        var after = new CpuMeter(server.ProcessId);
        var labeled = (await api.QueueAsync(cancellationToken)).Labeled;
        return (ids, uploadMs, new Phase(reading.Wall.TotalSeconds, labeled, CpuShares.From(reading)), after);
    }

    private sealed record Uploaded(string ImageId);

    private sealed record ImageState(string Status, double LabelingMs, double QueuedToLabeledMs);

    private sealed record QueueState(int Queued, int Labeling, int Labeled, int Failed);

    /// <summary>The few API calls the benchmark makes, over one HttpClient.</summary>
    private sealed class Api(HttpClient client)
    {
        public async Task<Uploaded> PutAsync(string bucket, string key, byte[] photo, CancellationToken cancellationToken)
        {
            using var body = new ByteArrayContent(photo);
            body.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            using var response = await client.PutAsync(new Uri($"/api/v1/buckets/{bucket}/objects/{key}", UriKind.Relative), body, cancellationToken);
            using var json = await ReadAsync(response, HttpStatusCode.Created, $"PUT {bucket}/{key}", cancellationToken);
            return new Uploaded(json.RootElement.GetProperty("imageId").GetString()!);
        }

        public async Task<ImageState> GetImageAsync(string id, CancellationToken cancellationToken)
        {
            using var response = await client.GetAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative), cancellationToken);
            using var json = await ReadAsync(response, HttpStatusCode.OK, $"GET image {id}", cancellationToken);
            var image = json.RootElement.GetProperty("image");
            var status = image.GetProperty("status").GetString()!;
            if (status == "failed")
            {
                throw new InvalidOperationException($"Image {id} failed: {image.GetProperty("error")}");
            }

            if (status != "labeled")
            {
                return new ImageState(status, 0, 0);
            }

            var queuedToLabeled = image.GetProperty("labeledAt").GetDateTimeOffset() - image.GetProperty("createdAt").GetDateTimeOffset();
            return new ImageState(status, image.GetProperty("labelingMs").GetDouble(), queuedToLabeled.TotalMilliseconds);
        }

        public async Task<ImageState> WaitLabeledAsync(string id, TimeSpan poll, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            while (true)
            {
                var image = await GetImageAsync(id, cancellationToken);
                if (image.Status == "labeled")
                {
                    return image;
                }

                if (Stopwatch.GetElapsedTime(started) > GiveUp)
                {
                    throw new TimeoutException($"Image {id} still {image.Status} after {GiveUp.TotalMinutes:0} minutes.");
                }

                await Task.Delay(poll, cancellationToken);
            }
        }

        public async Task<QueueState> QueueAsync(CancellationToken cancellationToken)
        {
            using var response = await client.GetAsync(new Uri("/api/v1/queue", UriKind.Relative), cancellationToken);
            using var json = await ReadAsync(response, HttpStatusCode.OK, "GET queue", cancellationToken);
            var images = json.RootElement.GetProperty("images");
            return new QueueState(Count(images, "queued"), Count(images, "labeling"), Count(images, "labeled"), Count(images, "failed"));
        }

        /// <summary>Sum (seconds) and count of labellens_labeling_seconds from /metrics, or null when the server does not expose it.</summary>
        public async Task<(double Sum, long Count)?> LabelingSecondsAsync(CancellationToken cancellationToken)
        {
            var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
            double? sum = null;
            long? count = null;
            foreach (var line in text.Split('\n'))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && parts[0] == "labellens_labeling_seconds_sum")
                {
                    sum = double.Parse(parts[1], CultureInfo.InvariantCulture);
                }
                else if (parts.Length == 2 && parts[0] == "labellens_labeling_seconds_count")
                {
                    count = long.Parse(parts[1], CultureInfo.InvariantCulture);
                }
            }

            return sum is { } s && count is { } c ? (s, c) : null;
        }

        private static int Count(JsonElement counts, string name) =>
            counts.TryGetProperty(name, out var value) ? value.GetInt32() : 0;

        private static async Task<JsonDocument> ReadAsync(HttpResponseMessage response, HttpStatusCode expected, string what, CancellationToken cancellationToken)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.StatusCode == expected
                ? JsonDocument.Parse(text)
                : throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {text}");
        }
    }
}
