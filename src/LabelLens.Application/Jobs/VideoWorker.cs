using System.Collections.Concurrent;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Video;
using LabelLens.Vision.Video;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Labels videos: its own small pool (Video:Workers, one by default) claiming only video jobs, so a long
/// video never holds up images — the image workers claim only image jobs. Each job's lease is renewed while
/// it runs (heartbeat), and a job can be cancelled from the API.
/// </summary>
public sealed class VideoWorker(
    LabelingWorkers imageWorkers,
    VideoJobRunner runner,
    JobLoop loop,
    Ffmpeg ffmpeg,
    IOptions<VideoOptions> videoOptions,
    TimeProvider time,
    ILogger<VideoWorker> logger) : BackgroundService
{
    private readonly string _owner = $"{LabelingWorkers.OwnerPrefix}{Environment.ProcessId}:video:{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();

    /// <summary>Stops the video's job if this server is running it (the catalog has already marked it cancelled).</summary>
    public void Cancel(string imageId)
    {
        if (_running.TryGetValue(imageId, out var cancel))
        {
            cancel.Cancel();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Said once at start, plainly: videos will fail (and be retried) until ffmpeg is installed; images are unaffected.
        if (ffmpeg.Problem() is { } problem)
        {
            logger.LogWarning("Video labeling is unavailable: {Problem}. Uploaded videos are stored and their jobs fail with this error (retried later); images are labeled as usual.", problem);
        }

        if (await imageWorkers.ReadyLabelerAsync(stoppingToken) is not { } labeler)
        {
            return;
        }

        var loops = Enumerable.Range(0, videoOptions.Value.Workers).Select(_ => Task.Run(
            () => loop.RunAsync(_owner, JobKind.Video, 1, (job, ct) => RunAsync(labeler, job, ct), (poll, ct) => Task.Delay(poll, time, ct), null, stoppingToken),
            stoppingToken));
        await Task.WhenAll(loops);
    }

    /// <summary>Runs one video job, cancellable from the API while it runs.</summary>
    private async Task<JobOutcome> RunAsync(ImageLabeler labeler, ClaimedJob job, CancellationToken stoppingToken)
    {
        using var cancel = new CancellationTokenSource();
        _running[job.ImageId] = cancel;
        try
        {
            return await runner.RunAsync(labeler, job, cancel.Token, stoppingToken);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<string, CancellationTokenSource>(job.ImageId, cancel));
        }
    }
}

