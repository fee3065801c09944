namespace LabelLens.Video;

/// <summary>
/// What ffprobe says about a video, in the shape of Rekognition Video's VideoMetadata. FrameWidth and
/// FrameHeight are the displayed frame (after the container's rotation), the frame boxes are ratios of.
/// </summary>
public sealed record VideoMetadata(
    string Codec,
    long? DurationMillis,
    string Format,
    double? FrameRate,
    int FrameHeight,
    int FrameWidth,
    string? ColorRange)
{
    /// <summary>Display width over stored width (anamorphic video); 1 for square pixels.</summary>
    public double SampleAspectRatio { get; init; } = 1;
}

/// <summary>Why a video cannot be labeled because of the video itself; retrying will not help.</summary>
public sealed class VideoRejectedException : Exception
{
    public const string InvalidVideoFormat = nameof(InvalidVideoFormat);
    public const string VideoTooLarge = nameof(VideoTooLarge);
    public const string VideoTooLong = nameof(VideoTooLong);

    public VideoRejectedException(string code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    public VideoRejectedException()
        : this(InvalidVideoFormat, "The video was rejected.")
    {
    }

    public VideoRejectedException(string message)
        : this(InvalidVideoFormat, message)
    {
    }

    public VideoRejectedException(string message, Exception inner)
        : this(InvalidVideoFormat, message, inner)
    {
    }

    public string Code { get; }

    /// <summary>"VideoTooLong: ..." — the form stored as the job's error.</summary>
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>ffmpeg or ffprobe is not installed (or not where configured): a setup problem, worth retrying later.</summary>
public sealed class FfmpegMissingException : Exception
{
    public FfmpegMissingException(string message)
        : base(message)
    {
    }

    public FfmpegMissingException()
        : this("ffmpeg not found")
    {
    }

    public FfmpegMissingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
