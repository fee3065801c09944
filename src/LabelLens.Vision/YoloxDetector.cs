using System.Buffers;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Vision;

/// <summary>
/// A YOLOX export on ONNX Runtime. One <see cref="InferenceSession"/> per model, shared by every thread
/// (ONNX Runtime sessions are safe for concurrent Run calls). Input size, row count and class count are
/// read from the model, so any YOLOX export (nano to x, 416 or 640, custom classes) works.
/// </summary>
public sealed class YoloxDetector : IPictureAnalysis
{
    /// <summary>YOLOX pads the letterbox with this grey (its training preprocessing).</summary>
    private const double PadValue = 114;

    private readonly InferenceSession _session;
    private readonly DetectorOptions _options;
    private readonly TimeProvider _time;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly YoloxGrid _grid;

    public YoloxDetector(LocalModel model, DetectorOptions options, TimeProvider time, ILogger<YoloxDetector> logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time;

        _session = ModelFiles.OpenSession(model.Path, options.IntraOpThreads);
        try
        {
            var (inputName, height, width) = ModelFiles.ImageInput(_session, model.Path, "a YOLOX export", ModelCatalog.Find(model.Name)?.InputSize ?? 640);
            InputHeight = height;
            InputWidth = width;
            _inputNames = [inputName];
            _inputShape = [1, 3, InputHeight, InputWidth];

            var output = _session.OutputMetadata.First();
            _outputNames = [output.Key];
            _grid = new YoloxGrid(InputWidth, InputHeight);
            var outputDimensions = output.Value.Dimensions;
            var rowWidth = outputDimensions[^1];
            if (outputDimensions.Length != 3 || rowWidth <= 5 || (outputDimensions[1] > 0 && outputDimensions[1] != _grid.Rows))
            {
                throw new InvalidDataException(
                    $"{model.Path}: output '{output.Key}' has shape [{string.Join(", ", outputDimensions)}]; a YOLOX export at {InputWidth}x{InputHeight} gives [1, {_grid.Rows}, 5 + classes].");
            }

            ClassCount = rowWidth - 5;
            if (model.Classes.Count != ClassCount)
            {
                throw new InvalidDataException($"{model.Path} scores {ClassCount} classes but its class list has {model.Classes.Count} names.");
            }

            ClassNames = model.Classes;
            ModelName = model.Name;
            ModelSha256 = Sha256(model.Path);
            Model = new ModelIdentity(model.Name, ModelSha256);
            ModelVersion = Model.Version;
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        logger.LogInformation(
            "Loaded {Model} from {Path}: input {Width}x{Height}, {Classes} classes, {Threads} inference thread(s) per call",
            model.Name, model.Path, InputWidth, InputHeight, ClassCount, options.IntraOpThreads);
    }

    public IReadOnlyList<string> ClassNames { get; }

    public string ModelVersion { get; }

    public string ModelName { get; }

    public string ModelSha256 { get; }

    public int InputWidth { get; }

    public int InputHeight { get; }

    public int ClassCount { get; }

    public AnalysisTask Task => AnalysisTask.Objects;

    public ModelIdentity Model { get; }

    /// <summary>The picture fitted inside the model input; the rest is padded here.</summary>
    public PictureNeeds Needs => new(InputWidth, InputHeight, 0);

    public AnalysisResult Analyze(Picture picture, float minScore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(picture);
        cancellationToken.ThrowIfCancellationRequested();
        var start = _time.GetTimestamp();
        var elements = 3 * InputWidth * InputHeight;
        var letterbox = ArrayPool<byte>.Shared.Rent(elements);
        try
        {
            var (contentWidth, contentHeight) = Letterbox(picture, letterbox.AsSpan(0, elements));
            var detections = Infer(
                letterbox.AsSpan(0, elements),
                minScore,
                picture.SourceWidth / (float)contentWidth,
                picture.SourceHeight / (float)contentHeight,
                cancellationToken,
                out var filled,
                out var inferred);
            var done = _time.GetTimestamp();
            return new DetectedObjects(Model, detections, ClassNames) { Timing = new AnalysisTiming(Ms(start, filled), Ms(filled, inferred), Ms(inferred, done)) };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(letterbox);
        }
    }

    /// <summary>
    /// The picture at the top left of the model input, padded with YOLOX's grey: as is when the decode already
    /// fitted it to this input (the usual case), else resized to fit first.
    /// </summary>
    private (int Width, int Height) Letterbox(Picture picture, Span<byte> letterbox)
    {
        letterbox.Fill((byte)PadValue);
        var fitted = picture.Width <= InputWidth && picture.Height <= InputHeight && (picture.Width == InputWidth || picture.Height == InputHeight);
        if (fitted)
        {
            CopyRows(picture.Rgb, picture.Width, picture.Height, letterbox);
            return (picture.Width, picture.Height);
        }

        var scale = Math.Min(InputWidth / (double)picture.Width, InputHeight / (double)picture.Height);
        using var resized = PictureResampler.Resample(picture, scale, 0, 0, InputWidth, InputHeight);
        CopyRows(resized.Rgb, resized.Width, resized.Height, letterbox);
        return (resized.Width, resized.Height);
    }

    private void CopyRows(ReadOnlySpan<byte> rgb, int width, int height, Span<byte> letterbox)
    {
        var rowBytes = width * 3;
        for (var y = 0; y < height; y++)
        {
            rgb.Slice(y * rowBytes, rowBytes).CopyTo(letterbox.Slice(y * InputWidth * 3));
        }
    }

    /// <summary>
    /// The model on letterboxed rgb24 input (images and video frames alike): tensor fill, inference, box decoding
    /// scaled back to the source by <paramref name="scaleX"/>/<paramref name="scaleY"/>, NMS. <paramref name="filled"/>
    /// and <paramref name="inferred"/> are timestamps for the stage timings.
    /// </summary>
    private List<Detection.Detection> Infer(
        ReadOnlySpan<byte> pixels, float minScore, float scaleX, float scaleY, CancellationToken cancellationToken, out long filled, out long inferred)
    {
        // Tensors are 2 MB (416x416) to 4.9 MB (640x640): pooled, so labeling does not churn the large-object heap.
        var elements = 3 * InputWidth * InputHeight;
        var tensor = ArrayPool<float>.Shared.Rent(elements);
        try
        {
            VipsImageDecoder.FillPlanarBgr(pixels, tensor);
            filled = _time.GetTimestamp();
            cancellationToken.ThrowIfCancellationRequested();

            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, elements), _inputShape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
            inferred = _time.GetTimestamp();

            var candidates = YoloxPostprocessor.Decode(outputs[0].GetTensorDataAsSpan<float>(), _grid, ClassCount, minScore, scaleX, scaleY);
            return YoloxPostprocessor.NonMaxSuppression(candidates, (float)_options.NmsIou, _options.MaxDetections);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    /// <summary>Runs the model alone on an input-sized tensor (for benchmarks: the inference-only limit).</summary>
    public void RunInferenceOnly() => ModelFiles.RunOnZeros(_session, _inputNames, _outputNames, _inputShape);

    public void Dispose() => _session.Dispose();

    private double Ms(long from, long to) => _time.GetElapsedTime(from, to).TotalMilliseconds;

    private static string Sha256(string path) => ModelFiles.Sha256(path);
}
