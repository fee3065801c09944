using LabelLens.Analysis;
using LabelLens.Labels;

namespace LabelLens.Video;

/// <summary>The text read on one sampled frame.</summary>
public sealed record FrameText(long TimestampMillis, IReadOnlyList<TextLine> Lines);

/// <summary>
/// Turns the text read on sampled frames into occurrences, as labels become segments (<see cref="SegmentBuilder"/>,
/// the same gap and end rules): the same line (case-insensitive) on consecutive samples is one occurrence with a
/// start and an end, so a slate held for ten seconds is one hit, not twenty. Each occurrence keeps the line as it
/// was read most confidently (its words and polygon).
/// </summary>
public static class TextOccurrences
{
    public static IReadOnlyList<TextLine> Build(IReadOnlyList<long> sampledTimestamps, IReadOnlyList<FrameText> frames, long intervalMillis, long maxGapMillis, long? durationMillis)
    {
        ArgumentNullException.ThrowIfNull(frames);
        // A line is a label named by its text for the segment rules; the best reading of each text is kept beside it.
        var best = new Dictionary<(string Text, long Time), TextLine>();
        var asLabels = frames.Select(f => new FrameLabels(
            f.TimestampMillis,
            f.Lines.GroupBy(l => l.Text, StringComparer.OrdinalIgnoreCase).Select(g =>
            {
                var line = g.MaxBy(l => l.Confidence)!;
                best[(line.Text.ToUpperInvariant(), f.TimestampMillis)] = line;
                return new Label(line.Text, line.Confidence, [], [], [], []);
            }).ToList())).ToList();
        var occurrences = SegmentBuilder.Build(sampledTimestamps, asLabels, intervalMillis, maxGapMillis, durationMillis)
            .Select(segment =>
            {
                var readings = best.Where(b => string.Equals(b.Key.Text, segment.Name, StringComparison.OrdinalIgnoreCase) && b.Key.Time >= segment.StartTimestampMillis && b.Key.Time < Math.Max(segment.EndTimestampMillis, segment.StartTimestampMillis + 1));
                var line = readings.Select(r => r.Value).MaxBy(l => l.Confidence) ?? best[(segment.Name.ToUpperInvariant(), segment.StartTimestampMillis)];
                return line with { StartTimestampMillis = segment.StartTimestampMillis, EndTimestampMillis = segment.EndTimestampMillis };
            })
            .OrderBy(l => l.StartTimestampMillis)
            .ThenBy(l => Top(l))
            .ThenBy(l => Left(l))
            .ToList();

        // Time order, then reading order on screen: lines starting together whose tops are within 2% of the
        // height are one row, left to right (an insertion pass, as the reader orders a picture's lines).
        for (var i = 1; i < occurrences.Count; i++)
        {
            for (var j = i; j > 0; j--)
            {
                var (before, after) = (occurrences[j - 1], occurrences[j]);
                if (before.StartTimestampMillis != after.StartTimestampMillis || Math.Abs(Top(after) - Top(before)) >= 0.02 || Left(after) >= Left(before))
                {
                    break;
                }

                (occurrences[j - 1], occurrences[j]) = (after, before);
            }
        }

        return occurrences;
    }

    private static double Top(TextLine line) => line.Polygon.Count > 0 ? line.Polygon.Min(p => p.Y) : 0;

    private static double Left(TextLine line) => line.Polygon.Count > 0 ? line.Polygon.Min(p => p.X) : 0;
}
