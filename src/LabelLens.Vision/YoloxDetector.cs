using System.Buffers;
using System.Security.Cryptography;
using LabelLens.Detection;
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
public sealed partial class YoloxDetector : IObjectDetector
{
    /// <summary>YOLOX pads the letterbox with this grey (its training preprocessing).</summary>
    private const double PadValue = 114;

    private readonly InferenceSession _session;
    private readonly VipsImageDecoder _decoder;
    private readonly DetectorOptions _options;
    private readonly TimeProvider _time;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly YoloxGrid _grid;

    public YoloxDetector(LocalModel model, VipsImageDecoder decoder, DetectorOptions options, TimeProvider time, ILogger<YoloxDetector> logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _decoder = decoder;
        _options = options;
        _time = time;

        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        // Spinning threads burn a core waiting for work that the other labeling worker needs.
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        try
        {
            _session = new InferenceSession(model.Path, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"{model.Path} is not a loadable ONNX model: {ex.Message}", ex);
        }

        try
        {
            var input = _session.InputMetadata.Single();
            var dimensions = input.Value.Dimensions;
            if (dimensions.Length != 4 || dimensions[1] != 3)
            {
                throw new InvalidDataException($"{model.Path}: input '{input.Key}' has shape [{string.Join(", ", dimensions)}]; a YOLOX export takes [1, 3, H, W].");
            }

            var fallback = ModelCatalog.Find(model.Name)?.InputSize ?? 640;
            InputHeight = dimensions[2] > 0 ? dimensions[2] : fallback;
            InputWidth = dimensions[3] > 0 ? dimensions[3] : fallback;
            _inputNames = [input.Key];
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
            ModelVersion = $"{model.Name}:{ModelSha256[..12]}";
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

    public DetectionOutput Detect(byte[] encodedImage, float minScore, bool keepPixels = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encodedImage);
        cancellationToken.ThrowIfCancellationRequested();
        var start = _time.GetTimestamp();
        using var image = _decoder.DecodeLetterboxed(encodedImage, InputWidth, InputHeight, PadValue);
        var decoded = _time.GetTimestamp();

        var detections = Infer(
            image.Pixels.Span,
            minScore,
            image.OrientedWidth / (float)image.ResizedWidth,
            image.OrientedHeight / (float)image.ResizedHeight,
            cancellationToken,
            out var filled,
            out var inferred);
        var done = _time.GetTimestamp();
        return new DetectionOutput(
            detections,
            new ImageInfo(image.OrientedWidth, image.OrientedHeight, image.Format, encodedImage.LongLength),
            new StageTimings(Ms(start, decoded), Ms(decoded, filled), Ms(filled, inferred), Ms(inferred, done)))
        {
            Pixels = keepPixels ? CopyContent(image) : null,
        };
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

    /// <summary>The letterbox without its padding (the image sits at the top left), as tight RGB rows.</summary>
    private static RgbImage CopyContent(LetterboxedImage image)
    {
        var rowBytes = image.ResizedWidth * 3;
        var pixels = new byte[rowBytes * image.ResizedHeight];
        var source = image.Pixels.Span;
        for (var y = 0; y < image.ResizedHeight; y++)
        {
            source.Slice(y * image.Width * 3, rowBytes).CopyTo(pixels.AsSpan(y * rowBytes));
        }

        return new RgbImage(image.ResizedWidth, image.ResizedHeight, pixels);
    }

    /// <summary>Runs the model alone on an input-sized tensor (for benchmarks: the inference-only limit).</summary>
    public void RunInferenceOnly(float[] planarBgr)
    {
        ArgumentNullException.ThrowIfNull(planarBgr);
        using var input = OrtValue.CreateTensorValueFromMemory(planarBgr, _inputShape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
    }

    public void Dispose() => _session.Dispose();

    private double Ms(long from, long to) => _time.GetElapsedTime(from, to).TotalMilliseconds;

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
