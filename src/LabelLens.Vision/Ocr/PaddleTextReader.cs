using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using LabelLens.Analysis;
using LabelLens.Models;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Vision.Ocr;

/// <summary>
/// PP-OCRv4 (PaddleOCR) on ONNX Runtime: the detector finds where the lines are (a probability map, see
/// <see cref="TextBoxes"/>), the optional angle classifier turns upside-down lines over, and the recogniser
/// reads each straightened line (CTC over 6,623 characters and a space). Words are the line's runs of
/// characters between spaces, boxed by where the CTC output placed them along the line. The files sit in
/// one model folder: the detector (the model's path), the recogniser, the classifier and the character list.
/// One shared session per file, thread-safe.
/// </summary>
public sealed class PaddleTextReader : IPictureAnalysis
{
    public const string RecognizerFile = "ch_PP-OCRv4_rec_infer.onnx";
    public const string ClassifierFile = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
    public const string KeysFile = "ppocr_keys_v1.txt";

    /// <summary>The recogniser's input height, and the narrowest input it is given (PaddleOCR pads to 48 × 320).</summary>
    private const int LineHeight = 48;
    private const int MinLineWidth = 320;

    /// <summary>Long lines are cut off here (a 66:1 line: a full-width caption).</summary>
    private const int MaxLineWidth = 3200;

    private const int ClassifierWidth = 192;

