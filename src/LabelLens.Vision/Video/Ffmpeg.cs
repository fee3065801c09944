using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LabelLens.Video;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Vision.Video;

/// <summary>
/// Finds ffmpeg and ffprobe (Debian's, run as child processes) and asks ffprobe about videos. Looked up on
/// every use rather than once, so installing ffmpeg while `serve` runs makes the next retry work.
/// </summary>
public sealed class Ffmpeg(IOptions<VideoOptions> options, ILogger<Ffmpeg> logger)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public VideoOptions Options => options.Value;

    /// <summary>The ffmpeg executable's full path.</summary>
    /// <exception cref="FfmpegMissingException">It is not installed or not where configured.</exception>
    public string FfmpegPath => Resolve(options.Value.FfmpegPath);

    /// <summary>The ffprobe executable's full path.</summary>
    /// <exception cref="FfmpegMissingException">It is not installed or not where configured.</exception>
    public string FfprobePath => Resolve(options.Value.FfprobePath);

    /// <summary>Null when both tools are there; otherwise what is missing, for a start-up warning.</summary>
    public string? Problem()
    {
        try
        {
            _ = FfmpegPath;
            _ = FfprobePath;
            return null;
        }
        catch (FfmpegMissingException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>Runs ffprobe on a file: codec, duration, frame rate and size of the first video stream.</summary>
    /// <returns>The metadata and ffprobe's JSON (kept in the catalog as it is).</returns>
    /// <exception cref="VideoRejectedException">Not a readable video, or no video stream.</exception>
    public async Task<(VideoMetadata Metadata, string Json)> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(FfprobePath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i", path })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffprobe did not start");
        using var kill = cancellationToken.Register(() => KillQuietly(process));
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        // ffprobe names the file; the server's own path means nothing to the user (and is not theirs to see).
        var errors = (await stderr).Replace(path + ": ", "", StringComparison.Ordinal).Replace(path, "the file", StringComparison.Ordinal).Trim();
        if (process.ExitCode != 0)
        {
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, $"not a readable video ({LastLine(errors, "ffprobe exit code " + process.ExitCode)})");
        }

        using var document = JsonDocument.Parse(output.Length == 0 ? "{}" : output);
        var root = document.RootElement;
        var video = root.TryGetProperty("streams", out var streams)
            ? streams.EnumerateArray().FirstOrDefault(s => Text(s, "codec_type") == "video" && !IsAttachedPicture(s))
            : default;
        if (video.ValueKind != JsonValueKind.Object)
        {
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, "the file has no video stream");
        }

        var width = Int(video, "width");
        var height = Int(video, "height");
        if (width is not > 0 || height is not > 0)
        {
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, "the video stream has no frame size");
        }

        // ffmpeg turns frames upright by the container's rotation (autorotate), so a portrait phone video's frames are tall.
        if (Math.Abs(Rotation(video)) % 180 == 90)
        {
            (width, height) = (height, width);
        }

        var format = root.TryGetProperty("format", out var f) ? f : default;
        // The video stream's own duration first: an audio track running longer must not make the video look truncated.
        var duration = Seconds(video, "duration") ?? Seconds(format, "duration");
        var metadata = new VideoMetadata(
            Text(video, "codec_name") ?? "unknown",
            duration is { } d ? (long)Math.Round(d * 1000) : null,
            Text(format, "format_name") ?? "unknown",
            Rate(Text(video, "avg_frame_rate")) ?? Rate(Text(video, "r_frame_rate")),
            height.Value,
            width.Value,
            Text(video, "color_range"))
        {
            SampleAspectRatio = Ratio(Text(video, "sample_aspect_ratio")) ?? 1,
        };
        logger.LogDebug("Probed {Path}: {Metadata}", path, metadata);
        return (metadata, JsonSerializer.Serialize(root, Json));
    }

    internal static void KillQuietly(Process process)
    {
        try
        {
            // The whole tree: nothing of ffmpeg may outlive a cancelled job.
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
    }

    /// <summary>ffmpeg's closing lines that only say that something before them failed.</summary>
    private static readonly string[] Trailers = ["Conversion failed", "Error marking filters as finished", "Error while filtering", "Error while processing the decoded data", "Exiting normally"];

    /// <summary>The last line of ffmpeg's stderr that says what went wrong (its generic closing lines skipped), at most 300 characters.</summary>
    internal static string LastLine(string text, string fallback)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.LastOrDefault(l => !Trailers.Any(t => l.StartsWith(t, StringComparison.Ordinal))) ?? lines.LastOrDefault();
        return string.IsNullOrEmpty(last) ? fallback : last.Length > 300 ? last[..300] : last;
    }

    private static string Resolve(string configured)
    {
        if (configured.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(configured)
                ? Path.GetFullPath(configured)
                : throw new FfmpegMissingException($"ffmpeg not found: {configured} does not exist (install ffmpeg, e.g. apt-get install ffmpeg, or set Video:FfmpegPath / Video:FfprobePath)");
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, configured);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FfmpegMissingException($"ffmpeg not found: no '{configured}' on PATH (install ffmpeg, e.g. apt-get install ffmpeg, or set Video:FfmpegPath / Video:FfprobePath)");
    }

    private static bool IsAttachedPicture(JsonElement stream) =>
        stream.TryGetProperty("disposition", out var d) && d.TryGetProperty("attached_pic", out var a) && a.ValueKind == JsonValueKind.Number && a.GetInt32() == 1;

    private static int Rotation(JsonElement stream)
    {
        if (stream.TryGetProperty("side_data_list", out var sideData))
        {
            foreach (var item in sideData.EnumerateArray())
            {
                if (item.TryGetProperty("rotation", out var r) && r.ValueKind == JsonValueKind.Number)
                {
                    return (int)Math.Round(r.GetDouble());
                }
            }
        }

        return stream.TryGetProperty("tags", out var tags) && int.TryParse(Text(tags, "rotate"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var rotate) ? rotate : 0;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Int(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : null;

    private static double? Seconds(JsonElement element, string name) =>
        double.TryParse(Text(element, name), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && double.IsFinite(s) ? s : null;

    private static double? Rate(string? text) => Ratio(text) is { } r && r > 0 && r < 10_000 ? Math.Round(r, 3) : null;

    private static double? Ratio(string? text)
    {
        var parts = text?.Split('/', ':') ?? [];
        return parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 && n > 0
            ? n / d
            : null;
    }

    /// <summary>
    /// One frame as a JPEG (thumbnails): ffmpeg seeks to <paramref name="seconds"/> (fast input seek, then
    /// accurate to the frame), scales to <paramref name="width"/> and pipes the JPEG out; nothing touches disk.
    /// </summary>
    public async Task<byte[]> FrameJpegAsync(string path, double seconds, int width, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(FfmpegPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", seconds.ToString("0.###", CultureInfo.InvariantCulture), "-i", path,
            "-map", "0:v:0", "-frames:v", "1", "-vf", $"scale={width}:-2:flags=bicubic", "-q:v", "4", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
        })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        using var kill = cancellationToken.Register(() => KillQuietly(process));
        using var jpeg = new MemoryStream();
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.BaseStream.CopyToAsync(jpeg, cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var errors = (await stderr).Replace(path + ": ", "", StringComparison.Ordinal);
        if (process.ExitCode != 0 || jpeg.Length == 0)
        {
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, $"no frame at {seconds.ToString(CultureInfo.InvariantCulture)} s ({LastLine(errors, "ffmpeg exit code " + process.ExitCode)})");
        }

        return jpeg.ToArray();
    }

    internal static string Describe(IEnumerable<string> args)
    {
        var text = new StringBuilder();
        foreach (var arg in args)
        {
            text.Append(' ').Append(arg.Contains(' ', StringComparison.Ordinal) ? $"\"{arg}\"" : arg);
        }

        return text.ToString();
    }
}
