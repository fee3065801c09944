using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using LabelLens.Video;

namespace LabelLens.Vision.Video;

/// <summary>
/// Finds a video's shots and black frames with one ffmpeg pass over every frame, scaled down first (the scene
/// score and the black test need no detail, and small frames make the pass cheap): blackdetect reports runs of
/// black frames, and select's scene score (the same score and threshold, Video:SceneThreshold, that makes the
/// sampler take a frame where the scene changes) marks the cuts. A separate pass from the sampler's, because the
/// sampler resumes from a checkpoint and would miss the cuts before it; it runs beside the sampling.
/// </summary>
public static partial class ShotDetector
{
    /// <summary>Width frames are scaled to before the scene and black tests.</summary>
    private const int AnalysisWidth = 160;

    /// <summary>
    /// blackdetect's thresholds: a frame is black when 98% of its pixels are below 10% of the luma range, and a
    /// run counts from 0.1 s (so a single stray dark frame is not a cue, but a one-second black is).
    /// </summary>
    private const string BlackDetect = "blackdetect=d=0.1:pic_th=0.98:pix_th=0.10";

    /// <summary>The shots and black-frame cues of the video at <paramref name="path"/>. With SceneThreshold 0 (scene detection off) the video is one shot.</summary>
    /// <exception cref="VideoRejectedException">ffmpeg failed on the video.</exception>
    public static async Task<VideoCuts> DetectAsync(string ffmpegPath, string path, VideoMetadata metadata, VideoOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(options);
        var start = new ProcessStartInfo(ffmpegPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in Arguments(path, options))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        using var kill = cancellationToken.Register(() => Ffmpeg.KillQuietly(process));
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var (cuts, blacks, errors) = await ReadStderrAsync(process.StandardError, cancellationToken);
        await stdout;
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            var detail = Ffmpeg.LastLine(string.Join('\n', errors).Replace(path + ": ", "", StringComparison.Ordinal), $"ffmpeg exit code {process.ExitCode}");
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, $"the video could not be decoded for shot detection ({detail})");
        }

        return ShotBuilder.Build(cuts, blacks, metadata.DurationMillis, metadata.FrameRate);
    }

    /// <summary>The ffmpeg command line (public for logs and tests).</summary>
    public static IReadOnlyList<string> Arguments(string path, VideoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Without scene detection no frame is selected; the pass still finds the black frames.
        var select = options.SceneThreshold > 0 ? $"gt(scene,{options.SceneThreshold.ToString("0.###", CultureInfo.InvariantCulture)})" : "0";
        var filters = $"scale={AnalysisWidth}:-2:flags=fast_bilinear,{BlackDetect},select='{select}',metadata=print:key=lavfi.scene_score,showinfo";
        // -copyts -start_at_zero as the sampler: times from the video's start, the same clock as the samples'.
        return ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-copyts", "-start_at_zero", "-i", path, "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", filters, "-f", "null", "-"];
    }

    private static async Task<(List<SceneCut> Cuts, List<BlackRun> Blacks, Queue<string> Errors)> ReadStderrAsync(StreamReader stderr, CancellationToken cancellationToken)
    {
        var cuts = new List<SceneCut>();
        var blacks = new List<BlackRun>();
        var errors = new Queue<string>();
        (long Num, long Den) timeBase = (0, 0);
        double? score = null;
        while (await stderr.ReadLineAsync(cancellationToken) is { } line)
        {
            if (Black().Match(line) is { Success: true } black)
            {
                blacks.Add(new BlackRun(Millis(black.Groups[1].Value), Millis(black.Groups[2].Value)));
            }
            else if (Score().Match(line) is { Success: true } s)
            {
                // metadata=print says the score just before showinfo prints the same frame's pts.
                score = double.Parse(s.Groups[1].ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
            else if (line.Contains("Parsed_showinfo", StringComparison.Ordinal))
            {
                if (FrameSampler.TryReadShowinfoTime(line, ref timeBase, out var millis))
                {
                    cuts.Add(new SceneCut(millis, score ?? 1));
                    score = null;
                }
            }
            else if (!line.Contains("Parsed_metadata", StringComparison.Ordinal))
            {
                errors.Enqueue(line);
                if (errors.Count > 20)
                {
                    errors.Dequeue();
                }
            }
        }

        return (cuts, blacks, errors);
    }

    // blackdetect prints its times with six significant digits: exact to the millisecond up to 1000 s, to 10 ms up to 10,000 s.
    private static long Millis(string seconds) => (long)Math.Round(double.Parse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture) * 1000);

    [GeneratedRegex(@"black_start:\s*(-?[0-9.e+-]+)\s+black_end:\s*(-?[0-9.e+-]+)")]
    private static partial Regex Black();

    [GeneratedRegex(@"lavfi\.scene_score=([0-9.e+-]+)")]
    private static partial Regex Score();
}
