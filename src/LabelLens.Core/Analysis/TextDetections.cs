using System.Text.Json.Serialization;
using LabelLens.Labels;

namespace LabelLens.Analysis;

// Rekognition DetectText's shapes, member names exactly as the service serialises them (PascalCase).

public sealed record TextDetectionGeometry(BoundingBox BoundingBox, IReadOnlyList<TextPoint> Polygon);

/// <summary>One LINE or WORD: words name their line in <see cref="ParentId"/>; lines have none.</summary>
public sealed record TextDetection(
    string DetectedText,
    string Type,
    int Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ParentId,
    double Confidence,
    TextDetectionGeometry Geometry);

/// <summary>
/// DetectText's filters: Filters.WordFilter (confidence 0-100, box height and width as ratios of the picture)
/// and Filters.RegionsOfInterest (a word counts when more than half of its box lies in a region).
/// </summary>
public sealed record TextFilter
{
    public const int MaxWords = 100;

    public double MinConfidence { get; init; }

    public double MinBoundingBoxHeight { get; init; }

    public double MinBoundingBoxWidth { get; init; }

    public IReadOnlyList<BoundingBox> RegionsOfInterest { get; init; } = [];

    public static TextFilter None { get; } = new();

    public bool Keeps(TextWord word)
    {
        ArgumentNullException.ThrowIfNull(word);
        var box = word.BoundingBox;
        return word.Confidence >= MinConfidence
            && box.Height >= MinBoundingBoxHeight
            && box.Width >= MinBoundingBoxWidth
            && (RegionsOfInterest.Count == 0 || RegionsOfInterest.Any(r => Overlap(box, r) > box.Area / 2));
    }

    private static double Overlap(BoundingBox a, BoundingBox b) =>
        Math.Max(0, Math.Min(a.Left + a.Width, b.Left + b.Width) - Math.Max(a.Left, b.Left))
        * Math.Max(0, Math.Min(a.Top + a.Height, b.Top + b.Height) - Math.Max(a.Top, b.Top));
}

public static class TextDetections
{
    /// <summary>
    /// Rekognition's list: every LINE first (ids 0..), then every WORD with its line's id as ParentId, as the
    /// service orders them. The filter applies to words; a line none of whose words passes is left out. At
    /// most <see cref="TextFilter.MaxWords"/> words (DetectText's limit), their lines with them.
    /// </summary>
    public static IReadOnlyList<TextDetection> From(DetectedText text, TextFilter? filter = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        filter ??= TextFilter.None;
        var kept = new List<(TextLine Line, List<TextWord> Words)>();
        var words = 0;
        foreach (var line in text.Lines)
        {
            var passing = line.Words.Where(filter.Keeps).Take(TextFilter.MaxWords - words).ToList();
            if (passing.Count > 0)
            {
                kept.Add((line, passing));
                words += passing.Count;
            }
        }

        var detections = new List<TextDetection>(kept.Count + words);
        for (var i = 0; i < kept.Count; i++)
        {
            var line = kept[i].Line;
            detections.Add(new TextDetection(line.Text, "LINE", i, null, line.Confidence, new TextDetectionGeometry(Round(line.BoundingBox), line.Polygon)));
        }

        for (var i = 0; i < kept.Count; i++)
        {
            foreach (var word in kept[i].Words)
            {
                detections.Add(new TextDetection(word.Text, "WORD", detections.Count, i, word.Confidence, new TextDetectionGeometry(Round(word.BoundingBox), word.Polygon)));
            }
        }

        return detections;
    }

    private static BoundingBox Round(BoundingBox box) =>
        new(Math.Round(box.Width, 6), Math.Round(box.Height, 6), Math.Round(box.Left, 6), Math.Round(box.Top, 6));
}
