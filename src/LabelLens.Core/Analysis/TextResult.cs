using System.Text.Json.Serialization;
using LabelLens.Labels;

namespace LabelLens.Analysis;

/// <summary>A point as ratios of the source picture's width and height (0-1), as Rekognition's Polygon.</summary>
public sealed record TextPoint(double X, double Y);

/// <summary>One word of a line: its text, confidence (0-100) and the part of the line's polygon it covers.</summary>
public sealed record TextWord(string Text, double Confidence, IReadOnlyList<TextPoint> Polygon)
{
    /// <summary>The axis-aligned box around <see cref="Polygon"/>, as ratios (Rekognition's BoundingBox).</summary>
    [JsonIgnore]
    public BoundingBox BoundingBox => TextGeometry.Bounds(Polygon);
}

/// <summary>
/// One line of text: what the recogniser read, its confidence (0-100, the mean of the kept characters'
/// probabilities), its polygon (four corners clockwise from the top left of the text, so an angled line is
/// an angled quadrilateral) and its words.
/// </summary>
public sealed record TextLine(string Text, double Confidence, IReadOnlyList<TextPoint> Polygon, IReadOnlyList<TextWord> Words)
{
    [JsonIgnore]
    public BoundingBox BoundingBox => TextGeometry.Bounds(Polygon);

    /// <summary>In a video: where this text is on screen (one occurrence over consecutive samples); null in a photo.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? StartTimestampMillis { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? EndTimestampMillis { get; init; }
}

/// <summary>The text analysis's answer: lines (top to bottom, left to right), each with its words. It gives no labels.</summary>
public sealed record DetectedText(ModelIdentity Model, IReadOnlyList<TextLine> Lines) : AnalysisResult(AnalysisTask.Text, Model)
{
    public override IReadOnlyList<FoundLabel> ToLabels(LabelBuilder builder, int sourceWidth, int sourceHeight, double minConfidence) => [];

    /// <summary>The lines, and each line's words, at or above <paramref name="minConfidence"/> (a line below it goes with its words).</summary>
    public DetectedText AtLeast(double minConfidence) => this with
    {
        Lines = Lines.Where(l => l.Confidence >= minConfidence)
            .Select(l => l with { Words = l.Words.Where(w => w.Confidence >= minConfidence).ToList() })
            .ToList(),
    };
}

public static class TextGeometry
{
    /// <summary>The axis-aligned box around a polygon, clamped to the picture (0-1).</summary>
    public static BoundingBox Bounds(IReadOnlyList<TextPoint> polygon)
    {
        ArgumentNullException.ThrowIfNull(polygon);
        if (polygon.Count == 0)
        {
            return new BoundingBox(0, 0, 0, 0);
        }

        var left = Math.Clamp(polygon.Min(p => p.X), 0, 1);
        var top = Math.Clamp(polygon.Min(p => p.Y), 0, 1);
        var right = Math.Clamp(polygon.Max(p => p.X), 0, 1);
        var bottom = Math.Clamp(polygon.Max(p => p.Y), 0, 1);
        return new BoundingBox(right - left, bottom - top, left, top);
    }
}
