using LabelLens.Labels;

namespace LabelLens.Analysis;

/// <summary>
/// The analyses a deployment can run on a picture. Each is a task with its own kind of model and its own
/// typed result; which run is configuration (<c>Analysis:Tasks</c>).
/// </summary>
public enum AnalysisTask
{
    /// <summary>Objects with boxes (YOLOX, COCO's 80 classes).</summary>
    Objects,

    /// <summary>Whole-image classes without boxes (an ImageNet-1k classifier: breeds, food, scenes).</summary>
    Classes,

    /// <summary>Text lines and words with boxes (PP-OCRv4 detection and recognition); no labels, runs after them.</summary>
    Text,

    /// <summary>Faces with boxes, confidence and quality (UltraFace); runs in the labeling pass and gives the Face label.</summary>
    Faces,
}

public static class AnalysisTasks
{
    /// <summary>The name used in configuration, the catalog and the API: "objects", "classes".</summary>
    public static string Name(this AnalysisTask task) => task switch
    {
        AnalysisTask.Objects => "objects",
        AnalysisTask.Classes => "classes",
        AnalysisTask.Text => "text",
        AnalysisTask.Faces => "faces",
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, null),
    };

    public static bool TryParse(string? name, out AnalysisTask task)
    {
        foreach (var candidate in Enum.GetValues<AnalysisTask>())
        {
            if (string.Equals(candidate.Name(), name?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                task = candidate;
                return true;
            }
        }

        task = default;
        return false;
    }

    /// <summary>"objects,classes" to tasks; unknown names are an <see cref="ArgumentException"/> naming the known ones.</summary>
    public static IReadOnlyList<AnalysisTask> ParseList(string? list)
    {
        var tasks = new List<AnalysisTask>();
        foreach (var name in (list ?? "").Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParse(name, out var task))
            {
                throw new ArgumentException($"'{name}' is not an analysis; the analyses are {string.Join(", ", Enum.GetValues<AnalysisTask>().Select(t => t.Name()))}.");
            }

            if (!tasks.Contains(task))
            {
                tasks.Add(task);
            }
        }

        return tasks;
    }
}

/// <summary>Which model an analysis ran: name, file hash (SHA-256), and the short version stored with its results.</summary>
public sealed record ModelIdentity(string Name, string Sha256)
{
    /// <summary>"yolox-nano:695e750a5d57": the name and the first 12 hex digits of the file's hash.</summary>
    public string Version => $"{Name}:{Sha256[..Math.Min(12, Sha256.Length)]}";
}

/// <summary>
/// One analysis, loaded with its model: takes a <see cref="Picture"/> and returns its own typed result.
/// Safe to call from many threads at once (one ONNX Runtime session per model, shared).
/// </summary>
public interface IPictureAnalysis : IDisposable
{
    AnalysisTask Task { get; }

    ModelIdentity Model { get; }

    /// <summary>How large a decoded picture this analysis wants (see <see cref="PictureNeeds"/>).</summary>
    PictureNeeds Needs { get; }

    /// <summary>The model's classes in output order (COCO names, WordNet ids...).</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Runs the model; results scoring below <paramref name="minScore"/> (0-1) may be left out.</summary>
    AnalysisResult Analyze(Picture picture, float minScore, CancellationToken cancellationToken);

    /// <summary>Runs the model alone on a tensor of its input size (benchmarks: the inference-only limit).</summary>
    void RunInferenceOnly();
}

/// <summary>What one analysis found, typed by analysis; <see cref="ToLabels"/> maps it onto the taxonomy.</summary>
public abstract record AnalysisResult(AnalysisTask Task, ModelIdentity Model)
{
    /// <summary>Where this analysis spent its time.</summary>
    public AnalysisTiming Timing { get; init; } = AnalysisTiming.Zero;

    /// <summary>The labels this result says are in the picture, with their ancestors, at or above <paramref name="minConfidence"/>.</summary>
    public abstract IReadOnlyList<FoundLabel> ToLabels(LabelBuilder builder, int sourceWidth, int sourceHeight, double minConfidence);
}

/// <summary>YOLOX's answer: objects with boxes in source pixels.</summary>
public sealed record DetectedObjects(ModelIdentity Model, IReadOnlyList<Detection.Detection> Detections, IReadOnlyList<string> ClassNames)
    : AnalysisResult(AnalysisTask.Objects, Model)
{
    public override IReadOnlyList<FoundLabel> ToLabels(LabelBuilder builder, int sourceWidth, int sourceHeight, double minConfidence)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.FromDetections(Detections, ClassNames, sourceWidth, sourceHeight, minConfidence);
    }
}

/// <summary>A classifier's answer: a probability per class (softmax), classes named by <see cref="ClassIds"/>.</summary>
public sealed record ClassScores(ModelIdentity Model, float[] Probabilities, IReadOnlyList<string> ClassIds)
    : AnalysisResult(AnalysisTask.Classes, Model)
{
    public override IReadOnlyList<FoundLabel> ToLabels(LabelBuilder builder, int sourceWidth, int sourceHeight, double minConfidence)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.FromClassScores(Probabilities, ClassIds, minConfidence);
    }
}

/// <summary>
/// A label one analysis found, before merging: <see cref="Direct"/> when a model class maps to it (not only
/// as an ancestor), <see cref="Depth"/> its number of ancestors (orders a specific label before its equally
/// confident parents).
/// </summary>
public sealed record FoundLabel(Label Label, bool Direct, int Depth);

/// <summary>Milliseconds an analysis spent: its own resize/crop and tensor fill, the model, the decoding of its output.</summary>
public sealed record AnalysisTiming(double PrepareMs, double InferenceMs, double PostprocessMs)
{
    public static AnalysisTiming Zero { get; } = new(0, 0, 0);

    public double TotalMs => PrepareMs + InferenceMs + PostprocessMs;
}

/// <summary>The labels one analysis contributed to a picture, with what produced them: stored per analysis.</summary>
public sealed record AnalysisLabels(AnalysisTask Task, ModelIdentity Model, double MinConfidence, IReadOnlyList<FoundLabel> Labels)
{
    public AnalysisTiming Timing { get; init; } = AnalysisTiming.Zero;
}

/// <summary>
/// Decodes an encoded image once, at the working size every analysis can take its input from. Checks byte
/// and pixel limits before decoding pixels.
/// </summary>
public interface IPictureDecoder
{
    /// <exception cref="Detection.ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    Picture Decode(byte[] encoded, IReadOnlyList<PictureNeeds> needs, out ImageInfo info);
}

/// <summary>
/// Knows how to run one kind of model for one analysis (registered in DI, one module per kind, as image
/// formats are registered): the pipeline asks the module of each configured task to load that task's model.
/// </summary>
public interface IAnalysisModule
{
    AnalysisTask Task { get; }

    /// <summary>Loads <paramref name="model"/>; an <see cref="InvalidDataException"/> when the file is not a model of this kind.</summary>
    IPictureAnalysis Load(Models.LocalModel model);
}