/// <summary>
/// Runs one claimed video job: probe (ffprobe), limits, then frames from ffmpeg through the detector and the
/// taxonomy, committed in checkpoints (frames + resume point in one transaction), then segments and
/// video-level labels in one completing transaction. A resumed job starts ffmpeg at its checkpoint.
/// </summary>
public sealed class VideoJobRunner(
    ICatalog catalog,
    IObjectStore store,
    Ffmpeg ffmpeg,
    IOptions<VideoOptions> videoOptions,
    IOptions<QueueOptions> queueOptions,
    IOptions<LabelingOptions> labelingOptions,
    TimeProvider time,
    ILogger<VideoJobRunner> logger)
{
    /// <returns>Labeled, Superseded, Cancelled, Rejected (input error) or Error (will retry).</returns>
    public async Task<JobOutcome> RunAsync(ImageLabeler labeler, ClaimedJob job, CancellationToken cancelled, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(job);
        var queue = queueOptions.Value;
        var started = time.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancelled, stoppingToken);
        var lost = false;
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = Task.Run(
            async () =>
            {
                // A third of the lease: two missed beats still leave the job ours.
                using var timer = new PeriodicTimer(queue.Lease / 3, time);
                try
                {
                    while (await timer.WaitForNextTickAsync(heartbeatStop.Token))
                    {
                        if (!await catalog.RenewLeaseAsync(job, queue.Lease, heartbeatStop.Token))
                        {
                            lost = true;
                            await stop.CancelAsync();
                            return;
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    // the job ended
                }
                catch (Exception ex)
                {
                    logger.LogWarning("Video {Key}: lease renewal failed: {Error}", ObjectNames.Printable(job.Key), ex.Message);
                }
            },
            CancellationToken.None);
        try
        {
            var outcome = await LabelAsync(labeler, job, started, () => lost, stop.Token);
            return outcome;
        }
        catch (VideoRejectedException ex)
        {
            logger.LogInformation("Video {Bucket}/{Key} rejected: {Error}", job.Bucket, ObjectNames.Printable(job.Key), ex.ToString());
            await catalog.FailJobAsync(job, ex.ToString(), permanent: true, queue, CancellationToken.None);
            return JobOutcome.Rejected;
        }
        catch (FfmpegMissingException ex)
        {
            logger.LogWarning("Video {Bucket}/{Key} not labeled: {Error}", job.Bucket, ObjectNames.Printable(job.Key), ex.Message);
            await catalog.FailJobAsync(job, ex.Message, permanent: false, queue, CancellationToken.None);
            return JobOutcome.Error;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the checkpoint stays, and the next server resumes from it.
            throw;
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested || lost)
        {
            logger.LogInformation("Video {Bucket}/{Key}: job stopped ({Reason})", job.Bucket, ObjectNames.Printable(job.Key), lost ? "superseded" : "cancelled");
            return lost ? JobOutcome.Superseded : JobOutcome.Cancelled;
        }
        catch (Exception ex)
        {
            logger.LogWarning("Labeling video {Bucket}/{Key} failed on attempt {Attempt}: {Error}", job.Bucket, ObjectNames.Printable(job.Key), job.Attempt, ex.Message);
            await catalog.FailJobAsync(job, $"InternalError: {ex.Message}", permanent: false, queue, CancellationToken.None);
            return JobOutcome.Error;
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
        }
    }

    private async Task<JobOutcome> LabelAsync(ImageLabeler labeler, ClaimedJob job, long started, Func<bool> lost, CancellationToken cancellationToken)
    {
        var options = videoOptions.Value;
        var labeling = labelingOptions.Value;
        var queue = queueOptions.Value;
        var ffmpegPath = ffmpeg.FfmpegPath;
        _ = ffmpeg.FfprobePath;

        var image = await catalog.GetImageAsync(job.ImageId, cancellationToken);
        if (image is null)
        {
            return JobOutcome.Superseded;
        }

        if (image.Size > options.MaxBytes)
        {
            throw new VideoRejectedException(VideoRejectedException.VideoTooLarge, $"{image.Size:N0} bytes is over the {options.MaxBytes:N0}-byte limit (Video:MaxBytes)");
        }

        // ffmpeg reads the stored file itself (MP4s need seeking, so no pipe); holding it open keeps the bytes
        // readable even if the key is overwritten meanwhile.
        await using var file = await store.OpenLocalFileAsync(job.Bucket, job.Key, cancellationToken)
            ?? throw new InvalidOperationException("the object is missing from the store");
        var path = file.Path;
        var format = await VideoFormat.SniffAsync(file.Stream, cancellationToken) ?? "video";

        var (metadata, probeJson) = await ffmpeg.ProbeAsync(path, cancellationToken);
        if (metadata.DurationMillis is { } duration && duration > options.MaxDurationSeconds * 1000)
        {
            throw new VideoRejectedException(
                VideoRejectedException.VideoTooLong,
                $"{TimeSpan.FromMilliseconds(duration):g} is longer than the {TimeSpan.FromSeconds(options.MaxDurationSeconds):g} limit (Video:MaxDurationSeconds)");
        }

        if (!await catalog.SaveVideoMetadataAsync(job, metadata, probeJson, format, cancellationToken))
        {
            return JobOutcome.Superseded;
        }

        var geometry = FrameGeometry.For(metadata, labeler.Needs);
        var (checkpoint, framesDone) = await catalog.GetVideoCheckpointAsync(job, cancellationToken);
        if (checkpoint is { } resumeAt)
        {
            logger.LogInformation("Resuming video {Bucket}/{Key} from {Seconds:0.###} s ({Frames} frames already done)", job.Bucket, ObjectNames.Printable(job.Key), resumeAt / 1000.0, framesDone);
        }

        // Shots and black frames come from their own ffmpeg pass over the whole video (the sampler may resume
        // mid-way), run beside the sampling: ffmpeg decodes on the second core while the models work.
        using var stopCuts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var findingCuts = Task.Run(() => ShotDetector.DetectAsync(ffmpegPath, path, metadata, options, stopCuts.Token), CancellationToken.None);
        VideoCuts cuts;
        long last;
        try
        {
            var sampled = await SampleAsync(labeler, job, path, geometry, checkpoint, framesDone, cancellationToken);
            if (sampled is not { } done)
            {
                return JobOutcome.Superseded;
            }

            (last, framesDone) = done;
            cuts = await findingCuts;
        }
        finally
        {
            // A sampling that failed or stopped ends the shot pass too (its own failure is then of no interest).
            await stopCuts.CancelAsync();
            try
            {
                await findingCuts;
            }
            catch (Exception) when (stopCuts.IsCancellationRequested)
            {
                // stopped with the sampling, or already thrown above
            }
        }

        if (framesDone == 0)
        {
            throw new VideoRejectedException(VideoRejectedException.InvalidVideoFormat, "no frame could be decoded");
        }

        // A cut-off file decodes up to the cut without an error; the container still says how long it was.
        var slack = 2L * options.IntervalMillis + 1000;
        if (metadata.DurationMillis is { } length && last < length - slack)
        {
            throw new VideoRejectedException(
                VideoRejectedException.InvalidVideoFormat,
                $"the video is truncated or corrupt: frames end at {last / 1000.0:0.###} s of {length / 1000.0:0.###} s");
        }

        var completion = new VideoCompletion(format, options.IntervalMillis, options.EffectiveSegmentGapMillis, labeler.ModelVersion, labeling.MinConfidence, time.GetElapsedTime(started).TotalMilliseconds)
        {
            TextFollows = labeler.Text is not null,
            Cuts = cuts,
            FacesAnalysed = labeler.Faces is not null,
        };
        if (lost() || !await catalog.CompleteVideoJobAsync(job, completion, cancellationToken))
        {
            return JobOutcome.Superseded;
        }

        logger.LogInformation(
            "Video {Bucket}/{Key} labeled: {Frames} frames, {Shots} shots, {Cues} technical cues in {Seconds:0.0} s",
            job.Bucket, ObjectNames.Printable(job.Key), framesDone, cuts.Shots.Count, cuts.TechnicalCues.Count, time.GetElapsedTime(started).TotalSeconds);
        return JobOutcome.Labeled;
    }

    /// <summary>Samples the frames from the checkpoint on through the analyses, committing checkpoints; null when the job no longer counts.</summary>
    private async Task<(long Last, int FramesDone)?> SampleAsync(ImageLabeler labeler, ClaimedJob job, string path, FrameGeometry geometry, long? checkpoint, int framesDone, CancellationToken cancellationToken)
    {
        var options = videoOptions.Value;
        var queue = queueOptions.Value;
        var ffmpegPath = ffmpeg.FfmpegPath;
        var request = labelingOptions.Value.Request;
        var last = checkpoint ?? -1;
        var pending = new List<FrameLabels>(options.CheckpointFrames);
        await foreach (var frame in FrameSampler.SampleAsync(ffmpegPath, path, geometry, options, checkpoint ?? 0, cancellationToken))
        {
            using (frame)
            {
                // The frame at the checkpoint itself comes again after the seek: it is already stored.
                if (frame.TimestampMillis <= last)
                {
                    continue;
                }

                using var picture = geometry.Picture(frame);
                var labels = labeler.LabelFrame(picture, request, cancellationToken);
                pending.Add(new FrameLabels(frame.TimestampMillis, labels));
                framesDone++;
                last = frame.TimestampMillis;
            }

            if (pending.Count >= options.CheckpointFrames)
            {
                if (!await catalog.SaveVideoCheckpointAsync(job, pending, last, framesDone, queue.Lease, cancellationToken))
                {
                    return null;
                }

                pending.Clear();
            }
        }

        if (!await catalog.SaveVideoCheckpointAsync(job, pending, Math.Max(last, 0), framesDone, queue.Lease, cancellationToken))
        {
            return null;
        }

        return (last, framesDone);
    }
}

public static class VideoServices
{
    /// <summary>Video options (validated at start), ffmpeg, the runner and the worker (run when <paramref name="runWorker"/>).</summary>
    public static IServiceCollection AddVideo(this IServiceCollection services, IConfiguration configuration, bool runWorker = true)
    {
        services.AddOptions<VideoOptions>().Bind(configuration.GetSection(VideoOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Ffmpeg>();
        services.AddSingleton<VideoJobRunner>();
        services.AddSingleton<VideoTextRunner>();
        services.AddSingleton<VideoWorker>();
        if (runWorker)
        {
            services.AddHostedService(sp => sp.GetRequiredService<VideoWorker>());
        }

        return services;
    }

    /// <summary>"video" when the stored bytes are a video container (mp4, mov, mkv, webm, avi), else "image".</summary>
    public static async Task<string> MediaTypeAsync(IObjectStore store, StoredObject stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(stored);
        await using var stream = await store.OpenReadAsync(stored.Bucket, stored.Key, cancellationToken);
        return stream is not null && await VideoFormat.SniffAsync(stream, cancellationToken) is not null ? MediaTypes.Video : MediaTypes.Image;
    }
}
