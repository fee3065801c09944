using System.ComponentModel.DataAnnotations;
using LabelLens.Analysis;
using LabelLens.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Vision;

/// <summary>Objects with boxes: YOLOX exports.</summary>
public sealed class YoloxModule(IOptions<DetectorOptions> options, TimeProvider time, ILoggerFactory loggers) : IAnalysisModule
{
    public AnalysisTask Task => AnalysisTask.Objects;

    public IPictureAnalysis Load(LocalModel model) => new YoloxDetector(model, options.Value, time, loggers.CreateLogger<YoloxDetector>());
}

/// <summary>Whole-image classes: ImageNet-1k classifiers with WordNet ids.</summary>
public sealed class ImageNetClassifierModule(IOptions<DetectorOptions> options, TimeProvider time, ILoggerFactory loggers) : IAnalysisModule
{
    public AnalysisTask Task => AnalysisTask.Classes;

    public IPictureAnalysis Load(LocalModel model) => new ImageNetClassifier(model, options.Value, time, loggers.CreateLogger<ImageNetClassifier>());
}

/// <summary>Text lines and words: PP-OCRv4's detector, recogniser and angle classifier, from one model folder.</summary>
public sealed class PaddleTextModule(IOptions<Ocr.TextOptions> options, IOptions<DetectorOptions> runtime, TimeProvider time, ILoggerFactory loggers) : IAnalysisModule
{
    public AnalysisTask Task => AnalysisTask.Text;

    public IPictureAnalysis Load(LocalModel model) => new Ocr.PaddleTextReader(model, options.Value, runtime.Value, time, loggers.CreateLogger<Ocr.PaddleTextReader>());
}

/// <summary>Faces with boxes and quality: UltraFace RFB-320 or RFB-640.</summary>
public sealed class UltraFaceModule(IOptions<Faces.FaceOptions> options, IOptions<DetectorOptions> runtime, TimeProvider time, ILoggerFactory loggers) : IAnalysisModule
{
    public AnalysisTask Task => AnalysisTask.Faces;

    public IPictureAnalysis Load(LocalModel model) => new Faces.UltraFaceDetector(model, options.Value, runtime.Value, time, loggers.CreateLogger<Faces.UltraFaceDetector>());
}

/// <summary>
/// Which analyses run and with which model. Section "Analysis": <c>Tasks</c> is a comma-separated list
/// ("objects,classes,faces"; set it whole, e.g. LABELLENS_Analysis__Tasks=objects), <c>Models</c> maps a task to a
/// model name (Analysis:Models:classes=mobilenetv2-int8); a task without one uses the catalog default
/// (objects: Models:Default, or Labeling:Model).
/// </summary>
public sealed class AnalysisOptions : IValidatableObject
{
    public const string Section = "Analysis";

    public string Tasks { get; set; } = "objects,classes,faces";

    public Dictionary<string, string> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The configured tasks, parsed (a method, not a property: the configuration binder reads properties).</summary>
    public IReadOnlyList<AnalysisTask> ParseTasks() => AnalysisTasks.ParseList(Tasks);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        IReadOnlyList<AnalysisTask> tasks;
        try
        {
            tasks = ParseTasks();
        }
        catch (ArgumentException ex)
        {
            return [new ValidationResult($"Analysis:Tasks: {ex.Message}", [nameof(Tasks)])];
        }

        if (tasks.Count == 0)
        {
            return [new ValidationResult($"Analysis:Tasks names no analysis; give at least one of {Known}.", [nameof(Tasks)])];
        }

        return Models.Keys.Where(k => !AnalysisTasks.TryParse(k, out _))
            .Select(k => new ValidationResult($"Analysis:Models:{k}: '{k}' is not an analysis ({Known}).", [nameof(Models)]))
            .ToList();
    }

    private static string Known => string.Join(", ", Enum.GetValues<AnalysisTask>().Select(t => t.Name()));

    /// <summary>
    /// The model a task uses: for objects an explicit <paramref name="objectsModel"/> (the CLI's --model) first; then
    /// Analysis:Models:&lt;task&gt; (Labeling:Model fills it for objects); then <paramref name="defaultObjectsModel"/>
    /// (Models:Default) for objects, or the catalog's default for the task.
    /// </summary>
    public string ModelFor(AnalysisTask task, string? objectsModel, string defaultObjectsModel) =>
        task == AnalysisTask.Objects && objectsModel is { Length: > 0 } ? objectsModel
        : Models.TryGetValue(task.Name(), out var configured) && configured.Length > 0 ? configured
        : task == AnalysisTask.Objects ? defaultObjectsModel
        : ModelCatalog.DefaultFor(task);
}
