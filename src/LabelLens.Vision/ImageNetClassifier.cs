using System.Buffers;
using LabelLens.Analysis;
using LabelLens.Models;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Vision;

/// <summary>
/// An ImageNet-1k classifier on ONNX Runtime (MobileNetV2 from the ONNX Model Zoo by default): whole-image
/// class probabilities, no boxes. Preprocessing as the model was trained: the short side resized to 256,
/// the centre 224 × 224 cropped, RGB scaled to 0-1 and normalised with ImageNet's mean and deviation.
/// The crop is taken from the decoded picture and resized once with an antialiasing bilinear filter, as
/// torchvision's reference preprocessing does. Classes are WordNet ids, mapped to searchable labels by the
/// taxonomy. One shared session, thread-safe.
/// </summary>
public sealed class ImageNetClassifier : IPictureAnalysis
{
    /// <summary>ImageNet's training resize: the short side to 256, then the centre crop.</summary>
    public const int ResizeShortSide = 256;

    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Deviation = [0.229f, 0.224f, 0.225f];

    private readonly InferenceSession _session;
    private readonly TimeProvider _time;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;

    public ImageNetClassifier(LocalModel model, DetectorOptions options, TimeProvider time, ILogger<ImageNetClassifier> logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
        _session = ModelFiles.OpenSession(model.Path, options.IntraOpThreads);
        try
        {
            var (inputName, height, width) = ModelFiles.ImageInput(_session, model.Path, "an image classifier", 224);
            InputHeight = height;
            InputWidth = width;
            _inputNames = [inputName];
            _inputShape = [1, 3, InputHeight, InputWidth];
            var output = _session.OutputMetadata.First();
            _outputNames = [output.Key];
            var classCount = output.Value.Dimensions[^1];
            if (model.Classes.Count != classCount)
            {
                throw new InvalidDataException($"{model.Path} scores {classCount} classes but its class list has {model.Classes.Count} ids.");
            }

            ClassNames = model.Classes;
            Model = new ModelIdentity(model.Name, ModelFiles.Sha256(model.Path));
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        logger.LogInformation("Loaded {Model} from {Path}: input {Width}x{Height}, {Classes} classes", model.Name, model.Path, InputWidth, InputHeight, ClassNames.Count);
    }

    public AnalysisTask Task => AnalysisTask.Classes;

    public ModelIdentity Model { get; }

    public IReadOnlyList<string> ClassNames { get; }

    public int InputWidth { get; }

    public int InputHeight { get; }

    /// <summary>The short side at <see cref="ResizeShortSide"/> (scaled for a model with another input size).</summary>
    public PictureNeeds Needs => new(0, 0, ShortSide);

    private int ShortSide => (int)Math.Round(Math.Max(InputWidth, InputHeight) * ResizeShortSide / 224.0);

    public AnalysisResult Analyze(Picture picture, float minScore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(picture);
        cancellationToken.ThrowIfCancellationRequested();
        var start = _time.GetTimestamp();
        // The centre crop of the short-side-256 resize, taken in the picture's own pixels and resized once.
        var scale = ShortSide / (double)Math.Min(picture.Width, picture.Height);
        var areaWidth = Math.Min(picture.Width, (int)Math.Round(InputWidth / scale));
        var areaHeight = Math.Min(picture.Height, (int)Math.Round(InputHeight / scale));
        var left = (picture.Width - areaWidth) / 2;
        var top = (picture.Height - areaHeight) / 2;
        var elements = 3 * InputWidth * InputHeight;
        var tensor = ArrayPool<float>.Shared.Rent(elements);
        try
        {
            if (areaWidth > 2 * InputWidth || areaHeight > 2 * InputHeight)
            {
                // A large reduction (a big detector input beside the classifier) needs an antialiasing filter: libvips.
                using var crop = PictureResampler.ResampleArea(picture, left, top, areaWidth, areaHeight, InputWidth, InputHeight);
                FillBilinear(crop.Rgb, crop.Width, crop.Height, 0, 0, crop.Width, crop.Height, tensor.AsSpan(0, elements));
            }
            else
            {
                // The usual case (reduction under 2x): bilinear sampling, normalised, straight into the tensor.
                FillBilinear(picture.Rgb, picture.Width, picture.Height, left, top, areaWidth, areaHeight, tensor.AsSpan(0, elements));
            }

            var filled = _time.GetTimestamp();
            cancellationToken.ThrowIfCancellationRequested();
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, elements), _inputShape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
            var inferred = _time.GetTimestamp();
            var probabilities = Softmax(outputs[0].GetTensorDataAsSpan<float>());
            var done = _time.GetTimestamp();
            return new ClassScores(Model, probabilities, ClassNames) { Timing = new AnalysisTiming(Ms(start, filled), Ms(filled, inferred), Ms(inferred, done)) };
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    /// <summary>
    /// The <paramref name="areaWidth"/> × <paramref name="areaHeight"/> area at <paramref name="left"/>, <paramref name="top"/>
    /// of an rgb24 picture, sampled bilinearly (pixel centres aligned) to the model input, as planar R, G, B with
    /// (x/255 - mean) / deviation. One pass, no intermediate image.
    /// </summary>
    private void FillBilinear(ReadOnlySpan<byte> rgb, int width, int height, int left, int top, int areaWidth, int areaHeight, Span<float> tensor)
    {
        var plane = InputWidth * InputHeight;
        var stepX = areaWidth / (float)InputWidth;
        var stepY = areaHeight / (float)InputHeight;
        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            scale[c] = 1f / (255f * Deviation[c]);
            offset[c] = Mean[c] / Deviation[c];
        }

        // Horizontal sample positions are the same for every row.
        var columns = new (int Offset, float Weight)[InputWidth];
        for (var x = 0; x < InputWidth; x++)
        {
            columns[x] = Sample(left + ((x + 0.5f) * stepX) - 0.5f, width);
            columns[x].Offset *= 3;
        }

        var rowBytes = width * 3;
        for (var y = 0; y < InputHeight; y++)
        {
            var (row, g) = Sample(top + ((y + 0.5f) * stepY) - 0.5f, height);
            var upper = rgb.Slice(row * rowBytes, rowBytes);
            var lower = rgb.Slice(Math.Min(row + 1, height - 1) * rowBytes, rowBytes);
            var output = y * InputWidth;
            for (var x = 0; x < InputWidth; x++)
            {
                var (i, f) = columns[x];
                var j = Math.Min(i + 3, rowBytes - 3);
                for (var c = 0; c < 3; c++)
                {
                    var a = upper[i + c] + ((upper[j + c] - upper[i + c]) * f);
                    var b = lower[i + c] + ((lower[j + c] - lower[i + c]) * f);
                    tensor[(c * plane) + output + x] = ((a + ((b - a) * g)) * scale[c]) - offset[c];
                }
            }
        }
    }

    /// <summary>The pixel before <paramref name="position"/> and the weight of the one after it, clamped to the edges.</summary>
    private static (int Index, float Weight) Sample(float position, int size)
    {
        if (position <= 0)
        {
            return (0, 0);
        }

        var index = (int)position;
        return index >= size - 1 ? (size - 1, 0) : (index, position - index);
    }

    private static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var probabilities = new float[logits.Length];
        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            max = Math.Max(max, logit);
        }

        var sum = 0.0;
        for (var i = 0; i < logits.Length; i++)
        {
            probabilities[i] = MathF.Exp(logits[i] - max);
            sum += probabilities[i];
        }

        for (var i = 0; i < probabilities.Length; i++)
        {
            probabilities[i] = (float)(probabilities[i] / sum);
        }

        return probabilities;
    }

    public void RunInferenceOnly() => ModelFiles.RunOnZeros(_session, _inputNames, _outputNames, _inputShape);

    public void Dispose() => _session.Dispose();

    private double Ms(long from, long to) => _time.GetElapsedTime(from, to).TotalMilliseconds;
}