    private static readonly float[] DetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] DetDeviation = [0.229f, 0.224f, 0.225f];
    private static readonly float[] RecMean = [0.5f, 0.5f, 0.5f];
    private static readonly float[] RecDeviation = [0.5f, 0.5f, 0.5f];

    private readonly InferenceSession _detector;
    private readonly InferenceSession _recognizer;
    private readonly InferenceSession? _classifier;
    private readonly string[] _characters;
    private readonly TextOptions _options;
    private readonly TimeProvider _time;
    private readonly (string Input, string Output) _det;
    private readonly (string Input, string Output) _rec;
    private readonly (string Input, string Output) _cls;

    public PaddleTextReader(LocalModel model, TextOptions options, DetectorOptions runtime, TimeProvider time, ILogger<PaddleTextReader> logger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runtime);
        _options = options;
        _time = time;
        var folder = Path.GetDirectoryName(model.Path)!;
        var files = new[] { model.Path, Path.Combine(folder, RecognizerFile), Path.Combine(folder, KeysFile) };
        foreach (var file in files.Where(f => !File.Exists(f)))
        {
            throw new InvalidDataException($"{file} is missing: the text analysis needs the detector, the recogniser ({RecognizerFile}) and the character list ({KeysFile}) in {folder}.");
        }

        var classifierPath = Path.Combine(folder, ClassifierFile);
        var sessions = new List<InferenceSession>();
        try
        {
            _detector = Open(model.Path, runtime, sessions);
            _recognizer = Open(files[1], runtime, sessions);
            _classifier = options.AngleClassifier && File.Exists(classifierPath) ? Open(classifierPath, runtime, sessions) : null;
            _det = Names(_detector);
            _rec = Names(_recognizer);
            _cls = _classifier is null ? ("", "") : Names(_classifier);
            // Class 0 is CTC's blank, 1..n the list's lines, n + 1 a space.
            _characters = ["", .. File.ReadAllLines(files[2]).Select(l => l.TrimEnd('\r', '\n')), " "];
            var classes = _recognizer.OutputMetadata.Values.Single().Dimensions[^1];
            if (classes > 0 && classes != _characters.Length)
            {
                throw new InvalidDataException($"{files[1]} scores {classes} classes but {KeysFile} gives {_characters.Length - 2} characters (plus blank and space).");
            }

            // The analysis's version covers every file that shapes its output.
            var hashes = string.Concat(files.Append(_classifier is null ? "" : classifierPath).Where(f => f.Length > 0).Select(ModelFiles.Sha256));
            Model = new ModelIdentity(model.Name, Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(hashes))));
        }
        catch
        {
            foreach (var session in sessions)
            {
                session.Dispose();
            }

            throw;
        }

        logger.LogInformation(
            "Loaded {Model} from {Folder}: detector input up to {Size} px, {Characters} characters, angle classifier {Classifier}",
            model.Name, folder, options.InputSize, _characters.Length - 2, _classifier is null ? "off" : "on");
    }

    public AnalysisTask Task => AnalysisTask.Text;

    public ModelIdentity Model { get; }

    /// <summary>
    /// The picture the lines are read from: fitted in a square of <see cref="TextOptions.ReadSize"/> (at least
    /// <see cref="TextOptions.InputSize"/>); the detector takes its own smaller copy.
    /// </summary>
    public PictureNeeds Needs => new(ReadSize, ReadSize, 0);

    private int ReadSize => Math.Max(_options.InputSize, _options.ReadSize);

    /// <summary>Text has no classes to search by label.</summary>
    public IReadOnlyList<string> ClassNames => [];

    public AnalysisResult Analyze(Picture picture, float minScore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(picture);
        cancellationToken.ThrowIfCancellationRequested();
        var start = _time.GetTimestamp();
        var boxes = Detect(picture, out var inferenceMs);
        var read = new List<(TextLine Line, TextQuad Box)>(boxes.Count);
        foreach (var box in boxes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var upright = _classifier is not null && IsUpsideDown(picture, box) ? box.Rotated180 : box;
            if (Recognize(picture, upright, out var lineMs) is { } line)
            {
                read.Add((line, upright));
            }

            inferenceMs += lineMs;
        }

        var lines = JoinLines(read, picture, ref inferenceMs).Where(l => l.Confidence >= minScore * 100).ToList();

        // Everything but the models' runs (tensor fills, box finding, decoding) counts as preparation.
        var totalMs = _time.GetElapsedTime(start).TotalMilliseconds;
        return new DetectedText(Model, lines) { Timing = new AnalysisTiming(Math.Max(0, totalMs - inferenceMs), inferenceMs, 0) };
    }

    /// <summary>The detector alone on zeros at its full input (benchmarks).</summary>
    public void RunInferenceOnly() => ModelFiles.RunOnZeros(_detector, [_det.Input], [_det.Output], [1, 3, Align(_options.InputSize), Align(_options.InputSize)]);

    public void Dispose()
    {
        _detector.Dispose();
        _recognizer.Dispose();
        _classifier?.Dispose();
    }

    /// <summary>Line boxes in the picture's pixels, top to bottom and left to right.</summary>
    private List<TextQuad> Detect(Picture picture, out double inferenceMs)
    {
        // The picture arrives fitted to ReadSize; the detector sees it fitted to InputSize, both sides a multiple of 32.
        var scale = Math.Min(1.0, _options.InputSize / (double)Math.Max(picture.Width, picture.Height));
        var width = Align((int)Math.Round(picture.Width * scale));
        var height = Align((int)Math.Round(picture.Height * scale));
        var elements = 3 * width * height;
        var tensor = ArrayPool<float>.Shared.Rent(elements);
        try
        {
            if (scale < 1)
            {
                // A large reduction (the lines' picture to the detector's): libvips' antialiasing resize, then 1:1 into the tensor.
                using var small = PictureResampler.ResampleArea(picture, 0, 0, picture.Width, picture.Height, width, height);
                FillWhole(small.Rgb, small.Width, small.Height, width, height, tensor.AsSpan(0, elements));
            }
            else
            {
                FillWhole(picture.Rgb, picture.Width, picture.Height, width, height, tensor.AsSpan(0, elements));
            }

            var started = _time.GetTimestamp();
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, elements), [1, 3, height, width]);
            using var runOptions = new RunOptions();
            using var outputs = _detector.Run(runOptions, [_det.Input], [input], [_det.Output]);
            inferenceMs = _time.GetElapsedTime(started).TotalMilliseconds;
            var found = TextBoxes.Find(
                outputs[0].GetTensorDataAsSpan<float>(), width, height, (float)_options.PixelThreshold, (float)_options.BoxThreshold, (float)_options.UnclipRatio, _options.MaxLines * 4);
            var toPicture = new Vector2(picture.Width / (float)width, picture.Height / (float)height);
            return Order(found.OrderByDescending(f => f.Score).Take(_options.MaxLines).Select(f => f.Box.Scale(toPicture.X, toPicture.Y)));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    private static void FillWhole(ReadOnlySpan<byte> rgb, int pictureWidth, int pictureHeight, int width, int height, Span<float> tensor)
    {
        var whole = new TextQuad(Vector2.Zero, new Vector2(pictureWidth, 0), new Vector2(pictureWidth, pictureHeight), new Vector2(0, pictureHeight));
        TextSampler.Fill(rgb, pictureWidth, pictureHeight, whole, width, height, tensor, width, height, DetMean, DetDeviation);
    }

    /// <summary>Reading order: by top edge, boxes within 10 pixels of the same height left to right (PaddleOCR's sorted_boxes).</summary>
    private static List<TextQuad> Order(IEnumerable<TextQuad> boxes)
    {
        var list = boxes.OrderBy(b => b.TopLeft.Y).ThenBy(b => b.TopLeft.X).ToList();
        for (var i = 0; i < list.Count - 1; i++)
        {
            for (var j = i; j >= 0 && MathF.Abs(list[j + 1].TopLeft.Y - list[j].TopLeft.Y) < 10 && list[j + 1].TopLeft.X < list[j].TopLeft.X; j--)
            {
                (list[j], list[j + 1]) = (list[j + 1], list[j]);
            }
        }

        return list;
    }

    private bool IsUpsideDown(Picture picture, TextQuad box) =>
        RunOnLine(_classifier!, _cls, picture, box, ClassifierWidth, ClassifierWidth, out _, output =>
        {
            var scores = output.GetTensorDataAsSpan<float>();
            // [0°, 180°]; PaddleOCR turns a line over when the classifier is at least 90% sure.
            return scores.Length >= 2 && scores[1] > scores[0] && scores[1] >= 0.9f;
        });

    private TextLine? Recognize(Picture picture, TextQuad box, out double inferenceMs)
    {
        var (outWidth, _) = LineSize(box, MaxLineWidth);
        var tensorWidth = Math.Max(MinLineWidth, outWidth);
        return RunOnLine(_recognizer, _rec, picture, box, MaxLineWidth, tensorWidth, out inferenceMs, output =>
        {
            var shape = output.GetTensorTypeAndShape().Shape;
            var steps = (int)shape[1];
            var decoded = CtcDecode(output.GetTensorDataAsSpan<float>(), steps, (int)shape[2]);
            // Where a step falls along the line: the input is tensorWidth wide, the text fills outWidth of it.
            var stepWidth = tensorWidth / (float)steps / outWidth;
            return ToLine(decoded, box, stepWidth, picture);
        });
    }

    /// <summary>
    /// One line through a line model (the recogniser, the angle classifier): the box straightened to height 48 and
    /// at most <paramref name="maxWidth"/> wide, padded with 0 (mid grey after normalisation, as PaddleOCR pads) to
    /// <paramref name="tensorWidth"/>, normalised (x/255 - 0.5) / 0.5 in B, G, R.
    /// </summary>
    private T RunOnLine<T>(InferenceSession session, (string Input, string Output) names, Picture picture, TextQuad box, int maxWidth, int tensorWidth, out double inferenceMs, Func<OrtValue, T> read)
    {
        var (outWidth, _) = LineSize(box, maxWidth);
        var elements = 3 * LineHeight * tensorWidth;
        var tensor = ArrayPool<float>.Shared.Rent(elements);
        try
        {
            var span = tensor.AsSpan(0, elements);
            span.Clear();
            TextSampler.Fill(picture.Rgb, picture.Width, picture.Height, box, outWidth, LineHeight, span, tensorWidth, LineHeight, RecMean, RecDeviation);
            var started = _time.GetTimestamp();
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, elements), [1, 3, LineHeight, tensorWidth]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [names.Input], [input], [names.Output]);
            inferenceMs = _time.GetElapsedTime(started).TotalMilliseconds;
            return read(outputs[0]);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    /// <summary>Greedy CTC: the best class per step, repeats merged, blanks dropped; each kept character with its probability and step.</summary>
    private List<(string Character, float Probability, int Step)> CtcDecode(ReadOnlySpan<float> probabilities, int steps, int classes)
    {
        var result = new List<(string, float, int)>();
        var previous = 0;
        for (var t = 0; t < steps; t++)
        {
            var row = probabilities.Slice(t * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }

            if (best != 0 && best != previous && best < _characters.Length)
            {
                result.Add((_characters[best], row[best], t));
            }

            previous = best;
        }

        return result;
    }

    /// <summary>The line's text and words; null when nothing but spaces was read.</summary>
    private static TextLine? ToLine(List<(string Character, float Probability, int Step)> characters, TextQuad box, float stepWidth, Picture picture)
    {
        // Leading and trailing spaces carry no text.
        var first = characters.FindIndex(c => c.Character != " ");
        var last = characters.FindLastIndex(c => c.Character != " ");
        if (first < 0)
        {
            return null;
        }

        var kept = characters.GetRange(first, last - first + 1);
        var words = new List<TextWord>();
        var wordStart = 0;
        for (var i = 0; i <= kept.Count; i++)
        {
            if (i < kept.Count && kept[i].Character != " ")
            {
                continue;
            }

            if (i > wordStart)
            {
                var word = kept.GetRange(wordStart, i - wordStart);
                // A character's step marks its middle: half a step either side more covers its ink.
                var from = Math.Clamp((word[0].Step - 0.5f) * stepWidth, 0, 1);
                var to = Math.Clamp((word[^1].Step + 1.5f) * stepWidth, 0, 1);
                var slice = words.Count == 0 && i == kept.Count ? box : box.Slice(from, to);
                words.Add(new TextWord(string.Concat(word.Select(c => c.Character)), Percent(word.Average(c => c.Probability)), Polygon(slice, picture)));
            }

            wordStart = i + 1;
        }

        var text = string.Join(' ', words.Select(w => w.Text));
        return new TextLine(text, Percent(kept.Where(c => c.Character != " ").Average(c => c.Probability)), Polygon(box, picture), words);
    }

    /// <summary>
    /// The detector splits a line where words stand far apart ("SCENE" and "42" on a slate); a line, as
    /// Rekognition has it, is the words side by side on one row. Neighbours in reading order join when they are
    /// level (near-horizontal, overlapping vertically by most of the smaller height, heights within 1.5x) and
    /// the gap between them is under the line's height. Wider gaps (a slate's columns) stay separate lines.
    /// </summary>
    private List<TextLine> JoinLines(List<(TextLine Line, TextQuad Box)> read, Picture picture, ref double inferenceMs)
    {
        var joined = new List<(TextLine Line, TextQuad Box)>();
        foreach (var item in read)
        {
            if (joined.Count > 0 && Level(joined[^1].Box, item.Box))
            {
                var (line, box) = joined[^1];
                var merged = new TextQuad(box.TopLeft, item.Box.TopRight, item.Box.BottomRight, box.BottomLeft);
                // Boxes that overlap (each grown past its text) both hold the glyphs between them: joining their
                // readings would say those twice ("42" and "2TAKE"), so the joined box is read as one line.
                if (Gap(box, item.Box) < 0 && Recognize(picture, merged, out var mergedMs) is { } whole)
                {
                    inferenceMs += mergedMs;
                    joined[^1] = (whole, merged);
                    continue;
                }

                var characters = line.Text.Length + item.Line.Text.Length;
                var confidence = ((line.Confidence * line.Text.Length) + (item.Line.Confidence * item.Line.Text.Length)) / characters;
                joined[^1] = (new TextLine($"{line.Text} {item.Line.Text}", Math.Round(confidence, 3), Polygon(merged, picture), [.. line.Words, .. item.Line.Words]), merged);
            }
            else
            {
                joined.Add(item);
            }
        }

        return joined.Select(j => j.Line).ToList();
    }

    private static bool Level(TextQuad left, TextQuad right)
    {
        static bool Horizontal(TextQuad q) => MathF.Abs(q.TopRight.Y - q.TopLeft.Y) < 0.1f * q.Width && q.TopRight.X > q.TopLeft.X;
        if (!Horizontal(left) || !Horizontal(right))
        {
            return false;
        }

        var (leftTop, leftBottom) = (MathF.Min(left.TopLeft.Y, left.TopRight.Y), MathF.Max(left.BottomLeft.Y, left.BottomRight.Y));
        var (rightTop, rightBottom) = (MathF.Min(right.TopLeft.Y, right.TopRight.Y), MathF.Max(right.BottomLeft.Y, right.BottomRight.Y));
        var (leftHeight, rightHeight) = (leftBottom - leftTop, rightBottom - rightTop);
        var overlap = MathF.Min(leftBottom, rightBottom) - MathF.Max(leftTop, rightTop);
        var gap = Gap(left, right);
        return overlap > 0.6f * MathF.Min(leftHeight, rightHeight)
            && MathF.Max(leftHeight, rightHeight) < 1.5f * MathF.Min(leftHeight, rightHeight)
            && gap < MathF.Max(leftHeight, rightHeight);
    }

    /// <summary>The horizontal space between two boxes on a row (negative when they overlap).</summary>
    private static float Gap(TextQuad left, TextQuad right) =>
        MathF.Min(right.TopLeft.X, right.BottomLeft.X) - MathF.Max(left.TopRight.X, left.BottomRight.X);

    private static double Percent(float probability) => Math.Round(probability * 100.0, 3);

    private static List<TextPoint> Polygon(TextQuad box, Picture picture) =>
        [Point(box.TopLeft, picture), Point(box.TopRight, picture), Point(box.BottomRight, picture), Point(box.BottomLeft, picture)];

    private static TextPoint Point(Vector2 p, Picture picture) =>
        new(Math.Round(Math.Clamp(p.X / picture.Width, 0, 1), 6), Math.Round(Math.Clamp(p.Y / picture.Height, 0, 1), 6));

    /// <summary>The line resized to the recogniser's height, keeping its aspect, at most <paramref name="maxWidth"/> wide.</summary>
    private static (int Width, int Height) LineSize(TextQuad box, int maxWidth)
    {
        var aspect = box.Width / Math.Max(1f, box.Height);
        return (Math.Clamp((int)MathF.Ceiling(LineHeight * aspect), 1, maxWidth), LineHeight);
    }

    private static int Align(int size) => Math.Max(32, (int)Math.Round(size / 32.0) * 32);

    private static InferenceSession Open(string path, DetectorOptions runtime, List<InferenceSession> opened)
    {
        var session = ModelFiles.OpenSession(path, runtime.IntraOpThreads);
        opened.Add(session);
        return session;
    }

    private static (string Input, string Output) Names(InferenceSession session) => (session.InputMetadata.Keys.Single(), session.OutputMetadata.Keys.First());

}
