using System.Runtime.InteropServices;
using LabelLens.Cli;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Bench;

public sealed record BenchSettings(string ModelsFolder, string ImagesFolder, int Count, IReadOnlyList<double> Megapixels);

/// <summary>Everything one run measured; written as-is to the --out JSON.</summary>
/// <param name="LabelWorkers">Workers of the end-to-end `label` run (its default, cores + 1); every other measurement uses one thread per core.</param>
public sealed record BenchReport(string Date, MachineInfo Machine, string Model, int InputWidth, int InputHeight, int LabelWorkers, InferenceResult Inference, IReadOnlyList<SizeResult> Sizes);

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

/// <param name="DecodeKeepingPixels">decode+resize when the pixels are kept for image properties (a second run).</param>
/// <param name="Properties">Image properties (quality, dominant colours, foreground/background, per-instance colours) in that run.</param>
public sealed record StageStats(Stat Decode, Stat Tensor, Stat Inference, Stat Postprocess, Stat Total, Stat DecodeKeepingPixels, Stat Properties);

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
/// The decode and inference limits use one thread per core, each handling one image at a time single-threaded:
/// what those cores could do if they only decoded and inferred. The end-to-end run is `label` with its default
/// worker count (cores + 1), each worker also single-threaded.
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

    /// <summary>YOLOX's letterbox grey, as the detector pads (the value does not change the cost).</summary>
    private const double PadValue = 114;

    /// <summary>The score `label` asks the detector for by default (Rekognition's MinConfidence 55).</summary>
    private static readonly float DefaultMinScore = Math.Max(ImageLabeler.ScoreFloor, (float)(LabelRequest.DefaultMinConfidence / 100));

    private readonly BenchSettings _settings;
    private readonly TextWriter _log;
    private readonly int _cores = Environment.ProcessorCount;

    /// <summary>`label`'s default worker count (cores + 1), used for the end-to-end run.</summary>
    public static int LabelWorkers => Environment.ProcessorCount + 1;
    private readonly VipsImageDecoder _decoder = new(Options.Create(new ImageOptions()));
    private readonly LocalModel _model;
    private readonly YoloxDetector _detector;

    public Benchmark(BenchSettings settings, TextWriter log)
    {
        _settings = settings;
        _log = log;
        _model = FindModel(settings.ModelsFolder);
        // The configuration `label` runs with: one thread per inference, one inference per worker.
        _detector = NewDetector(intraOpThreads: 1);
    }

    /// <summary>The default model (yolox-nano) in a models folder.</summary>
    public static LocalModel FindModel(string modelsFolder)
    {
        var entry = ModelCatalog.Find(ModelCatalog.DefaultModel)!;
        var path = Path.Combine(modelsFolder, entry.Name, entry.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No model at {path}; pass --models or set LABELLENS_MODELS.", path);
        }

        return new LocalModel(entry.Name, path, ModelStore.ReadClasses(entry.Name, path));
    }

    /// <summary>The labeler `label` builds: the detector with one intra-op thread per inference, the built-in taxonomy.</summary>
    public static ImageLabeler NewLabeler(LocalModel model, VipsImageDecoder decoder) =>
        new(
            new YoloxDetector(model, decoder, new DetectorOptions { IntraOpThreads = 1 }, TimeProvider.System, NullLogger<YoloxDetector>.Instance),
            new LabelBuilder(LabelTaxonomy.BuiltIn));

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var samples = TestPhotos.Samples(_settings.ImagesFolder);

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
                DateTime.Now.ToString("yyyy-MM-dd"), DescribeMachine(), _model.Name, _detector.InputWidth, _detector.InputHeight, LabelWorkers, inference, sizes);
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
            "inference only", () => Task.FromResult(Throughput(_cores, runs, _ => _detector.RunInferenceOnly(tensor))), cancellationToken);
        using var wide = NewDetector(intraOpThreads: _cores);
        var oneAtATime = await WhenQuietAsync(
            "inference only, multi-threaded", () => Task.FromResult(Throughput(1, runs, _ => wide.RunInferenceOnly(tensor))), cancellationToken);
        return new InferenceResult(runs, concurrent, oneAtATime);
    }

    /// <summary>The sample photos at one size, in memory, and <see cref="BenchSettings.Count"/> files cycling through them.</summary>
    private async Task<Workload> WriteWorkloadAsync(IReadOnlyList<string> samples, double megapixels, string workFolder, CancellationToken cancellationToken)
    {
        var (width, height) = TestPhotos.FourByThree(megapixels);
        var folder = Path.Combine(workFolder, $"{megapixels:0.#}mp");
        _log.WriteLine($"{megapixels:0.#} MP: writing {_settings.Count} JPEGs of {width}x{height} to {folder}");
        var photos = TestPhotos.Derive(samples, megapixels);
        await TestPhotos.WriteCopiesAsync(photos, folder, _settings.Count, cancellationToken);
        return new Workload(megapixels, width, height, folder, photos);
    }

    private async Task<SizeResult> MeasureSizeAsync(Workload workload, InferenceResult inference, CancellationToken cancellationToken)
    {
        var (megapixels, width, height, folder, photos) = workload;
        byte[] Photo(int i) => photos[i % photos.Count];

        _log.WriteLine($"{megapixels:0.#} MP: per-stage timings, 1 thread");
        var (stages, singleThreaded) = await Quiet.RetryAsync(
            "stage timings", _ => Task.FromResult(MeasureStages(Photo)), r => r.Rate.OthersBusy, _log, cancellationToken);

        _log.WriteLine($"{megapixels:0.#} MP: decode+resize only, {_cores} threads");
        var decode = await WhenQuietAsync(
            "decode only",
            () => Task.FromResult(Throughput(_cores, _settings.Count * CheapMeasurementPasses, i => _decoder.DecodeLetterboxed(Photo(i), _detector.InputWidth, _detector.InputHeight, PadValue).Dispose())),
            cancellationToken);

        _log.WriteLine($"{megapixels:0.#} MP: end-to-end `label`, {LabelWorkers} workers");
        var labeler = new ImageLabeler(_detector, new LabelBuilder(LabelTaxonomy.BuiltIn));
        var endToEnd = await WhenQuietAsync(
            "end-to-end", () => MeasureLabelCommandAsync(labeler, folder, LabelWorkers, _settings.Count, _decoder.Limits.MaxBytes, cancellationToken), cancellationToken);

        // With every core busy, an image costs cores/decodeRate core-seconds to decode plus cores/inferenceRate
        // to infer; the cores then finish 1 / (1/decodeRate + 1/inferenceRate) images per second.
        var limit = 1 / ((1 / decode.ImagesPerSecond) + (1 / inference.ConcurrentSingleThreaded.ImagesPerSecond));
        return new SizeResult(
            megapixels, width, height, _settings.Count, (long)photos.Average(p => p.LongLength),
            stages, singleThreaded, decode, limit, endToEnd, endToEnd.ImagesPerSecond / limit);
    }

    private Task<Rate> WhenQuietAsync(string name, Func<Task<Rate>> measure, CancellationToken cancellationToken) =>
        Quiet.RetryAsync(name, _ => measure(), r => r.OthersBusy, _log, cancellationToken);

    /// <summary>Detect one image after another on one thread, recording the detector's own stage timings.</summary>
    private (StageStats Stages, Rate Rate) MeasureStages(Func<int, byte[]> photo)
    {
        for (var i = 0; i < WarmupPerThread; i++)
        {
            _detector.Detect(photo(i), DefaultMinScore);
        }

        var timings = new List<StageTimings>(_settings.Count);
        var meter = new CpuMeter();
        for (var i = 0; i < _settings.Count; i++)
        {
            timings.Add(_detector.Detect(photo(i), DefaultMinScore).Timings);
        }

        var rate = meter.Stop(_settings.Count);

        // The same images with IMAGE_PROPERTIES (serve's default): what keeping the pixels and analysing them adds.
        var labeler = new ImageLabeler(_detector, new LabelBuilder(LabelTaxonomy.BuiltIn));
        var withProperties = LabelRequest.Default with { ImageProperties = true };
        var propertyTimings = new List<StageTimings>(_settings.Count);
        for (var i = 0; i < _settings.Count; i++)
        {
            propertyTimings.Add(labeler.Label(photo(i), withProperties).Timings);
        }

        var stages = new StageStats(
            Summarise(timings.Select(t => t.DecodeMs)),
            Summarise(timings.Select(t => t.TensorMs)),
            Summarise(timings.Select(t => t.InferenceMs)),
            Summarise(timings.Select(t => t.PostprocessMs)),
            Summarise(timings.Select(t => t.TotalMs)),
            Summarise(propertyTimings.Select(t => t.DecodeMs)),
            Summarise(propertyTimings.Select(t => t.PropertiesMs)));
        return (stages, rate);
    }

    /// <summary>
    /// Exactly what `labellens label FOLDER --workers N --no-progress` does, output thrown away after formatting:
    /// a warm-up run over the whole folder (unless <paramref name="warmUp"/> is false), then the timed run over it.
    /// The warm-up pass matters: after a few dozen images the JIT is still moving hot methods up its tiers, and
    /// runs timed after a warm-up of a few images were up to 25% slower (see bench/README.md).
    /// </summary>
    public static async Task<Rate> MeasureLabelCommandAsync(
        ImageLabeler labeler, string folder, int workers, int expected, long maxBytes, CancellationToken cancellationToken, bool warmUp = true, LabelRequest? request = null)
    {
        var command = new LabelCommand(labeler, TimeProvider.System);
        request ??= LabelRequest.Default;
        if (warmUp)
        {
            await LabelAsync(command, [folder], workers, maxBytes, request, cancellationToken);
        }

        var meter = new CpuMeter();
        var summary = await LabelAsync(command, [folder], workers, maxBytes, request, cancellationToken);
        var rate = meter.Stop(summary.Labeled);
        if (summary.Failed > 0 || summary.Labeled != expected)
        {
            throw new InvalidOperationException($"label run failed: {summary.Labeled} labeled, {summary.Failed} failed of {expected}.");
        }

        return rate;
    }

    private static async Task<LabelRunSummary> LabelAsync(LabelCommand command, IReadOnlyList<string> inputs, int workers, long maxBytes, LabelRequest request, CancellationToken cancellationToken)
    {
        var options = new LabelRunOptions(inputs, Recursive: false, OutputFormat.Jsonl, request, workers, maxBytes, ShowProgress: false);
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
        var meter = new CpuMeter();
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

    private static Stat Summarise(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return new Stat(sorted.Average(), Percentile(sorted, 0.50), Percentile(sorted, 0.95));
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Max(0, (int)Math.Ceiling(fraction * sorted.Length) - 1)];

    public static MachineInfo DescribeMachine()
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
}
