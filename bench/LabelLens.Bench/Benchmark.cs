using System.Diagnostics;
using System.Runtime.InteropServices;
using LabelLens.Cli;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Bench;

public sealed record BenchSettings(string ModelsFolder, string ImagesFolder, int Count, IReadOnlyList<double> Megapixels);

/// <summary>Everything one run measured; written as-is to the --out JSON.</summary>
public sealed record BenchReport(string Date, MachineInfo Machine, string Model, int InputWidth, int InputHeight, InferenceResult Inference, IReadOnlyList<SizeResult> Sizes);

public sealed record MachineInfo(int ProcessorCount, string Cpu, string Os, string Runtime, string Libvips, string OnnxRuntime);

/// <summary>
/// Images per second; the share of the machine's cores this process kept busy meanwhile (CPU time over wall
/// time x cores), where well under 100% in a parallel measurement means idle workers; and the share other
/// processes (or the hypervisor, as steal) took, from /proc/stat (null elsewhere): above a few percent, the
/// machine was not quiet and the figure is not trustworthy.
/// </summary>
public sealed record Rate(double ImagesPerSecond, double CpuBusy, double? OthersBusy);

/// <summary>The model alone on a ready tensor: independent of the photo size, so measured once.</summary>
public sealed record InferenceResult(int Runs, Rate ConcurrentSingleThreaded, Rate OneRunMultiThreaded);

public sealed record Stat(double MeanMs, double P50Ms, double P95Ms);

public sealed record StageStats(Stat Decode, Stat Tensor, Stat Inference, Stat Postprocess, Stat Total);

/// <summary>Results for one photo size.</summary>
public sealed record SizeResult(
    double Megapixels,
    int Width,
    int Height,
    int Images,
    long MeanJpegBytes,
    StageStats Stages,
    Rate SingleThreadedDetect,
    Rate Decode,
    double CombinedLimitPerSecond,
    Rate EndToEnd,
    double EndToEndOfLimit);

/// <summary>
/// Measures where labeling time goes and how close `labellens label` gets to what the hardware allows.
/// Every throughput figure uses one thread per core, each handling one image at a time single-threaded,
/// which is how `label` works; the limit is what those cores could do if they only decoded and inferred.
/// </summary>
public sealed class Benchmark : IDisposable
{
    /// <summary>Images each thread handles before a measurement starts: JIT, ONNX Runtime and libvips warm-up.</summary>
    private const int WarmupPerThread = 3;

    /// <summary>
    /// Decode-only and inference-only items take a few milliseconds, so those measurements go over the images
    /// this many times, to last seconds rather than a blink.
    /// </summary>
    private const int CheapMeasurementPasses = 4;

    /// <summary>Other processes taking more than this share of the CPU during a measurement make it suspect.</summary>
    public const double NoisyMachine = 0.05;

    /// <summary>Attempts at a measurement disturbed by other processes, and the pause between them.</summary>
    private const int MaxAttempts = 5;

    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(10);

    /// <summary>YOLOX's letterbox grey, as the detector pads (the value does not change the cost).</summary>
    private const double PadValue = 114;

    /// <summary>The score `label` asks the detector for by default (Rekognition's MinConfidence 55).</summary>
    private static readonly float DefaultMinScore = Math.Max(ImageLabeler.ScoreFloor, (float)(LabelRequest.DefaultMinConfidence / 100));

    private readonly BenchSettings _settings;
    private readonly TextWriter _log;
    private readonly int _cores = Environment.ProcessorCount;
    private readonly VipsImageDecoder _decoder = new(Options.Create(new ImageOptions()));
    private readonly LocalModel _model;
    private readonly YoloxDetector _detector;

    public Benchmark(BenchSettings settings, TextWriter log)
    {
        _settings = settings;
        _log = log;
        var entry = ModelCatalog.Find(ModelCatalog.DefaultModel)!;
        var path = Path.Combine(settings.ModelsFolder, entry.Name, entry.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No model at {path}; pass --models or set LABELLENS_MODELS.", path);
        }

        _model = new LocalModel(entry.Name, path, ModelStore.ReadClasses(entry.Name, path));
        // The configuration `label` runs with: one thread per inference, one inference per core.
        _detector = NewDetector(intraOpThreads: 1);
    }

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var samples = Directory.GetFiles(_settings.ImagesFolder, "*.jpg").Order(StringComparer.Ordinal).ToList();
        if (samples.Count == 0)
        {
            throw new FileNotFoundException($"No .jpg sample photos in {_settings.ImagesFolder}; pass --images.");
        }

