using System.Globalization;

namespace LabelLens.Video;

/// <summary>
/// One shot: the frames between two cuts. Start is the cut's frame (0 for the first shot); End is where the next
/// shot starts (the video's end for the last), so EndFrame is the shot's last frame, as Rekognition numbers them.
/// Confidence is ffmpeg's scene-change score of the cut that starts the shot, as a percentage (100 for the first).
/// </summary>
public sealed record VideoShot(int Index, long StartTimestampMillis, long EndTimestampMillis, long StartFrameNumber, long EndFrameNumber, double Confidence)
{
    public long DurationMillis => EndTimestampMillis - StartTimestampMillis;

    public long DurationFrames => EndFrameNumber - StartFrameNumber + 1;
}

/// <summary>A technical cue (Rekognition's TECHNICAL_CUE segment): only BlackFrames, the one ffmpeg finds reliably (blackdetect).</summary>
public sealed record TechnicalCue(string Type, long StartTimestampMillis, long EndTimestampMillis, long StartFrameNumber, long EndFrameNumber, double Confidence)
{
    public const string BlackFrames = nameof(BlackFrames);

    public long DurationMillis => EndTimestampMillis - StartTimestampMillis;

    public long DurationFrames => EndFrameNumber - StartFrameNumber + 1;
}

/// <summary>A video's shots and technical cues, in time order.</summary>
public sealed record VideoCuts(IReadOnlyList<VideoShot> Shots, IReadOnlyList<TechnicalCue> TechnicalCues)
{
    public static VideoCuts None { get; } = new([], []);

    /// <summary>The shot a moment of the video falls in (the last shot for a moment at or past the end); null when no shots are stored.</summary>
    public VideoShot? ShotAt(long timestampMillis) =>
        Shots.LastOrDefault(s => s.StartTimestampMillis <= timestampMillis) ?? (Shots.Count > 0 ? Shots[0] : null);
}

/// <summary>A cut found by ffmpeg: the first frame of a new shot (time from the start) and its scene-change score (0-1).</summary>
public readonly record struct SceneCut(long TimestampMillis, double Score);

/// <summary>A run of black frames as ffmpeg's blackdetect reports it: start and end (exclusive) in milliseconds.</summary>
public readonly record struct BlackRun(long StartMillis, long EndMillis);

/// <summary>
/// Frame numbers and SMPTE timecodes from times, at the video's frame rate. Frame n starts at n / rate seconds;
/// a timecode is HH:MM:SS:FF counted in whole frames at the nominal (rounded) rate, non-drop-frame, as
/// Rekognition prints it for integer rates (29.97 fps video is counted at 30, without drop-frame's skipped numbers).
/// </summary>
public readonly record struct FrameClock(double FrameRate)
{
    /// <summary>Assumed when ffprobe reports no frame rate (a few containers have none): Rekognition's frame fields need one.</summary>
    public const double FallbackRate = 25;

    public static FrameClock For(double? frameRate) => new(frameRate is > 0 and < 10_000 ? frameRate.Value : FallbackRate);

    /// <summary>The frame shown at <paramref name="millis"/> (rounded to the nearest frame start: timestamps are rounded to ms).</summary>
    public long Frame(long millis) => Math.Max(0, (long)Math.Round(millis * FrameRate / 1000.0));

    /// <summary>HH:MM:SS:FF of a frame count from the start (a frame number, or a duration in frames).</summary>
    public string Smpte(long frames)
    {
        var nominal = Math.Max(1, (long)Math.Round(FrameRate));
        var seconds = frames / nominal;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{seconds / 3600:00}:{seconds / 60 % 60:00}:{seconds % 60:00}:{frames % nominal:00}");
    }
}

/// <summary>Turns ffmpeg's cuts and black runs into shots and cues, with frame numbers at the video's rate.</summary>
public static class ShotBuilder
{
    public static VideoCuts Build(IReadOnlyList<SceneCut> cuts, IReadOnlyList<BlackRun> blackRuns, long? durationMillis, double? frameRate)
    {
        ArgumentNullException.ThrowIfNull(cuts);
        ArgumentNullException.ThrowIfNull(blackRuns);
        var clock = FrameClock.For(frameRate);
        var lastCut = cuts.Count > 0 ? cuts.Max(c => c.TimestampMillis) : 0;
        var end = Math.Max(durationMillis ?? 0, Math.Max(lastCut, blackRuns.Count > 0 ? blackRuns.Max(b => b.EndMillis) : 0));
        var totalFrames = Math.Max(1, clock.Frame(end));
        // A cut on frame 0 (a score against nothing) or two on one frame would make empty shots.
        var starts = new List<(long Frame, long Millis, double Score)> { (0, 0, 1) };
        foreach (var cut in cuts.OrderBy(c => c.TimestampMillis))
        {
            var frame = clock.Frame(cut.TimestampMillis);
            if (frame > starts[^1].Frame && frame < totalFrames)
            {
                starts.Add((frame, cut.TimestampMillis, cut.Score));
            }
        }

        var shots = new List<VideoShot>(starts.Count);
        for (var i = 0; i < starts.Count; i++)
        {
            var (frame, millis, score) = starts[i];
            var (nextFrame, nextMillis) = i + 1 < starts.Count ? (starts[i + 1].Frame, starts[i + 1].Millis) : (totalFrames, Math.Max(end, millis));
            shots.Add(new VideoShot(i, millis, nextMillis, frame, nextFrame - 1, Math.Round(Math.Clamp(score, 0, 1) * 100, 3)));
        }

        var cues = blackRuns
            .Where(b => b.EndMillis > b.StartMillis)
            .OrderBy(b => b.StartMillis)
            // blackdetect gives no score: a run it reports passed its thresholds, and is given as certain.
            .Select(b => new TechnicalCue(TechnicalCue.BlackFrames, b.StartMillis, b.EndMillis, clock.Frame(b.StartMillis), Math.Max(clock.Frame(b.StartMillis), clock.Frame(b.EndMillis) - 1), 100))
            .ToList();
        return new VideoCuts(shots, cues);
    }
}
