using LabelLens.Labels;
using LabelLens.Video;

namespace LabelLens.Storage;

/// <summary>What a finished video job stores, from the frames it committed: the same rule in every catalog provider.</summary>
internal static class VideoResults
{
    /// <summary>The job's frame rows (in time order) as frames.</summary>
    public static List<FrameLabels> Frames(IEnumerable<VideoFrameLabel> rows) =>
        rows.GroupBy(f => f.TimestampMillis).Select(g => new FrameLabels(g.Key, g.Select(f => f.Label).ToList())).ToList();

    /// <summary>
    /// The video-level labels (best confidence per label, <see cref="SegmentBuilder.VideoLabels"/>) with their rank
    /// (from 1, the model's order), but those a person added or removed by hand: their edits stay.
    /// </summary>
    public static List<(Label Label, int Rank)> Labels(IReadOnlyList<FrameLabels> frames, IEnumerable<string> edited)
    {
        var skip = edited.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return SegmentBuilder.VideoLabels(frames).Select((l, i) => (Label: l, Rank: i + 1)).Where(l => !skip.Contains(l.Label.Name)).ToList();
    }
}
