using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using LabelLens.Analysis;
using LabelLens.Video;

namespace LabelLens.Vision.Video;

/// <summary>A sampled frame: its time from the start of the video and its rgb24 pixels at the analyses' working size (a pooled buffer; dispose to return it).</summary>
public sealed class SampledFrame(long timestampMillis, byte[] buffer, int length) : IDisposable
{
    private byte[]? _buffer = buffer;

    public long TimestampMillis { get; } = timestampMillis;

    public ReadOnlyMemory<byte> Pixels => Buffer.AsMemory(0, length);

    /// <summary>The pooled buffer itself (at least the frame's length).</summary>
    public byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(SampledFrame));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } returned)
        {
            ArrayPool<byte>.Shared.Return(returned);
        }
    }
}

/// <summary>The size ffmpeg scales sampled frames to (the working size every analysis takes its input from), and the frame size boxes refer to.</summary>
public readonly record struct FrameGeometry(int ContentWidth, int ContentHeight, int SourceWidth, int SourceHeight)
{
    public int FrameBytes => 3 * ContentWidth * ContentHeight;

    /// <summary>The displayed frame (pixel aspect applied) at the working size of the analyses' <paramref name="needs"/>.</summary>
    public static FrameGeometry For(VideoMetadata video, IReadOnlyList<PictureNeeds> needs)
    {
        ArgumentNullException.ThrowIfNull(video);
        ArgumentNullException.ThrowIfNull(needs);
        var displayWidth = Math.Max(1, (int)Math.Round(video.FrameWidth * video.SampleAspectRatio));
        var (width, height) = PictureNeeds.WorkingSize(displayWidth, video.FrameHeight, needs);
        return new FrameGeometry(width, height, video.FrameWidth, video.FrameHeight);
    }

    /// <summary>The frame as a picture for the analyses (it borrows the frame's buffer: dispose the frame after the picture).</summary>
    public Picture Picture(SampledFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return new Picture(frame.Buffer, ContentWidth, ContentHeight, SourceWidth, SourceHeight);
    }
}

/// <summary>
/// Samples a video with ffmpeg, run as a child process: one frame per sampling interval (the first frame of
/// each interval of the video's timeline) plus frames where the scene changes, decoded and scaled by ffmpeg to
/// the working size the analyses take their input from (as a photo's decode is), and piped out as raw
/// rgb24 — no temporary files. Each frame's time comes from ffmpeg's showinfo filter on stderr (its exact
/// pts and time base, in frame order), so variable frame rates and scene frames get their true time.
/// </summary>
public static partial class FrameSampler
{
    /// <summary>
    /// Frames at or after <paramref name="startMillis"/> (ffmpeg seeks there first: a resumed job does not
    /// decode what it already did). The process is killed (with its children) when the enumeration stops
    /// early or <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <exception cref="VideoRejectedException">ffmpeg failed on the video (corrupt data).</exception>
    public static async IAsyncEnumerable<SampledFrame> SampleAsync(
        string ffmpegPath,
        string path,
        FrameGeometry geometry,
        VideoOptions options,
        long startMillis,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var start = new ProcessStartInfo(ffmpegPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in Arguments(path, geometry, options, startMillis))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var kill = stop.Token.Register(() => Ffmpeg.KillQuietly(process));
        var timestamps = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var errors = new Queue<string>();
        var stderr = Task.Run(() => ReadStderrAsync(process, timestamps.Writer, errors, stop.Token), CancellationToken.None);
        // A few frames in flight, so ffmpeg decodes the next frames while the model works on this one.
        var frames = Channel.CreateBounded<SampledFrame>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(() => ReadFramesAsync(process, path, geometry.FrameBytes, timestamps.Reader, frames.Writer, stderr, errors, stop.Token), CancellationToken.None);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await frames.Reader.WaitToReadAsync(cancellationToken);
                }
                catch (ChannelClosedException ex) when (ex.InnerException is not null)
                {
                    throw ex.InnerException;
                }

                if (!more)
                {
                    break;
                }

                // Frames already buffered are not handed out after a cancel: the caller stops at once.
                while (!cancellationToken.IsCancellationRequested && frames.Reader.TryRead(out var frame))
                {
                    yield return frame;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(producer, stderr);
            }
            catch (Exception)
            {
                // Their failure, if any, already reached the reader through the channel.
            }

