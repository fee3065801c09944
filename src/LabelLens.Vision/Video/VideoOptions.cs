using System.ComponentModel.DataAnnotations;

namespace LabelLens.Vision.Video;

/// <summary>How videos are sampled and labeled, and their limits. Section "Video".</summary>
public sealed class VideoOptions
{
    public const string Section = "Video";

    /// <summary>The ffmpeg executable: a path, or a name looked up on PATH.</summary>
    [Required]
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>The ffprobe executable: a path, or a name looked up on PATH.</summary>
    [Required]
    public string FfprobePath { get; set; } = "ffprobe";

    /// <summary>A frame is sampled at least this often (milliseconds of video).</summary>
    [Range(40, 60_000)]
    public int IntervalMillis { get; set; } = 500;

    /// <summary>Frames whose scene-change score (ffmpeg's select `scene`, 0-1) is above this are sampled too; 0 turns scene sampling off.</summary>
    [Range(0, 1)]
    public double SceneThreshold { get; set; } = 0.3;

    /// <summary>Two detections of a label at most this far apart (ms) belong to one segment; 0 means twice the interval.</summary>
    [Range(0, 3_600_000)]
    public int SegmentGapMillis { get; set; }

    /// <summary>Longest video labeled (default 4 hours); longer ones fail with VideoTooLong.</summary>
    [Range(1, 1_000_000)]
    public double MaxDurationSeconds { get; set; } = 4 * 3600;

    /// <summary>Largest video labeled (default 5 GiB, as Server:MaxObjectBytes); larger ones are stored but fail with VideoTooLarge.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>Videos labeled at once. Each runs one ffmpeg and one inference thread; image workers are separate, so videos never starve images.</summary>
    [Range(1, 64)]
    public int Workers { get; set; } = 1;

    /// <summary>Frame detections and the resume point are committed every this many sampled frames.</summary>
    [Range(1, 10_000)]
    public int CheckpointFrames { get; set; } = 20;

    public int EffectiveSegmentGapMillis => SegmentGapMillis > 0 ? SegmentGapMillis : 2 * IntervalMillis;
}