        var workFolder = Directory.CreateTempSubdirectory("labellens-bench-");
        try
        {
            // Every photo is written before anything is timed, so that neither the encoding nor the tail of
            // `dotnet run`'s build (busy for a few seconds after it starts the program) overlaps a measurement.
            var workloads = new List<Workload>();
            foreach (var megapixels in _settings.Megapixels)
            {
                workloads.Add(await WriteWorkloadAsync(samples, megapixels, workFolder.FullName, cancellationToken));
            }

            var inference = await MeasureInferenceAsync(File.ReadAllBytes(samples[0]), cancellationToken);
            var sizes = new List<SizeResult>();
            foreach (var workload in workloads)
            {
                sizes.Add(await MeasureSizeAsync(workload, inference, cancellationToken));
            }

            return new BenchReport(
                DateTime.Now.ToString("yyyy-MM-dd"), DescribeMachine(), _model.Name, _detector.InputWidth, _detector.InputHeight, inference, sizes);
        }
        finally
        {
            workFolder.Delete(recursive: true);
        }
    }

    public void Dispose() => _detector.Dispose();

    private YoloxDetector NewDetector(int intraOpThreads) =>
        new(_model, _decoder, new DetectorOptions { IntraOpThreads = intraOpThreads }, TimeProvider.System, NullLogger<YoloxDetector>.Instance);

    private async Task<InferenceResult> MeasureInferenceAsync(byte[] photo, CancellationToken cancellationToken)
    {
        var tensor = ToTensor(photo);
        var runs = _settings.Count * CheapMeasurementPasses;
        _log.WriteLine($"Inference only: {runs} runs, {_cores} concurrent x 1 thread, then 1 at a time x {_cores} threads");
        var concurrent = await WhenQuietAsync(
            "inference only", () => Task.FromResult(Throughput(_cores, runs, _ => _detector.RunInferenceOnly(tensor))), r => r, cancellationToken);
        using var wide = NewDetector(intraOpThreads: _cores);
        var oneAtATime = await WhenQuietAsync(
            "inference only, multi-threaded", () => Task.FromResult(Throughput(1, runs, _ => wide.RunInferenceOnly(tensor))), r => r, cancellationToken);
        return new InferenceResult(runs, concurrent, oneAtATime);
    }

    /// <summary>The sample photos at one size, in memory, and <see cref="BenchSettings.Count"/> files cycling through them.</summary>
    private async Task<Workload> WriteWorkloadAsync(List<string> samples, double megapixels, string workFolder, CancellationToken cancellationToken)
    {
        var (width, height) = FourByThree(megapixels);
        var folder = Directory.CreateDirectory(Path.Combine(workFolder, $"{megapixels:0.#}mp")).FullName;
        _log.WriteLine($"{megapixels:0.#} MP: writing {_settings.Count} JPEGs of {width}x{height} to {folder}");
        var photos = samples.Select(path => EncodeJpeg(path, width, height)).ToList();
        for (var i = 0; i < _settings.Count; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(folder, $"photo-{i:D4}.jpg"), photos[i % photos.Count], cancellationToken);
        }

        return new Workload(megapixels, width, height, folder, photos);
    }

    private async Task<SizeResult> MeasureSizeAsync(Workload workload, InferenceResult inference, CancellationToken cancellationToken)
    {
        var (megapixels, width, height, folder, photos) = workload;
        byte[] Photo(int i) => photos[i % photos.Count];

        _log.WriteLine($"{megapixels:0.#} MP: per-stage timings, 1 thread");
        var (stages, singleThreaded) = await WhenQuietAsync("stage timings", () => Task.FromResult(MeasureStages(Photo)), r => r.Rate, cancellationToken);

        _log.WriteLine($"{megapixels:0.#} MP: decode+resize only, {_cores} threads");
        var decode = await WhenQuietAsync(
            "decode only",
            () => Task.FromResult(Throughput(_cores, _settings.Count * CheapMeasurementPasses, i => _decoder.DecodeLetterboxed(Photo(i), _detector.InputWidth, _detector.InputHeight, PadValue).Dispose())),
            r => r,
            cancellationToken);

        _log.WriteLine($"{megapixels:0.#} MP: end-to-end `label`, {_cores} workers");
        var endToEnd = await WhenQuietAsync("end-to-end", () => MeasureLabelCommandAsync(folder, cancellationToken), r => r, cancellationToken);

        // With every core busy, an image costs cores/decodeRate core-seconds to decode plus cores/inferenceRate
        // to infer; the cores then finish 1 / (1/decodeRate + 1/inferenceRate) images per second.
        var limit = 1 / ((1 / decode.ImagesPerSecond) + (1 / inference.ConcurrentSingleThreaded.ImagesPerSecond));
        return new SizeResult(
            megapixels, width, height, _settings.Count, (long)photos.Average(p => p.LongLength),
            stages, singleThreaded, decode, limit, endToEnd, endToEnd.ImagesPerSecond / limit);
    }

    /// <summary>
    /// Runs a measurement again, after a pause, while other processes took more than <see cref="NoisyMachine"/> of
    /// the CPU during it: on a shared machine a quiet few seconds come far more often than a quiet minute.
    /// The last attempt is kept either way; the report flags it.
    /// </summary>
    private async Task<T> WhenQuietAsync<T>(string name, Func<Task<T>> measure, Func<T, Rate> rateOf, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var result = await measure();
            var others = rateOf(result).OthersBusy ?? 0;
            if (others <= NoisyMachine || attempt == MaxAttempts)
            {
                return result;
            }

            _log.WriteLine($"  other processes took {others:0%} of the CPU during {name}; measuring again in {RetryPause.TotalSeconds:0} s");
            await Task.Delay(RetryPause, cancellationToken);
        }
    }

    /// <summary>Detect one image after another on one thread, recording the detector's own stage timings.</summary>
    private (StageStats Stages, Rate Rate) MeasureStages(Func<int, byte[]> photo)
    {
        for (var i = 0; i < WarmupPerThread; i++)
        {
            _detector.Detect(photo(i), DefaultMinScore);
        }

        var timings = new List<StageTimings>(_settings.Count);
        var meter = new Meter();
        for (var i = 0; i < _settings.Count; i++)
        {
            timings.Add(_detector.Detect(photo(i), DefaultMinScore).Timings);
        }

        var rate = meter.Stop(_settings.Count);
        var stages = new StageStats(
            Summarise(timings.Select(t => t.DecodeMs)),
            Summarise(timings.Select(t => t.TensorMs)),
            Summarise(timings.Select(t => t.InferenceMs)),
            Summarise(timings.Select(t => t.PostprocessMs)),
            Summarise(timings.Select(t => t.TotalMs)));
        return (stages, rate);
    }

    /// <summary>Exactly what `labellens label FOLDER --workers CORES --no-progress` does, output thrown away after formatting.</summary>
    private async Task<Rate> MeasureLabelCommandAsync(string folder, CancellationToken cancellationToken)
    {
        var command = new LabelCommand(new ImageLabeler(_detector, new LabelBuilder(LabelTaxonomy.BuiltIn)), TimeProvider.System);
        var warmupFiles = Directory.GetFiles(folder).Order(StringComparer.Ordinal).Take(_cores * WarmupPerThread).ToList();
        await LabelAsync(command, warmupFiles, cancellationToken);

        var meter = new Meter();
        var summary = await LabelAsync(command, [folder], cancellationToken);
        var rate = meter.Stop(summary.Labeled);
        if (summary.Failed > 0 || summary.Labeled != _settings.Count)
        {
            throw new InvalidOperationException($"label run failed: {summary.Labeled} labeled, {summary.Failed} failed of {_settings.Count}.");
        }

        return rate;
    }

    private async Task<LabelRunSummary> LabelAsync(LabelCommand command, IReadOnlyList<string> inputs, CancellationToken cancellationToken)
    {
        var options = new LabelRunOptions(inputs, Recursive: false, OutputFormat.Jsonl, LabelRequest.Default, _cores, _decoder.Limits.MaxBytes, ShowProgress: false);
        // A StreamWriter like the CLI's, so serialising and encoding the JSON lines is part of the cost.
        await using var stdout = new StreamWriter(Stream.Null);
        return await command.RunAsync(options, stdout, Console.Error, cancellationToken);
    }

    /// <summary>The planar float tensor of a real photo, as Detect would build it.</summary>
    private float[] ToTensor(byte[] photo)
    {
        using var letterboxed = _decoder.DecodeLetterboxed(photo, _detector.InputWidth, _detector.InputHeight, PadValue);
        var tensor = new float[3 * letterboxed.Width * letterboxed.Height];
        VipsImageDecoder.FillPlanarBgr(letterboxed.Pixels.Span, tensor);
        return tensor;
    }

    /// <summary>Warms up, then runs <paramref name="count"/> work items on <paramref name="threads"/> threads.</summary>
    private static Rate Throughput(int threads, int count, Action<int> work)
    {
        RunOnThreads(threads, threads * WarmupPerThread, work);
        var meter = new Meter();
        RunOnThreads(threads, count, work);
        return meter.Stop(count);
    }

    private static void RunOnThreads(int threads, int count, Action<int> work)
    {
        var next = -1;
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                work(index);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
    }

    /// <summary>
    /// A sample photo cropped to 4:3 and scaled (mostly up: the samples are under 1.3 MP) to the test size,
    /// saved at quality 90 with 4:2:0 chroma as cameras do (libvips would keep full chroma from quality 90).
    /// </summary>
    private static byte[] EncodeJpeg(string path, int width, int height)
    {
        using var image = Image.Thumbnail(path, width, height: height, size: Enums.Size.Both, crop: Enums.Interesting.Centre);
        return image.JpegsaveBuffer(q: 90, subsampleMode: Enums.ForeignSubsample.On);
    }

    /// <summary>A 4:3 size of about <paramref name="megapixels"/>, width a multiple of 8: 2 gives 1632x1224, 12 gives 4000x3000.</summary>
    private static (int Width, int Height) FourByThree(double megapixels)
    {
        var width = (int)Math.Round(Math.Sqrt(megapixels * 1e6 * 4 / 3) / 8) * 8;
        return (width, width * 3 / 4);
    }

    private static Stat Summarise(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return new Stat(sorted.Average(), Percentile(sorted, 0.50), Percentile(sorted, 0.95));
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Max(0, (int)Math.Ceiling(fraction * sorted.Length) - 1)];

    private static MachineInfo DescribeMachine()
    {
        const string cpuInfo = "/proc/cpuinfo";
        var cpu = File.Exists(cpuInfo)
            ? File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return new MachineInfo(
            Environment.ProcessorCount,
            cpu ?? RuntimeInformation.ProcessArchitecture.ToString(),
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription,
            $"{NetVips.NetVips.Version(0)}.{NetVips.NetVips.Version(1)}.{NetVips.NetVips.Version(2)}",
            OrtEnv.Instance().GetVersionString());
    }

    private sealed record Workload(double Megapixels, int Width, int Height, string Folder, List<byte[]> Photos);

    /// <summary>Wall time, this process's CPU time and the whole machine's CPU time from creation to <see cref="Stop"/>.</summary>
    private sealed class Meter
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly TimeSpan _cpuAtStart = Environment.CpuUsage.TotalTime;
        private readonly (long Busy, long Total)? _machineAtStart = MachineCpu();

        public Rate Stop(int images)
        {
            var wall = Stopwatch.GetElapsedTime(_started);
            var ours = (Environment.CpuUsage.TotalTime - _cpuAtStart) / (wall * Environment.ProcessorCount);
            double? others = null;
            if (_machineAtStart is { } start && MachineCpu() is { } end && end.Total > start.Total)
            {
                var machine = (end.Busy - start.Busy) / (double)(end.Total - start.Total);
                others = Math.Max(0, machine - ours);
            }

            return new Rate(images / wall.TotalSeconds, ours, others);
        }

        /// <summary>Busy and total time of all cores (in clock ticks) from /proc/stat's first line, where there is one.</summary>
        private static (long Busy, long Total)? MachineCpu()
        {
            const string procStat = "/proc/stat";
            if (!File.Exists(procStat))
            {
                return null;
            }

            // cpu user nice system idle iowait irq softirq steal ...
            var ticks = File.ReadLines(procStat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
            var total = ticks.Sum();
            return (total - ticks[3] - ticks[4], total);
        }
    }
}
