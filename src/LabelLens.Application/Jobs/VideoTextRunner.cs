using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Video;
using LabelLens.Vision.Ocr;
using LabelLens.Vision.Video;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Reads a video's text after its labels are stored (a text job, run by the text worker): ffmpeg samples the
/// frames as for labeling (the same interval and scene changes) but at the text analysis's larger size, the
/// text is read on each sample, and the same line on consecutive samples becomes one occurrence with a start
/// and an end (<see cref="TextOccurrences"/>). A sample that looks like the last one read (a title card held, a
/// static shot) is not read again: its text is the last reading's. No checkpoints: a text job that stops is
/// read again from the start.
/// </summary>
public sealed class VideoTextRunner(
    ICatalog catalog,
    IObjectStore store,
    Ffmpeg ffmpeg,
    IOptions<VideoOptions> videoOptions,
    IOptions<TextOptions> textOptions,
    IOptions<QueueOptions> queueOptions,
    ILogger<VideoTextRunner> logger)
{
    /// <summary>Mean absolute difference (0-255) of two frames' 32 × 18 grey thumbnails under which the later one is not read again.</summary>
    public const double SameFrameThreshold = 2.0;

    /// <summary>A still is read again at least this often, so text changing in a small part of it (a timecode) is not kept for long.</summary>
    public const long RereadMillis = 5000;

    public async Task<JobOutcome> RunAsync(ImageLabeler labeler, ClaimedJob job, VideoMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(metadata);
        try
        {
            var reading = await ReadAsync(labeler, job, metadata, cancellationToken);
            return await catalog.CompleteTextJobAsync(job, reading, cancellationToken) ? JobOutcome.Labeled : JobOutcome.Superseded;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            logger.LogWarning("Reading the text of video {Bucket}/{Key} failed on attempt {Attempt}: {Error}", job.Bucket, ObjectNames.Printable(job.Key), job.Attempt, ex.Message);
            await catalog.FailJobAsync(job, $"InternalError: {ex.Message}", permanent: ex is VideoRejectedException, queueOptions.Value, CancellationToken.None);
            return ex is VideoRejectedException ? JobOutcome.Rejected : JobOutcome.Error;
        }
    }

    private async Task<TextReading> ReadAsync(ImageLabeler labeler, ClaimedJob job, VideoMetadata metadata, CancellationToken cancellationToken)
    {
        var text = labeler.Text ?? throw new InvalidOperationException("The text analysis is not configured.");
        var options = videoOptions.Value;
        var minConfidence = textOptions.Value.MinConfidence;
        await using var file = await store.OpenLocalFileAsync(job.Bucket, job.Key, cancellationToken)
            ?? throw new InvalidOperationException("the object is missing from the store");
        var geometry = FrameGeometry.For(metadata, [text.Needs]);
        var samples = new List<long>();
        var frames = new List<FrameText>();
        byte[]? lastRead = null;
        long lastReadAt = 0;
        IReadOnlyList<TextLine> lastLines = [];
        var read = 0;
        await foreach (var frame in FrameSampler.SampleAsync(ffmpeg.FfmpegPath, file.Path, geometry, options, 0, cancellationToken))
        {
            using (frame)
            {
                using var picture = geometry.Picture(frame);
                var signature = Signature(picture);
                if (lastRead is null || Difference(signature, lastRead) >= SameFrameThreshold || frame.TimestampMillis - lastReadAt >= RereadMillis)
                {
                    lastLines = labeler.ReadText(picture, minConfidence, cancellationToken).Text.Lines;
                    lastRead = signature;
                    lastReadAt = frame.TimestampMillis;
                    read++;
                }

                samples.Add(frame.TimestampMillis);
                frames.Add(new FrameText(frame.TimestampMillis, lastLines));
            }
        }

        var occurrences = TextOccurrences.Build(samples, frames, options.IntervalMillis, options.EffectiveSegmentGapMillis, metadata.DurationMillis);
        logger.LogInformation(
            "Video {Bucket}/{Key}: text read on {Read} of {Sampled} sampled frames (the others unchanged), {Occurrences} occurrence(s)",
            job.Bucket, ObjectNames.Printable(job.Key), read, samples.Count, occurrences.Count);
        return new TextReading(new DetectedText(text.Model, occurrences), new ImageInfo(metadata.FrameWidth, metadata.FrameHeight, "video", 0), 0)
        {
            MinConfidence = minConfidence,
            FramesSampled = samples.Count,
            FramesRead = read,
        };
    }

    /// <summary>A 32 × 18 grey thumbnail (box averages) of the frame: enough to tell a held card from a new shot.</summary>
    private static byte[] Signature(Picture picture)
    {
        const int Width = 32, Height = 18;
        var rgb = picture.Rgb;
        var signature = new byte[Width * Height];
        for (var y = 0; y < Height; y++)
        {
            var (y0, y1) = (y * picture.Height / Height, Math.Max((y + 1) * picture.Height / Height, (y * picture.Height / Height) + 1));
            for (var x = 0; x < Width; x++)
            {
                var (x0, x1) = (x * picture.Width / Width, Math.Max((x + 1) * picture.Width / Width, (x * picture.Width / Width) + 1));
                long sum = 0;
                for (var row = y0; row < y1; row++)
                {
                    for (var column = x0; column < x1; column++)
                    {
                        var at = ((row * picture.Width) + column) * 3;
                        sum += rgb[at] + rgb[at + 1] + rgb[at + 2];
                    }
                }

                signature[(y * Width) + x] = (byte)(sum / (3 * (y1 - y0) * (x1 - x0)));
            }
        }

        return signature;
    }

    private static double Difference(byte[] a, byte[] b)
    {
        long sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return sum / (double)a.Length;
    }
}
