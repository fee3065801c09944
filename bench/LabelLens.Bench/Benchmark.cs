using System.Diagnostics;
using System.Runtime.InteropServices;
using LabelLens.Analysis;
using LabelLens.Cli;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Bench;

/// <param name="Tasks">The analyses the labeler runs (`label`'s default: objects and classes).</param>
/// <param name="Rounds">Rounds of limit then end-to-end per photo size, alternating; the ratio uses their means.</param>
public sealed record BenchSettings(string ModelsFolder, string ImagesFolder, int Count, IReadOnlyList<double> Megapixels, IReadOnlyList<AnalysisTask> Tasks, int Rounds);

/// <summary>Everything one run measured; written as-is to the --out JSON.</summary>
/// <param name="Analyses">The analyses the labeler runs, in its order (objects, then classes).</param>
/// <param name="LabelWorkers">Workers of the end-to-end `label` run (its default, cores + 1); every other measurement uses one thread per core.</param>
/// <param name="Inference">
/// Each model's inference alone, concurrent single-threaded runs against one run at a time multi-threaded, measured
/// back to back once (the model input does not depend on the photo), in the analyses' order. The limits use the
/// concurrent runs measured in each round.
/// </param>
public sealed record BenchReport(
    string Date, MachineInfo Machine, IReadOnlyList<AnalysisInfo> Analyses, int LabelWorkers, IReadOnlyList<InferenceResult> Inference, IReadOnlyList<SizeResult> Sizes);

public sealed record MachineInfo(int ProcessorCount, string Cpu, string Os, string Runtime, string Libvips, string OnnxRuntime);

/// <summary>One analysis of the pipeline: its task ("objects"), model ("yolox-nano"), version and model input size.</summary>
public sealed record AnalysisInfo(string Task, string Model, string Version, int InputWidth, int InputHeight);

/// <summary>
/// Images per second; the share of the machine's cores this process kept busy meanwhile (CPU time over wall
/// time x cores), where well under 100% in a parallel measurement means idle workers; and the share other
/// processes (or the hypervisor, as steal) took, from /proc/stat (null elsewhere): above a few percent, the
/// machine was not quiet and the figure is not trustworthy.
/// </summary>
public sealed record Rate(double ImagesPerSecond, double CpuBusy, double? OthersBusy);

/// <summary>One model alone on an input-sized tensor (<see cref="IPictureAnalysis.RunInferenceOnly"/>): independent of the photo size, so measured once.</summary>
public sealed record InferenceResult(string Model, int Runs, Rate ConcurrentSingleThreaded, Rate OneRunMultiThreaded);

public sealed record Stat(double MeanMs, double P50Ms, double P95Ms);

/// <summary>One analysis's own stages (<see cref="AnalysisTiming"/>): its resize/crop and tensor fill, the model, the decoding of its output into labels.</summary>
public sealed record AnalysisStages(string Task, string Model, Stat Prepare, Stat Inference, Stat Postprocess, Stat Total);

/// <summary>Per-image stage times of the pipeline with IMAGE_PROPERTIES.</summary>
/// <param name="Decode">The one decode, at the working size every analysis takes its input from.</param>
/// <param name="Properties">Image properties (quality, dominant colours, foreground/background, per-instance colours).</param>
/// <param name="Total">The whole <see cref="ImageLabeler.Label(byte[], LabelRequest, CancellationToken)"/> call, wall time (includes merging the labels).</param>
/// <param name="OutsideLimit">
/// Mean ms per image of the work the limit does not count: every analysis's prepare and postprocess, the
/// properties, and whatever else the call did (merging).
/// </param>
public sealed record StageStats(Stat Decode, IReadOnlyList<AnalysisStages> Analyses, Stat Properties, Stat Total, double OutsideLimit);

/// <summary>One model's inference-only throughput on all cores (one single-threaded run per core).</summary>
public sealed record ModelRate(string Model, Rate Rate);

/// <summary>
/// What the cores could do if they only decoded and ran the models: the one decode (at the working size) on one
/// thread per core, each model's inference alone with one single-threaded run per core, and
/// ImagesPerSecond = 1 / (1/decode + Σ 1/inference).
/// </summary>
public sealed record LimitResult(Rate Decode, IReadOnlyList<ModelRate> Inference, double ImagesPerSecond);

