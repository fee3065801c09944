using System.Text.Json.Serialization;
using LabelLens.Labels;
using LabelLens.Video;

namespace LabelLens.Storage;

/// <summary>What an object is, decided from its bytes at upload.</summary>
public static class MediaTypes
{
    public const string Image = "image";
    public const string Video = "video";
}

/// <summary>Which workers a job is for (jobs.kind; the object's media type).</summary>
public enum JobKind
{
    /// <summary>The image workers (and the CLI).</summary>
    Image,

    /// <summary>The video worker.</summary>
    Video,

    /// <summary>The text worker: reads an image's text after its labels are stored (jobs.kind 'text').</summary>
    Text,
}

/// <summary>Where a labeling job is in its life (jobs.state).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState
{
    /// <summary>Waiting for a worker (or for its backoff to pass).</summary>
    [JsonStringEnumMemberName("queued")]
    Queued,

    /// <summary>Held by a worker under a lease.</summary>
    [JsonStringEnumMemberName("running")]
    Running,

    /// <summary>Its result is stored.</summary>
    [JsonStringEnumMemberName("done")]
    Done,

    /// <summary>Given up on (or cancelled); the error says why.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>A newer job for the image (new bytes, a relabel, a delete) replaced it.</summary>
    [JsonStringEnumMemberName("superseded")]
    Superseded,
}

public static class JobStates
{
    /// <summary>The state as stored ("queued", "running", ...).</summary>
    public static JobState Parse(string stored) => stored switch
    {
        "queued" => JobState.Queued,
        "running" => JobState.Running,
        "done" => JobState.Done,
        "failed" => JobState.Failed,
        "superseded" => JobState.Superseded,
        _ => throw new InvalidDataException($"Unknown job state '{stored}' in the catalog."),
    };

    /// <summary>The kind as stored: "image", "video" or "text".</summary>
    public static string Stored(this JobKind kind) => kind switch
    {
        JobKind.Video => MediaTypes.Video,
        JobKind.Text => "text",
        _ => MediaTypes.Image,
    };
}

/// <summary>A video's latest labeling job: its state, error and progress.</summary>
public sealed record VideoJobProgress(long JobId, JobState State, string? Error, long? ProcessedMillis, int FramesDone, int Attempts, DateTimeOffset UpdatedAt);

/// <summary>A video as the catalog knows it: metadata (once probed), its latest job, and which job's result is current.</summary>
public sealed record VideoRecord(
    string ImageId,
    string Bucket,
    string Key,
    string Status,
    VideoMetadata? Metadata,
    VideoJobProgress? Job,
    long? ResultJobId,
    int? IntervalMillis,
    int? Frames,
    string? ModelVersion)
{
    /// <summary>The container recognised from the bytes at upload: mp4, mov, mkv, webm or avi (null before the first probe).</summary>
    public string? Container { get; init; }

    /// <summary>0-100 for a running job whose duration is known.</summary>
    public double? Percent =>
        Job?.State == JobState.Done ? 100
        : Job is { ProcessedMillis: { } done } && Metadata?.DurationMillis is { } total && total > 0 ? Math.Round(Math.Clamp(100.0 * done / total, 0, 100), 1)
        : null;
}

/// <summary>One label on one sampled frame.</summary>
public sealed record VideoFrameLabel(long TimestampMillis, Label Label);

/// <summary>A running or queued video job, for the queue view.</summary>
public sealed record VideoQueueEntry(string ImageId, string Bucket, string Key, JobState State, long? ProcessedMillis, long? DurationMillis, int FramesDone, double? Percent);

/// <summary>What a finished video job stores besides its frames.</summary>
public sealed record VideoCompletion(string Format, int IntervalMillis, int SegmentGapMillis, string ModelVersion, double MinConfidence, double LabelingMs)
{
    /// <summary>The text analysis is configured: a text job reads the video's text after its labels are stored.</summary>
    public bool TextFollows { get; init; }

    /// <summary>The shots and technical cues ffmpeg found (stored as the video's current ones).</summary>
    public VideoCuts Cuts { get; init; } = VideoCuts.None;

    /// <summary>The face analysis ran on the frames: face tracks and spans are derived (without it the video has none, not zero faces).</summary>
    public bool FacesAnalysed { get; init; }
}
