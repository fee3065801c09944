using System.Text.Json.Serialization;

namespace LabelLens.Labels;

// Shapes mirror Amazon Rekognition DetectLabels so existing consumers can read them unchanged;
// property names are serialised exactly as declared (PascalCase), as the service does.

public sealed record BoundingBox(double Width, double Height, double Left, double Top)
{
    [JsonIgnore]
    public double Area => Width * Height;
}

public sealed record LabelInstance(BoundingBox BoundingBox, double Confidence)
{
    /// <summary>The instance's own dominant colours; only with the IMAGE_PROPERTIES feature.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DominantColor>? DominantColors { get; init; }
}

public sealed record NamedItem(string Name);

public sealed record Label(
    string Name,
    double Confidence,
    IReadOnlyList<LabelInstance> Instances,
    IReadOnlyList<NamedItem> Parents,
    IReadOnlyList<NamedItem> Aliases,
    IReadOnlyList<NamedItem> Categories);

/// <summary>What the decoder learned about the image: size after EXIF orientation, and its container format.</summary>
public sealed record ImageInfo(int Width, int Height, string Format, long Bytes);

/// <summary>
/// Milliseconds spent in each stage of the pipeline for one image, to 0.01 ms: what a clock can tell apart, and no
/// float noise when printed (a sum of doubles would show as 101.94989999999999).
/// </summary>
public sealed record StageTimings(double DecodeMs, double TensorMs, double InferenceMs, double PostprocessMs)
{
    private readonly double _propertiesMs;

    public double DecodeMs { get; init; } = Math.Round(DecodeMs, 2);

    public double TensorMs { get; init; } = Math.Round(TensorMs, 2);

    public double InferenceMs { get; init; } = Math.Round(InferenceMs, 2);

    public double PostprocessMs { get; init; } = Math.Round(PostprocessMs, 2);

    /// <summary>Image properties (quality and colours), when asked for.</summary>
    public double PropertiesMs { get => _propertiesMs; init => _propertiesMs = Math.Round(value, 2); }

    [JsonPropertyOrder(10)]
    public double TotalMs => Math.Round(DecodeMs + TensorMs + InferenceMs + PostprocessMs + PropertiesMs, 2);
}

/// <summary>The result for one image: Rekognition's DetectLabels response plus image facts and timings.</summary>
public sealed record LabelsResult(
    IReadOnlyList<Label> Labels,
    string LabelModelVersion,
    ImageInfo Image,
    StageTimings Timings)
{
    /// <summary>Quality and colours; only with the IMAGE_PROPERTIES feature.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImageProperties? ImageProperties { get; init; }

    /// <summary>Each analysis's own labels, model and threshold: what the catalog stores per analysis (provenance).</summary>
    [JsonIgnore]
    public IReadOnlyList<LabelLens.Analysis.AnalysisLabels> Analyses { get; init; } = [];

    /// <summary>The faces the face analysis found (at or above its own floor, Faces:MinConfidence); null when it did not run.</summary>
    [JsonIgnore]
    public LabelLens.Analysis.DetectedFaces? Faces { get; init; }

    /// <summary>The text analysis is configured and reads the picture after these labels are stored (its stored text is kept until then).</summary>
    [JsonIgnore]
    public bool TextFollows { get; init; }
}
