using LabelLens.Labels;

namespace LabelLens.Analysis;

/// <summary>
/// One face: its box (ratios of the picture, Rekognition's BoundingBox), the detector's confidence (0-100) and
/// the quality of its crop (brightness and sharpness, 0-100, as Rekognition's ImageQuality). UltraFace finds
/// boxes only: no landmarks, pose, age, emotions or identity.
/// </summary>
public sealed record FaceDetail(BoundingBox BoundingBox, double Confidence, FaceQuality Quality);

/// <summary>Rekognition's face ImageQuality: Brightness and Sharpness, 0-100.</summary>
public sealed record FaceQuality(double Brightness, double Sharpness);

/// <summary>The face analysis's answer: faces, most confident first. <see cref="ToLabels"/> gives the Face label with one instance per face.</summary>
public sealed record DetectedFaces(ModelIdentity Model, IReadOnlyList<FaceDetail> Faces) : AnalysisResult(AnalysisTask.Faces, Model)
{
    /// <summary>The class the taxonomy maps to the Face label.</summary>
    public const string FaceClass = "face";

    /// <summary>The label the taxonomy gives that class.</summary>
    public const string FaceLabel = "Face";

    public override IReadOnlyList<FoundLabel> ToLabels(LabelBuilder builder, int sourceWidth, int sourceHeight, double minConfidence)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Through the detections path so the label, its instances and categories come from the taxonomy like any detector's.
        var detections = Faces.Select(f => new Detection.Detection(
            0,
            (float)(f.Confidence / 100),
            (float)(f.BoundingBox.Left * sourceWidth),
            (float)(f.BoundingBox.Top * sourceHeight),
            (float)((f.BoundingBox.Left + f.BoundingBox.Width) * sourceWidth),
            (float)((f.BoundingBox.Top + f.BoundingBox.Height) * sourceHeight))).ToList();
        return builder.FromDetections(detections, [FaceClass], sourceWidth, sourceHeight, minConfidence);
    }

    /// <summary>The faces at or above <paramref name="minConfidence"/> (0-100).</summary>
    public IReadOnlyList<FaceDetail> AtLeast(double minConfidence) => Faces.Where(f => f.Confidence >= minConfidence).ToList();
}

/// <summary>
/// Shot size, as film people say it, from the largest face's height relative to the frame's height:
/// close-up when it is at least <see cref="CloseUpMin"/> (a head and shoulders fill the frame), medium from
/// <see cref="MediumMin"/> (waist or chest up), wide below that (whole bodies, groups, crowds). No face: no shot size.
/// </summary>
public static class ShotSizes
{
    public const string CloseUp = "close-up";
    public const string Medium = "medium";
    public const string Wide = "wide";

    /// <summary>The largest face is at least a quarter of the frame's height.</summary>
    public const double CloseUpMin = 0.25;

    /// <summary>The largest face is at least a tenth of the frame's height.</summary>
    public const double MediumMin = 0.10;

    public static IReadOnlyList<string> All { get; } = [CloseUp, Medium, Wide];

    /// <summary>The shot size for a largest face <paramref name="faceHeight"/> high (ratio of the frame); null without a face.</summary>
    public static string? From(double? faceHeight) => faceHeight switch
    {
        null or <= 0 => null,
        >= CloseUpMin => CloseUp,
        >= MediumMin => Medium,
        _ => Wide,
    };

    /// <summary>The range of largest-face heights [min, max) a shot size covers.</summary>
    public static (double Min, double Max) Range(string shot) => shot switch
    {
        CloseUp => (CloseUpMin, double.MaxValue),
        Medium => (MediumMin, CloseUpMin),
        Wide => (double.Epsilon, MediumMin),
        _ => throw new ArgumentException($"'{shot}' is not a shot size; use {string.Join(", ", All)}.", nameof(shot)),
    };
}