/// <summary>One round at one photo size: the limit, then end-to-end `label` right after it.</summary>
public sealed record RoundResult(LimitResult Limit, Rate EndToEnd)
{
    public double EndToEndOfLimit => EndToEnd.ImagesPerSecond / Limit.ImagesPerSecond;

    /// <summary>Every measurement of the round had other processes at or under <see cref="Quiet.NoisyMachine"/> (after its retries).</summary>
    public bool Clean => Limit.Inference.Select(i => i.Rate).Append(Limit.Decode).Append(EndToEnd).All(r => (r.OthersBusy ?? 0) <= Quiet.NoisyMachine);
}

/// <summary>Results for one photo size.</summary>
/// <param name="WorkingWidth">The size the one decode produces (the smallest every analysis can take its input from).</param>
/// <param name="Rounds">
/// Limit then end-to-end, alternating. <see cref="EndToEndOfLimit"/> is the ratio of their means over the clean rounds
/// (every measurement of the round undisturbed); over all rounds when none was clean (the report then warns).
/// </param>
public sealed record SizeResult(
    double Megapixels,
    int Width,
    int Height,
    int WorkingWidth,
    int WorkingHeight,
    int Images,
    long MeanJpegBytes,
    StageStats Stages,
    Rate SingleThreadedLabel,
    IReadOnlyList<RoundResult> Rounds)
{
    /// <summary>The rounds the means use: the clean ones, or all of them when none was clean.</summary>
    public IReadOnlyList<RoundResult> CountedRounds => Rounds.Any(r => r.Clean) ? Rounds.Where(r => r.Clean).ToList() : Rounds;

    public double LimitPerSecond => CountedRounds.Average(r => r.Limit.ImagesPerSecond);

    public double EndToEndPerSecond => CountedRounds.Average(r => r.EndToEnd.ImagesPerSecond);

    public double EndToEndOfLimit => EndToEndPerSecond / LimitPerSecond;
}

/// <summary>A model of one analysis, found in the models folder.</summary>
public sealed record AnalysisModel(AnalysisTask Task, LocalModel Model);

/// <summary>
/// Measures where labeling time goes and how close `labellens label` gets to what the hardware allows.
/// The decode and inference limits use one thread per core, each handling one image at a time single-threaded:
/// what those cores could do if they only decoded and ran the models. The end-to-end run is `label` with its
/// default worker count (cores + 1), each worker also single-threaded, with every analysis and IMAGE_PROPERTIES.
/// </summary>
public sealed class Benchmark : IDisposable
{
    /// <summary>Images each thread handles before a measurement starts: JIT, ONNX Runtime and libvips warm-up.</summary>
    private const int WarmupPerThread = 3;

    /// <summary>
    /// Decode-only and inference-only items take a few milliseconds, so those measurements go over the images
    /// this many times, to last seconds rather than a blink.
    /// </summary>
    public const int CheapMeasurementPasses = 4;

    /// <summary>End-to-end `label` should reach this share of the limit (the requirement).</summary>
    public const double Target = 0.90;

    /// <summary>What the end-to-end and stage measurements ask for: labels and image properties, as `serve` labels by default.</summary>
    public static LabelRequest Request { get; } = LabelRequest.Default with { ImageProperties = true };

    private readonly BenchSettings _settings;
    private readonly TextWriter _log;
    private readonly int _cores = Environment.ProcessorCount;

    /// <summary>`label`'s default worker count (cores + 1), used for the end-to-end run.</summary>
    public static int LabelWorkers => Environment.ProcessorCount + 1;
    private readonly VipsImageDecoder _decoder = new(Options.Create(new ImageOptions()));
    private readonly IReadOnlyList<AnalysisModel> _models;
    private readonly ImageLabeler _labeler;

    public Benchmark(BenchSettings settings, TextWriter log)
    {
        _settings = settings;
        _log = log;
        _models = FindModels(settings.ModelsFolder, settings.Tasks);
        // The configuration `label` runs with: one thread per inference, one inference per worker.
        _labeler = NewLabeler(_models, _decoder);
    }