            while (frames.Reader.TryRead(out var unread))
            {
                unread.Dispose();
            }
        }
    }

    /// <summary>The ffmpeg command line (public for logs and tests).</summary>
    public static IReadOnlyList<string> Arguments(string path, FrameGeometry geometry, VideoOptions options, long startMillis)
    {
        ArgumentNullException.ThrowIfNull(options);
        var interval = (options.IntervalMillis / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);
        // The first frame, the first frame of every new interval on the timeline (no drift when the interval
        // is not a multiple of the frame duration), and scene changes. 0.5 ms of slack absorbs float error.
        var select = $"isnan(prev_selected_t)+gt(floor((t+0.0005)/{interval})-floor((prev_selected_t+0.0005)/{interval}),0)";
        if (options.SceneThreshold > 0)
        {
            select += $"+gt(scene,{options.SceneThreshold.ToString("0.###", CultureInfo.InvariantCulture)})";
        }

        var filters = $"select='{select}',showinfo,scale={geometry.ContentWidth}:{geometry.ContentHeight}:flags=bilinear,setsar=1,format=rgb24";
        // -copyts -start_at_zero: frame times stay those of the whole video (0 at its start) even after the
        // resume seek, so `select` keeps the same interval grid as an uninterrupted run and showinfo's pts is
        // already the time from the start. Without them ffmpeg restarts the clock at the seek point.
        var args = new List<string> { "-hide_banner", "-nostdin", "-loglevel", "info", "-copyts", "-start_at_zero" };
        if (startMillis > 0)
        {
            args.AddRange(["-ss", (startMillis / 1000.0).ToString("0.###", CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["-i", path, "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", filters, "-fps_mode", "vfr", "-f", "rawvideo", "pipe:1"]);
        return args;
    }

    private static async Task ReadFramesAsync(
        Process process,
        string path,
        int frameBytes,
        ChannelReader<long> timestamps,
        ChannelWriter<SampledFrame> frames,
        Task stderr,
        Queue<string> errors,
        CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            var stdout = process.StandardOutput.BaseStream;
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(frameBytes);
                var read = await stdout.ReadAtLeastAsync(buffer.AsMemory(0, frameBytes), frameBytes, throwOnEndOfStream: false, cancellationToken);
                if (read < frameBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }

                // showinfo prints a frame's line before the frame reaches the encoder, so its time is there or on its way.
                if (!await timestamps.WaitToReadAsync(cancellationToken) || !timestamps.TryRead(out var time))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw new InvalidOperationException("ffmpeg sent a frame without its timestamp (showinfo output missing)");
                }

                var frame = new SampledFrame(time, buffer, frameBytes);
                try
                {
                    await frames.WriteAsync(frame, cancellationToken);
                }
                catch
                {
                    frame.Dispose();
                    throw;
                }
            }

            await process.WaitForExitAsync(cancellationToken);
            await stderr;
            if (process.ExitCode != 0)
            {
                string detail;
                lock (errors)
                {
                    detail = Ffmpeg.LastLine(string.Join('\n', errors).Replace(path + ": ", "", StringComparison.Ordinal), $"ffmpeg exit code {process.ExitCode}");
                }

                failure = new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, $"the video could not be decoded ({detail})");
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            frames.TryComplete(failure);
        }
    }

    private static async Task ReadStderrAsync(Process process, ChannelWriter<long> timestamps, Queue<string> errors, CancellationToken cancellationToken)
    {
        (long Num, long Den) timeBase = (0, 0);
        try
        {
            while (await process.StandardError.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.Contains("Parsed_showinfo", StringComparison.Ordinal))
                {
                    lock (errors)
                    {
                        errors.Enqueue(line);
                        if (errors.Count > 20)
                        {
                            errors.Dequeue();
                        }
                    }

                    continue;
                }

                if (TryReadShowinfoTime(line, ref timeBase, out var millis))
                {
                    timestamps.TryWrite(millis);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the job stopped
        }
        finally
        {
            timestamps.TryComplete();
        }
    }

    /// <summary>
    /// Reads one showinfo line: its "config in" line sets <paramref name="timeBase"/>; a frame line gives the frame's
    /// time in ms. pts × time base is exact; pts_time is printed with six significant digits only. With -copyts
    /// -start_at_zero it is the time from the video's start, resumed or not.
    /// </summary>
    internal static bool TryReadShowinfoTime(string line, ref (long Num, long Den) timeBase, out long millis)
    {
        millis = 0;
        if (TimeBase().Match(line) is { Success: true } tb)
        {
            timeBase = (long.Parse(tb.Groups[1].ValueSpan, CultureInfo.InvariantCulture), long.Parse(tb.Groups[2].ValueSpan, CultureInfo.InvariantCulture));
            return false;
        }

        if (FrameLine().Match(line) is not { Success: true } frame || timeBase.Den <= 0)
        {
            return false;
        }

        var pts = long.Parse(frame.Groups[1].ValueSpan, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        millis = (long)Math.Round(pts * 1000.0 * timeBase.Num / timeBase.Den);
        return true;
    }

    [GeneratedRegex(@"config in time_base: (\d+)/(\d+)")]
    private static partial Regex TimeBase();

    [GeneratedRegex(@"\bn:\s*\d+\s+pts:\s*(-?\d+)\s+pts_time:")]
    private static partial Regex FrameLine();
}
