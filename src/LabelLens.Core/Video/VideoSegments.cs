using LabelLens.Labels;

namespace LabelLens.Video;

/// <summary>The labels found on one sampled frame (timestamp in milliseconds from the start of the video).</summary>
public sealed record FrameLabels(long TimestampMillis, IReadOnlyList<Label> Labels);

/// <summary>One stretch of a video in which a label was seen: Rekognition Video's SEGMENTS aggregation.</summary>
public sealed record LabelSegment(
    string Name,
    long StartTimestampMillis,
    long EndTimestampMillis,
    double Confidence,
    IReadOnlyList<NamedItem> Parents,
    IReadOnlyList<NamedItem> Aliases,
    IReadOnlyList<NamedItem> Categories)
{
    public long DurationMillis => EndTimestampMillis - StartTimestampMillis;
}

/// <summary>
/// Turns per-frame labels into per-label segments. A label's consecutive detections are merged when the gap
/// between them is at most <c>maxGap</c> (a missed frame or two — the detector flickers — does not split a
/// shot). A segment starts at its first detection and ends where the next sampled frame without the label
/// starts, at most one sampling interval after the last detection (and never past the video's end), so a
/// label seen on one frame still has a duration.
/// </summary>
public static class SegmentBuilder
{
    public static IReadOnlyList<LabelSegment> Build(
        IReadOnlyList<long> sampledTimestamps,
        IReadOnlyList<FrameLabels> frames,
        long intervalMillis,
        long maxGapMillis,
        long? durationMillis)
    {
        ArgumentNullException.ThrowIfNull(sampledTimestamps);
        ArgumentNullException.ThrowIfNull(frames);
        var samples = sampledTimestamps.Distinct().Order().ToArray();
        var byLabel = new Dictionary<string, List<(long Time, Label Label)>>(StringComparer.OrdinalIgnoreCase);
        foreach (var frame in frames.OrderBy(f => f.TimestampMillis))
        {
            foreach (var label in frame.Labels)
            {
                if (!byLabel.TryGetValue(label.Name, out var seen))
                {
                    byLabel[label.Name] = seen = [];
                }

                seen.Add((frame.TimestampMillis, label));
            }
        }

        var segments = new List<LabelSegment>();
        foreach (var (_, seen) in byLabel)
        {
            var start = 0;
            for (var i = 1; i <= seen.Count; i++)
            {
                if (i < seen.Count && seen[i].Time - seen[i - 1].Time <= maxGapMillis)
                {
                    continue;
                }

                var run = seen.GetRange(start, i - start);
                var last = run[^1].Time;
                var end = last + intervalMillis;
                var next = Array.BinarySearch(samples, last);
                next = next >= 0 ? next + 1 : ~next;
                if (next < samples.Length)
                {
                    end = Math.Min(end, samples[next]);
                }

                if (durationMillis is { } duration && duration > run[0].Time)
                {
                    end = Math.Min(end, duration);
                }

                var best = run.MaxBy(r => r.Label.Confidence).Label;
                segments.Add(new LabelSegment(best.Name, run[0].Time, Math.Max(end, run[0].Time), best.Confidence, best.Parents, best.Aliases, best.Categories));
                start = i;
            }
        }

        return segments
            .OrderBy(s => s.StartTimestampMillis)
            .ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Video-level labels for search: each label once, with its best confidence over every frame (no boxes).</summary>
    public static IReadOnlyList<Label> VideoLabels(IReadOnlyList<FrameLabels> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        return frames
            .SelectMany(f => f.Labels)
            .GroupBy(l => l.Name, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.MaxBy(l => l.Confidence)! with { Instances = [] })
            .OrderByDescending(l => l.Confidence)
            .ThenBy(l => l.Name, StringComparer.Ordinal)
            .ToList();
    }
}