    /// <summary>The default model of each task (yolox-nano for objects, mobilenetv2-int8 for classes) in a models folder.</summary>
    public static IReadOnlyList<AnalysisModel> FindModels(string modelsFolder, IReadOnlyList<AnalysisTask> tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return tasks.Select(task =>
        {
            // LABELLENS_Analysis__Models__<task> picks another catalog model (ultraface-640 for the faces figures).
            var entry = ModelCatalog.Find(Environment.GetEnvironmentVariable($"LABELLENS_Analysis__Models__{task.Name()}") is { Length: > 0 } named ? named : ModelCatalog.DefaultFor(task))!;
            var path = Path.Combine(modelsFolder, entry.Folder ?? entry.Name, entry.FileName);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"No model at {path}; pass --models or set LABELLENS_MODELS.", path);
            }

            return new AnalysisModel(task, new LocalModel(entry.Name, path, ModelStore.ReadClasses(entry.Name, path)));
        }).ToList();
    }

    /// <summary>The analysis of one model, as its module loads it, with <paramref name="intraOpThreads"/> threads per inference.</summary>
    public static IPictureAnalysis NewAnalysis(AnalysisModel model, int intraOpThreads)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = new DetectorOptions { IntraOpThreads = intraOpThreads };
        return model.Task switch
        {
            AnalysisTask.Objects => new YoloxDetector(model.Model, options, TimeProvider.System, NullLogger<YoloxDetector>.Instance),
            AnalysisTask.Classes => new ImageNetClassifier(model.Model, options, TimeProvider.System, NullLogger<ImageNetClassifier>.Instance),
            AnalysisTask.Text => new LabelLens.Vision.Ocr.PaddleTextReader(model.Model, new LabelLens.Vision.Ocr.TextOptions(), options, TimeProvider.System, NullLogger<LabelLens.Vision.Ocr.PaddleTextReader>.Instance),
            AnalysisTask.Faces => new LabelLens.Vision.Faces.UltraFaceDetector(model.Model, new LabelLens.Vision.Faces.FaceOptions(), options, TimeProvider.System, NullLogger<LabelLens.Vision.Faces.UltraFaceDetector>.Instance),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model.Task, "no analysis for this task"),
        };
    }

    /// <summary>The labeler `label` builds: every analysis with one intra-op thread per inference, the built-in taxonomy.</summary>
    public static ImageLabeler NewLabeler(IReadOnlyList<AnalysisModel> models, VipsImageDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(models);
        var analyses = new List<IPictureAnalysis>();
        try
        {
            foreach (var model in models)
            {
                analyses.Add(NewAnalysis(model, intraOpThreads: 1));
            }

            return new ImageLabeler(analyses, decoder, new LabelBuilder(LabelTaxonomy.BuiltIn));
        }
        catch
        {
            analyses.ForEach(a => a.Dispose());
            throw;
        }
    }

    /// <summary>
    /// With every core busy, an image costs cores/decodeRate core-seconds to decode plus cores/inferenceRate for
    /// each model; the cores then finish 1 / (1/decodeRate + Σ 1/inferenceRate) images per second.
    /// </summary>
    public static double Limit(double decodePerSecond, IEnumerable<double> inferencePerSecond) =>
        1 / ((1 / decodePerSecond) + inferencePerSecond.Sum(rate => 1 / rate));

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

            var inference = new List<InferenceResult>();
            foreach (var analysis in _labeler.Analyses)
            {
                inference.Add(await MeasureInferenceAsync(analysis, cancellationToken));
            }

            var sizes = new List<SizeResult>();
            foreach (var workload in workloads)
            {
                sizes.Add(await MeasureSizeAsync(workload, cancellationToken));
            }

            return new BenchReport(DateTime.Now.ToString("yyyy-MM-dd"), DescribeMachine(), Describe(_labeler), LabelWorkers, inference, sizes);
        }
        finally
        {
            workFolder.Delete(recursive: true);
        }
    }

    public void Dispose() => _labeler.Dispose();

    /// <summary>Task, model, version and input size of each analysis of a labeler.</summary>
    public static IReadOnlyList<AnalysisInfo> Describe(ImageLabeler labeler)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        return labeler.Analyses.Select(a =>
        {
            var (width, height) = a switch
            {
                YoloxDetector d => (d.InputWidth, d.InputHeight),
                ImageNetClassifier c => (c.InputWidth, c.InputHeight),
                LabelLens.Vision.Faces.UltraFaceDetector f => (f.InputWidth, f.InputHeight),
                _ => (0, 0),
            };
            return new AnalysisInfo(a.Task.Name(), a.Model.Name, a.Model.Version, width, height);
        }).ToList();
    }

    /// <summary>
    /// One model alone, for the comparison: <see cref="CheapMeasurementPasses"/> x count runs of
    /// <see cref="IPictureAnalysis.RunInferenceOnly"/>, cores concurrent single-threaded runs on the shared session;
    /// then one run at a time with cores intra-op threads (a second session).
    /// </summary>
    private async Task<InferenceResult> MeasureInferenceAsync(IPictureAnalysis analysis, CancellationToken cancellationToken)
    {
        var runs = _settings.Count * CheapMeasurementPasses;
        var name = analysis.Model.Name;
        _log.WriteLine($"{name} inference only: {runs} runs, {_cores} concurrent x 1 thread, then 1 at a time x {_cores} threads");
        var concurrent = await MeasureInferenceOnlyAsync(analysis, runs, _log, cancellationToken);
        using var wide = NewAnalysis(_models.Single(m => m.Task == analysis.Task), intraOpThreads: _cores);
        var oneAtATime = await WhenQuietAsync(
            $"{name} inference only, multi-threaded", () => Task.FromResult(Throughput(1, runs, _ => wide.RunInferenceOnly())), _log, cancellationToken);
        return new InferenceResult(name, runs, concurrent, oneAtATime);
    }

    /// <summary>A model's inference-only throughput on all cores: one single-threaded run per core at a time, on the shared session.</summary>
    public static Task<Rate> MeasureInferenceOnlyAsync(IPictureAnalysis analysis, int runs, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        return WhenQuietAsync(
            $"{analysis.Model.Name} inference only",
            () => Task.FromResult(Throughput(Environment.ProcessorCount, runs, _ => analysis.RunInferenceOnly())),
            log,
            cancellationToken);
    }

    /// <summary>
    /// The limit: decode only, then each model's inference only, <paramref name="runs"/> items each, every
    /// measurement repeated while other processes disturbed it.
    /// </summary>
    public static async Task<LimitResult> MeasureLimitAsync(
        VipsImageDecoder decoder, ImageLabeler labeler, IReadOnlyList<byte[]> photos, int runs, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        var decode = await MeasureDecodeOnlyAsync(decoder, labeler, photos, runs, log, cancellationToken);
        var inference = new List<ModelRate>();
        foreach (var analysis in labeler.Analyses)
        {
            inference.Add(new ModelRate(analysis.Model.Name, await MeasureInferenceOnlyAsync(analysis, runs, log, cancellationToken)));
        }

        return new LimitResult(decode, inference, Limit(decode.ImagesPerSecond, inference.Select(i => i.Rate.ImagesPerSecond)));
    }

    /// <summary>Decode-only throughput on all cores: the labeler's one decode (at its working size) and nothing else, one image per core at a time.</summary>
    public static Task<Rate> MeasureDecodeOnlyAsync(
        VipsImageDecoder decoder, ImageLabeler labeler, IReadOnlyList<byte[]> photos, int runs, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(photos);
        var needs = labeler.Needs;
        return WhenQuietAsync(
            "decode only",
            () => Task.FromResult(Throughput(Environment.ProcessorCount, runs, i => decoder.Decode(photos[i % photos.Count], needs, out _).Dispose())),
            log,
            cancellationToken);
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

    private async Task<SizeResult> MeasureSizeAsync(Workload workload, CancellationToken cancellationToken)
    {
        var (megapixels, width, height, folder, photos) = workload;
        byte[] Photo(int i) => photos[i % photos.Count];
        int workingWidth, workingHeight;
        using (var picture = _decoder.Decode(photos[0], _labeler.Needs, out _))
        {
            (workingWidth, workingHeight) = (picture.Width, picture.Height);
        }

        _log.WriteLine($"{megapixels:0.#} MP: per-stage timings with IMAGE_PROPERTIES, 1 thread");
        var (stages, singleThreaded) = await Quiet.RetryAsync(
            "stage timings", _ => Task.FromResult(MeasureStages(Photo)), r => r.Rate.OthersBusy, _log, cancellationToken);

        // Limit and end-to-end side by side, in alternating rounds: on a shared VM the cores' speed drifts by several
        // percent within a minute, and alternating exposes both sides of the ratio to the same drift.
        var rounds = new List<RoundResult>();
        for (var round = 1; round <= _settings.Rounds; round++)
        {
            var runs = _settings.Count * CheapMeasurementPasses;
            _log.WriteLine($"{megapixels:0.#} MP, round {round}: decode only (at {workingWidth}x{workingHeight}) and each model's inference only, {runs} runs on {_cores} threads");
            var limit = await MeasureLimitAsync(_decoder, _labeler, photos, runs, _log, cancellationToken);

            _log.WriteLine($"{megapixels:0.#} MP, round {round}: end-to-end `label` with IMAGE_PROPERTIES, {LabelWorkers} workers");
            var warmUp = round == 1;
            var endToEnd = await WhenQuietAsync(
                "end-to-end",
                () => MeasureLabelCommandAsync(_labeler, folder, LabelWorkers, _settings.Count, _decoder.Limits.MaxBytes, cancellationToken, warmUp, Request),
                _log,
                cancellationToken);
            rounds.Add(new RoundResult(limit, endToEnd));
            _log.WriteLine($"  limit {limit.ImagesPerSecond:0.0}, end-to-end {endToEnd.ImagesPerSecond:0.0} images/s: {endToEnd.ImagesPerSecond / limit.ImagesPerSecond:0%}");
        }

        return new SizeResult(
            megapixels, width, height, workingWidth, workingHeight, _settings.Count, (long)photos.Average(p => p.LongLength), stages, singleThreaded, rounds);
    }

    private static Task<Rate> WhenQuietAsync(string name, Func<Task<Rate>> measure, TextWriter log, CancellationToken cancellationToken) =>
        Quiet.RetryAsync(name, _ => measure(), r => r.OthersBusy, log, cancellationToken);

    /// <summary>
    /// The labeler on one image after another on one thread, with IMAGE_PROPERTIES, recording its own stage
    /// timings: the decode, each analysis's prepare/inference/postprocess, the properties, and the whole call.
    /// </summary>
    private (StageStats Stages, Rate Rate) MeasureStages(Func<int, byte[]> photo)
    {
        for (var i = 0; i < WarmupPerThread; i++)
        {
            _labeler.Label(photo(i), Request);
        }

        var results = new List<LabelsResult>(_settings.Count);
        var walls = new List<double>(_settings.Count);
        var meter = new CpuMeter();
        for (var i = 0; i < _settings.Count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            results.Add(_labeler.Label(photo(i), Request));
            walls.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        var rate = meter.Stop(_settings.Count);
        var analyses = _labeler.Analyses.Select(analysis =>
        {
            var timings = results.Select(r => r.Analyses.Single(a => a.Task == analysis.Task).Timing).ToList();
            return new AnalysisStages(
                analysis.Task.Name(),
                analysis.Model.Name,
                Summarise(timings.Select(t => t.PrepareMs)),
                Summarise(timings.Select(t => t.InferenceMs)),
                Summarise(timings.Select(t => t.PostprocessMs)),
                Summarise(timings.Select(t => t.TotalMs)));
        }).ToList();
        var decode = Summarise(results.Select(r => r.Timings.DecodeMs));
        var total = Summarise(walls);
        var inLimit = decode.MeanMs + analyses.Sum(a => a.Inference.MeanMs);
        return (new StageStats(decode, analyses, Summarise(results.Select(r => r.Timings.PropertiesMs)), total, total.MeanMs - inLimit), rate);
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
