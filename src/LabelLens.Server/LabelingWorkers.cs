using LabelLens.Analysis;
using LabelLens.Detection;
using LabelLens.Labels;
using LabelLens.Server.External;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server;

/// <summary>Loads the model once at start; workers and /readyz wait for it.</summary>
public sealed class LabelerHolder(LabelerLoader loader, IOptions<LabelingOptions> options, ILogger<LabelerHolder> logger) : IHostedService, IDisposable
{
    private readonly TaskCompletionSource<ImageLabeler> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    public string? LoadError { get; private set; }

    public Task<ImageLabeler> Labeler => _ready.Task;

    private LabelVocabulary? _vocabulary;

    /// <summary>What the loaded analyses can find (built once, on first use after the models loaded).</summary>
    public LabelVocabulary Vocabulary(LabelTaxonomy taxonomy)
    {
        var labeler = _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : throw new InvalidOperationException("The models are not loaded.");
        return _vocabulary ??= LabelVocabulary.Build(taxonomy, labeler.Analyses.Select(a => (a.Task, a.ClassNames)));
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var labeler = await loader.LoadAsync(options.Value.Model is { Length: > 0 } model ? model : null, null, cancellationToken);
            logger.LogInformation("Labeling with {Analyses}: {Model}", string.Join(", ", labeler.Analyses.Select(a => a.Task.Name())), labeler.ModelVersion);
            _ready.TrySetResult(labeler);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep serving (uploads are stored and queued); /readyz says why nothing gets labeled.
            LoadError = ex.Message;
            logger.LogError("No model loaded, uploads will queue until one is: {Reason}", ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        if (_ready.Task.IsCompletedSuccessfully)
        {
            _ready.Task.Result.Dispose();
        }
    }
}

/// <summary>
/// The labeling worker pool: one loop per worker claims a small batch of jobs under a lease, labels each
/// (read object, decode, model, store labels in one transaction) and reports failures for retry with
/// backoff. Loops sleep on <see cref="QueueSignal"/> and wake on new uploads or on the poll interval.
/// </summary>
public sealed class LabelingWorkers(
    DataFolderLock dataLock,
    LabelerHolder holder,
    SqliteCatalog catalog,
    JobRunner runner,
    QueueSignal signal,
    ServerMetrics metrics,
    IOptions<QueueOptions> queueOptions,
    TimeProvider time,
    ILogger<LabelingWorkers> logger) : BackgroundService
{
    /// <summary>Jobs held by a server carry this prefix, so the next server on the same data can take them back at once.</summary>
    public const string OwnerPrefix = "serve:";

    private readonly QueueOptions _queue = queueOptions.Value;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _owner = $"{OwnerPrefix}{Environment.ProcessId}:{Guid.NewGuid():N}";

    /// <summary>One more than the cores by default, as for `label`: I/O and libvips hand-offs leave gaps a spare worker fills.</summary>
    public int WorkerCount => _queue.Workers > 0 ? _queue.Workers : Environment.ProcessorCount + 1;

    /// <summary>Completes once a dead server's jobs have been taken back (the video worker waits for it before claiming).</summary>
    public Task Ready => _ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ImageLabeler labeler;
        try
        {
            labeler = await holder.Labeler.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // This server holds the data folder's lock, so any job still leased to a server is a dead one's.
        GC.KeepAlive(dataLock);
        await catalog.ReleaseJobsAsync(OwnerPrefix, stoppingToken);
        _ready.TrySetResult();
        logger.LogInformation("{Workers} labeling worker(s) started", WorkerCount);
        var loops = Enumerable.Range(0, WorkerCount).Select(i => Task.Run(() => RunLoopAsync(labeler, stoppingToken), stoppingToken));
        await Task.WhenAll(loops);
    }

    private async Task RunLoopAsync(ImageLabeler labeler, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var jobs = await catalog.ClaimJobsAsync(_owner, _queue.BatchSize, _queue, stoppingToken);
                if (jobs.Count == 0)
                {
                    await signal.WaitAsync(TimeSpan.FromSeconds(_queue.PollSeconds), stoppingToken);
                    continue;
                }

                foreach (var job in jobs)
                {
                    var started = time.GetTimestamp();
                    var outcome = await runner.RunAsync(labeler, job, stoppingToken);
                    metrics.LabelingDone(outcome, time.GetElapsedTime(started));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The catalog itself failed (disk full, locked too long): back off and try again.
                logger.LogError(ex, "Labeling worker error; retrying in {Seconds} s", _queue.PollSeconds);
                await Task.Delay(TimeSpan.FromSeconds(_queue.PollSeconds), time, stoppingToken);
            }
        }
    }
}

/// <summary>
/// Runs one claimed job: reads the object, labels it, stores the labels, or records the failure (input
/// errors at once, anything else for retry with backoff). Used by the server's workers and by the CLI.
/// </summary>
public sealed class JobRunner(
    SqliteCatalog catalog,
    IObjectStore store,
    IOptions<QueueOptions> queueOptions,
    IOptions<LabelingOptions> labelingOptions,
    IOptions<ImageOptions> imageOptions,
    ILogger<JobRunner> logger,
    LabelLens.Storage.External.ExternalStores externalStores)
{
    /// <returns>"labeled", "superseded" (the result no longer counted), "rejected" (input error) or "error" (will retry).</returns>
    public async Task<string> RunAsync(ImageLabeler labeler, ClaimedJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(job);
        var labeling = labelingOptions.Value;
        try
        {
            var bytes = await ReadObjectAsync(job, cancellationToken);
            var result = job.Analyses is { } only
                ? labeler.Label(bytes, labeling.Request, new PartialRun(only, await catalog.GetAnalysisLabelsAsync(job.ImageId, cancellationToken)), cancellationToken)
                : labeler.Label(bytes, labeling.Request, cancellationToken);
            return await catalog.CompleteJobAsync(job, result, labeling.MinConfidence, cancellationToken) ? "labeled" : "superseded";
        }
        catch (ImageRejectedException ex)
        {
            // The bytes will not change by retrying: fail now, with the reason.
            await catalog.FailJobAsync(job, ex.ToString(), permanent: true, queueOptions.Value, CancellationToken.None);
            return "rejected";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease lapses (or the next server takes it back) and the job runs again.
            throw;
        }
        catch (Exception ex)
        {
            logger.LogWarning("Labeling {Bucket}/{Key} failed on attempt {Attempt}: {Error}", job.Bucket, ObjectNames.Printable(job.Key), job.Attempt, ex.Message);
            await catalog.FailJobAsync(job, $"InternalError: {ex.Message}", permanent: false, queueOptions.Value, CancellationToken.None);
            return "error";
        }
    }

    private async Task<byte[]> ReadObjectAsync(ClaimedJob job, CancellationToken cancellationToken)
    {
        if (await catalog.GetImageSourceAsync(job.ImageId, cancellationToken) is { } source)
        {
            // Bring your own bucket: the bytes stay in the external store and are read from it.
            return await ExternalReads.ReadAsync(externalStores, source, job, imageOptions.Value.MaxBytes, cancellationToken);
        }

        await using var stream = await store.OpenReadAsync(job.Bucket, job.Key, cancellationToken)
            ?? throw new InvalidOperationException("the object is missing from the store");
        var limit = imageOptions.Value.MaxBytes;
        if (stream.Length > limit)
        {
            throw new ImageRejectedException(ImageError.ImageTooLarge, $"{stream.Length:N0} bytes is over the {limit:N0}-byte limit");
        }

        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }
}
