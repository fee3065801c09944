using System.Buffers;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Properties;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Vision.Faces;

/// <summary>
/// UltraFace (Ultra-Light-Fast-Generic-Face-Detector-1MB, RFB-320 or RFB-640) on ONNX Runtime: the whole picture
/// resized to the model's input (aspect not kept), planar RGB as (x - 127) / 128; outputs <c>scores</c> [1, N, 2]
/// (background, face; softmax-ed) and <c>boxes</c> [1, N, 4] (corners as ratios of the picture); faces above the
/// configured confidence, greedy NMS. Each face's quality (brightness, sharpness) is measured on its crop of the
/// decoded picture. One shared session, thread-safe.
/// </summary>
public sealed class UltraFaceDetector : IPictureAnalysis
{
    private readonly InferenceSession _session;
    private readonly FaceOptions _options;
    private readonly TimeProvider _time;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;

    public UltraFaceDetector(LocalModel model, FaceOptions options, DetectorOptions runtime, TimeProvider time, ILogger<UltraFaceDetector> logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runtime);
        _options = options;
        _time = time;
        _session = ModelFiles.OpenSession(model.Path, runtime.IntraOpThreads);
        try
        {
            var (inputName, height, width) = ModelFiles.ImageInput(_session, model.Path, "an UltraFace export", 320);
            InputWidth = width;
            InputHeight = height;
            _inputNames = [inputName];
            _inputShape = [1, 3, height, width];
            if (!_session.OutputMetadata.ContainsKey("scores") || !_session.OutputMetadata.ContainsKey("boxes"))
            {
                throw new InvalidDataException(
                    $"{model.Path}: outputs are {string.Join(", ", _session.OutputMetadata.Keys)}; an UltraFace export has 'scores' [1, N, 2] and 'boxes' [1, N, 4].");
            }

            _outputNames = ["scores", "boxes"];
            Model = new ModelIdentity(model.Name, ModelFiles.Sha256(model.Path));
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        logger.LogInformation("Loaded {Model} from {Path}: input {Width}x{Height}", model.Name, model.Path, InputWidth, InputHeight);
    }

    public int InputWidth { get; }

    public int InputHeight { get; }

    public AnalysisTask Task => AnalysisTask.Faces;

    public ModelIdentity Model { get; }

    /// <summary>The picture fitted inside the model input: the labeling decode (416 for YOLOX) already is, for the 320 model.</summary>
    public PictureNeeds Needs => new(InputWidth, InputHeight, 0);

    public IReadOnlyList<string> ClassNames { get; } = [DetectedFaces.FaceClass];

    /// <summary>The faces at or above the larger of <paramref name="minScore"/> and Faces:MinConfidence.</summary>
    public AnalysisResult Analyze(Picture picture, float minScore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(picture);
        cancellationToken.ThrowIfCancellationRequested();
        var start = _time.GetTimestamp();
        var elements = 3 * InputWidth * InputHeight;
        var tensor = ArrayPool<float>.Shared.Rent(elements);
        try
        {
            using (var resized = PictureResampler.ResampleArea(picture, 0, 0, picture.Width, picture.Height, InputWidth, InputHeight))
            {
                Fill(resized.Rgb, resized.Width, resized.Height, tensor.AsSpan(0, elements));
            }

            var filled = _time.GetTimestamp();
            cancellationToken.ThrowIfCancellationRequested();
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, elements), _inputShape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
            var inferred = _time.GetTimestamp();

            var threshold = Math.Max(minScore, (float)(_options.MinConfidence / 100));
            var candidates = Decode(outputs[0].GetTensorDataAsSpan<float>(), outputs[1].GetTensorDataAsSpan<float>(), threshold);
            var kept = YoloxPostprocessor.NonMaxSuppression(candidates, (float)_options.NmsIou, _options.MaxFaces);
            var boxes = kept.Select(d => Box(d.X1, d.Y1, d.X2, d.Y2)).ToList();
            var quality = ImagePropertiesAnalyzer.QualityIn(picture.Image, boxes);
            var faces = kept.Select((d, i) => new FaceDetail(boxes[i], Math.Round(d.Score * 100, 3), new FaceQuality(quality[i].Brightness, quality[i].Sharpness))).ToList();
            var done = _time.GetTimestamp();
            return new DetectedFaces(Model, faces) { Timing = new AnalysisTiming(Ms(start, filled), Ms(filled, inferred), Ms(inferred, done)) };
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    /// <summary>Faces scoring above <paramref name="threshold"/>, boxes kept as ratios of the picture (as the model gives them).</summary>
    internal static List<Detection.Detection> Decode(ReadOnlySpan<float> scores, ReadOnlySpan<float> boxes, float threshold)
    {
        var candidates = new List<Detection.Detection>();
        var rows = Math.Min(scores.Length / 2, boxes.Length / 4);
        for (var i = 0; i < rows; i++)
        {
            var score = scores[(i * 2) + 1];
            if (score > threshold)
            {
                candidates.Add(new Detection.Detection(0, score, boxes[i * 4], boxes[(i * 4) + 1], boxes[(i * 4) + 2], boxes[(i * 4) + 3]));
            }
        }

        return candidates;
    }

    private static BoundingBox Box(float x1, float y1, float x2, float y2)
    {
        var left = Math.Clamp(x1, 0, 1);
        var top = Math.Clamp(y1, 0, 1);
        var right = Math.Clamp(x2, 0, 1);
        var bottom = Math.Clamp(y2, 0, 1);
        return new BoundingBox(Math.Max(0, right - left), Math.Max(0, bottom - top), left, top);
    }

    /// <summary>Planar RGB, (x - 127) / 128; a resample a pixel short leaves that row or column at 0 (mid-grey).</summary>
    private void Fill(ReadOnlySpan<byte> rgb, int width, int height, Span<float> tensor)
    {
        tensor.Clear();
        var plane = InputWidth * InputHeight;
        for (var y = 0; y < Math.Min(height, InputHeight); y++)
        {
            for (var x = 0; x < Math.Min(width, InputWidth); x++)
            {
                var p = ((y * width) + x) * 3;
                var t = (y * InputWidth) + x;
                tensor[t] = (rgb[p] - 127f) / 128f;
                tensor[plane + t] = (rgb[p + 1] - 127f) / 128f;
                tensor[(2 * plane) + t] = (rgb[p + 2] - 127f) / 128f;
            }
        }
    }

    public void RunInferenceOnly() => ModelFiles.RunOnZeros(_session, _inputNames, _outputNames, _inputShape);

    public void Dispose() => _session.Dispose();

    private double Ms(long from, long to) => _time.GetElapsedTime(from, to).TotalMilliseconds;
}
