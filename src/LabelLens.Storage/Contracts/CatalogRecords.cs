using LabelLens.Analysis;
using LabelLens.Labels;

namespace LabelLens.Storage;

/// <summary>Image ids, the same in every catalog provider.</summary>
public static class ImageIds
{
    /// <summary>Stable id of the object at bucket/key: the same key always maps to the same image, so retries never duplicate.</summary>
    public static string For(string bucket, string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{bucket}/{key}")).AsSpan(0, 16));
}

/// <summary>Where an image is in its life: waiting for a worker, being labeled, done, or given up on.</summary>
public static class ImageStatus
{
    public const string Queued = "queued";
    public const string Labeling = "labeling";
    public const string Labeled = "labeled";
    public const string Failed = "failed";

    public static readonly IReadOnlyList<string> All = [Queued, Labeling, Labeled, Failed];
}

/// <summary>One object of the store as the catalog knows it.</summary>
public sealed record ImageRecord(
    string Id,
    string Bucket,
    string Key,
    string ETag,
    string Sha256,
    long Size,
    string? ContentType,
    int? Width,
    int? Height,
    string? Format,
    string Status,
    string? Error,
    string? ModelVersion,
    double? MinConfidence,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? LabeledAt,
    double? LabelingMs);

/// <summary>A label as stored: what it is, how sure, where, and who said so (the model or a person).</summary>
public sealed record StoredLabel(
    string Name,
    double Confidence,
    IReadOnlyList<LabelInstance> Instances,
    IReadOnlyList<NamedItem> Parents,
    IReadOnlyList<NamedItem> Aliases,
    IReadOnlyList<NamedItem> Categories,
    string Source,
    string? ModelVersion,
    double? MinConfidence);

public static class LabelSource
{
    public const string Model = "model";
    public const string Manual = "manual";
}

/// <summary>An image with its labels (highest confidence first).</summary>
public sealed record ImageDetails(ImageRecord Image, IReadOnlyList<StoredLabel> Labels)
{
    /// <summary>Quality and colours, once labeled (images labeled before properties existed have none until relabeled).</summary>
    public ImageProperties? Properties { get; init; }

    /// <summary>Which analyses produced the labels, with which model and threshold (provenance); read for one image's details, null in search pages.</summary>
    public IReadOnlyList<AnalysisProvenance>? Analyses { get; init; }

    /// <summary>The text read in the image (lines with their words and polygons); read for one image's details and the export, null in search pages.</summary>
    public IReadOnlyList<LabelLens.Analysis.TextLine>? Text { get; init; }

    /// <summary>The faces found (count, shot size, boxes); null when the face analysis has not run on it or in search pages.</summary>
    public FaceSummary? Faces { get; init; }
}

/// <summary>
/// A picture's faces: how many, its shot size (from the largest face's height: <see cref="LabelLens.Analysis.ShotSizes"/>;
/// null without a face) and each face's box, confidence and quality.
/// </summary>
public sealed record FaceSummary(int Count, string? Shot, IReadOnlyList<LabelLens.Analysis.FaceDetail> Faces);

/// <summary>The result of recording an upload: the image row, and whether a labeling job was queued.</summary>
/// <param name="Enqueued">False when the same bytes were already stored under this key (a no-op upload).</param>
public sealed record UploadOutcome(ImageRecord Image, bool Enqueued);

/// <summary>A job a worker holds under lease.</summary>
/// <param name="Analyses">The analyses this job runs (a relabel of one analysis); null runs every configured one.</param>
public sealed record ClaimedJob(long Id, string ImageId, string Bucket, string Key, string Sha256, int Attempt, string Owner, IReadOnlyList<LabelLens.Analysis.AnalysisTask>? Analyses = null)
{
    /// <summary>A text job (the text worker's): it reads the text of an image whose labels are stored, and never changes the image's status.</summary>
    public bool IsTextOnly => Analyses is [LabelLens.Analysis.AnalysisTask.Text];
}

/// <summary>Jobs by state and the age of the oldest waiting one.</summary>
public sealed record QueueCounts(long Queued, long Running, long Done, long Failed, long Superseded)
{
    public long Depth => Queued + Running;
}

/// <summary>Images by status.</summary>
public sealed record ImageCounts(long Queued, long Labeling, long Labeled, long Failed)
{
    public long Total => Queued + Labeling + Labeled + Failed;
}

/// <summary>What a bulk relabel covers.</summary>
public enum RelabelScope
{
    /// <summary>Images whose labeling failed.</summary>
    Failed,

    /// <summary>Every image.</summary>
    All,

    /// <summary>Images with an analysis result from a model version other than the current one (or none yet).</summary>
    ModelOlder,
}

/// <summary>What produced one analysis's part of an image's labels (the image record shows it).</summary>
public sealed record AnalysisProvenance(string Analysis, string Model, string ModelSha256, string ModelVersion, double MinConfidence, DateTimeOffset ProducedAt);
