using LabelLens.Labels;
using LabelLens.Storage;

namespace LabelLens.Application;

/// <summary>An image with its labels (and, once labeled, its Rekognition-shaped image properties) as the API returns it.</summary>
public sealed record ImageResponse(ImageRecord Image, IReadOnlyList<StoredLabel> Labels)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public ImageProperties? ImageProperties { get; init; }

    /// <summary>Which analyses produced the labels: analysis, model name, file hash, version, threshold, when (the image's details only).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<AnalysisProvenance>? Analyses { get; init; }

    /// <summary>The text read in the image: lines with confidence, polygon and words (the image's details, the export, and a text search's hits).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<LabelLens.Analysis.TextLine>? Text { get; init; }

    /// <summary>Faces found: count, shot size (close-up, medium, wide; null without a face), each face's box, confidence and quality. Null until the face analysis has run.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public FaceSummary? Faces { get; init; }

    /// <summary>"image" or "video" (decided from the bytes at upload).</summary>
    public string MediaType { get; init; } = MediaTypes.Image;

    /// <summary>For videos: metadata, job status and progress, segments (ImageViews.AttachAsync).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public VideoSummary? Video { get; init; }

    public static ImageResponse From(ImageDetails details) => new(details.Image, details.Labels) { ImageProperties = details.Properties, Analyses = details.Analyses, Text = details.Text, Faces = details.Faces };
}

/// <summary>A video's state and a summary of its segments, as the image details and search return it (camelCase).</summary>
public sealed record VideoSummary(
    long? DurationMillis,
    string? Codec,
    string? Format,
    double? FrameRate,
    int? FrameWidth,
    int? FrameHeight,
    string JobStatus,
    string? StatusMessage,
    VideoProgress Progress,
    int? SampledFrames,
    int? IntervalMillis,
    IReadOnlyList<SegmentSummary> Segments,
    bool SegmentsTruncated)
{
    /// <summary>The shots in time order, with frame numbers and SMPTE timecodes; null for a video labeled before shots were detected (relabel fills them).</summary>
    public IReadOnlyList<CutSummary>? Shots { get; init; }

    /// <summary>Technical cues (BlackFrames); null when <see cref="Shots"/> is.</summary>
    public IReadOnlyList<CutSummary>? TechnicalCues { get; init; }

    /// <summary>Face tracks (runs of samples with overlapping face boxes; no identity); null when the face analysis has not run on the video.</summary>
    public IReadOnlyList<FaceTrackSummary>? FaceTracks { get; init; }

    /// <summary>
    /// The timeline by faces: stretches with the same face count and shot size (close-up, medium, wide; null without a face).
    /// A search with face conditions (faces, minFaces, maxFaces, shot) gives only the stretches they hold on. Null when the
    /// face analysis has not run on the video.
    /// </summary>
    public IReadOnlyList<FaceSpanSummary>? FaceSpans { get; init; }
}

/// <summary>The shot a moment of the video falls in: its index and time range.</summary>
public sealed record ShotReference(int Index, long StartTimestampMillis, long EndTimestampMillis);

/// <summary>
/// One shot (with its <see cref="Index"/>) or technical cue (with its <see cref="Type"/>: BlackFrames), with frame
/// numbers and SMPTE timecodes, as the API returns it; Rekognition's SHOT and TECHNICAL_CUE segments are made from it.
/// </summary>
public sealed record CutSummary(
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] int? Index,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Type,
    long StartTimestampMillis,
    long EndTimestampMillis,
    long DurationMillis,
    long StartFrameNumber,
    long EndFrameNumber,
    long DurationFrames,
    string StartTimecodeSMPTE,
    string EndTimecodeSMPTE,
    string DurationSMPTE,
    double Confidence);

public sealed record FaceTrackSummary(int Index, long StartTimestampMillis, long EndTimestampMillis, long DurationMillis, int Samples, double Confidence, double MaxFaceHeight, string? ShotSize, ShotReference? Shot);

public sealed record FaceSpanSummary(long StartTimestampMillis, long EndTimestampMillis, long DurationMillis, int Faces, string? ShotSize, ShotReference? Shot);

public sealed record VideoProgress(double? Percent, int FramesDone, long? ProcessedMillis);

/// <summary>A label's segment; <see cref="Shot"/> is the shot it starts in (null for a video without stored shots).</summary>
public sealed record SegmentSummary(string Name, long StartTimestampMillis, long EndTimestampMillis, long DurationMillis, double Confidence)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public ShotReference? Shot { get; init; }
}
