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
    bool SegmentsTruncated);

public sealed record VideoProgress(double? Percent, int FramesDone, long? ProcessedMillis);

public sealed record SegmentSummary(string Name, long StartTimestampMillis, long EndTimestampMillis, long DurationMillis, double Confidence);
