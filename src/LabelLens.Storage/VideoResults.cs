using System.Data.Common;
using System.Text.Json;
using LabelLens.Analysis;
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

    /// <summary>
    /// The columns of a video row: the image's id, bucket, key, status; the videos row; its latest job; the image's format
    /// (the container). One reader for every provider (integers read as 64-bit: PostgreSQL types them exactly).
    /// </summary>
    public const string VideoColumns =
        """
        i.id, i.bucket, i.key, i.status,
        v.codec, v.format, v.duration_ms, v.frame_rate, v.width, v.height, v.color_range, v.result_job_id, v.interval_ms, v.frames, v.model_version,
        j.id, j.state, j.error, j.progress_ms, j.frames_done, j.attempts, j.updated_at, i.format
        """;

    public static VideoRecord ReadVideo(DbDataReader r)
    {
        var metadata = r.IsDBNull(4) ? null : new VideoMetadata(
            r.GetString(4),
            r.IsDBNull(6) ? null : r.GetInt64(6),
            r.GetString(5),
            r.IsDBNull(7) ? null : r.GetDouble(7),
            r.GetInt32(9),
            r.GetInt32(8),
            r.IsDBNull(10) ? null : r.GetString(10));
        var job = r.IsDBNull(15) ? null : new VideoJobProgress(
            r.GetInt64(15),
            JobStates.Parse(r.GetString(16)),
            r.IsDBNull(17) ? null : r.GetString(17),
            r.IsDBNull(18) ? null : r.GetInt64(18),
            r.GetInt32(19),
            r.GetInt32(20),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(21)));
        return new VideoRecord(
            r.GetString(0),
            r.GetString(1),
            r.GetString(2),
            r.GetString(3),
            metadata,
            job,
            r.IsDBNull(11) ? null : r.GetInt64(11),
            r.IsDBNull(12) ? null : (int)r.GetInt64(12),
            r.IsDBNull(13) ? null : r.GetInt32(13),
            r.IsDBNull(14) ? null : r.GetString(14))
        {
            Container = r.IsDBNull(22) ? null : r.GetString(22),
        };
    }

    public const string SegmentColumns = "name, start_ms, end_ms, confidence, parents, aliases, categories";

    public static LabelSegment ReadSegment(DbDataReader r, int offset) => new(
        r.GetString(offset),
        r.GetInt64(offset + 1),
        r.GetInt64(offset + 2),
        r.GetDouble(offset + 3),
        SqliteCatalog.SplitNames(r.GetString(offset + 4)),
        SqliteCatalog.SplitNames(r.GetString(offset + 5)),
        SqliteCatalog.SplitNames(r.GetString(offset + 6)));

    public const string FrameColumns = "timestamp_ms, name, confidence, parents, aliases, categories, instances";

    public static VideoFrameLabel ReadFrameLabel(DbDataReader r) => new(
        r.GetInt64(0),
        new Label(
            r.GetString(1),
            r.GetDouble(2),
            JsonSerializer.Deserialize<List<LabelInstance>>(r.GetString(6), SqliteCatalog.InstanceJson) ?? [],
            SqliteCatalog.SplitNames(r.GetString(3)),
            SqliteCatalog.SplitNames(r.GetString(4)),
            SqliteCatalog.SplitNames(r.GetString(5))));
}

/// <summary>The results table's rows from what each provider read: the same rule in every catalog provider.</summary>
internal static class ResultRows
{
    /// <param name="textRead">The images the text analysis ran on: their rows carry their text (maybe none); the others' none at all.</param>
    public static List<ResultRow> Compose(
        IEnumerable<(ImageRecord Image, string MediaType, bool OwnsKey)> images,
        Dictionary<string, List<StoredLabel>> labels,
        Dictionary<string, List<LabelSegment>> segments,
        HashSet<string> textRead,
        Dictionary<string, IReadOnlyList<TextLine>> text,
        Dictionary<string, FaceSummary> faces) =>
        images.Select(i => new ResultRow(i.Image, i.MediaType, i.OwnsKey, labels.GetValueOrDefault(i.Image.Id) ?? [], segments.GetValueOrDefault(i.Image.Id) ?? [])
        {
            Text = textRead.Contains(i.Image.Id) ? text.GetValueOrDefault(i.Image.Id) ?? [] : null,
            Faces = faces.GetValueOrDefault(i.Image.Id),
        }).ToList();
}
