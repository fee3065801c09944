using LabelLens.Labels;
using LabelLens.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// The labeling worker pool: one loop per worker claims a small batch of jobs under a lease, labels each
/// (read object, decode, model, store labels in one transaction) and reports failures for retry with
/// backoff. Loops sleep on <see cref="QueueSignal"/> and wake on new uploads or on the poll interval.
/// </summary>
public sealed class LabelingWorkers(
    DataFolderLock dataLock,
    LabelerHolder holder,
    ILabelingJobs catalog,
    JobRunner runner,
    JobLoop loop,
    QueueSignal signal,
    ServerMetrics metrics,
    IOptions<QueueOptions> queueOptions,
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

    /// <summary>
    /// For the workers that start after these (video, text): the loaded labeler once this server has taken back a
    /// dead server's jobs (claiming before that could see ours released); null when stopping first.
    /// </summary>
    public async Task<ImageLabeler?> ReadyLabelerAsync(CancellationToken stoppingToken)
    {
        try
        {
            var labeler = await holder.Labeler.WaitAsync(stoppingToken);
            await Ready.WaitAsync(stoppingToken);
            return labeler;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

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

        // A server holding the data folder's lock knows any job still leased to a server is a dead one's. On a
        // shared catalog other live processes hold jobs too: theirs are left to their leases.
        if (dataLock.Exclusive)
        {
            await catalog.ReleaseJobsAsync(OwnerPrefix, stoppingToken);
        }

        _ready.TrySetResult();
        logger.LogInformation("{Workers} labeling worker(s) started", WorkerCount);
        // Each loop runs the models synchronously on a thread-pool thread, and the pool starts with one thread per
        // core: the process's async continuations (catalog round trips, Kestrel, the video and text workers) queued
        // behind the labeling until the pool's hill climbing added threads, and a PostgreSQL transaction waiting on its
        // continuation held its label counters' locks meanwhile (ClusterBench: one worker process kept the cores only
        // half busy). Enough threads up front for the blocked loops plus the cores.
        ThreadPool.GetMinThreads(out var minWorkerThreads, out var minIoThreads);
        ThreadPool.SetMinThreads(Math.Max(minWorkerThreads, WorkerCount + (2 * Environment.ProcessorCount)), minIoThreads);
        var loops = Enumerable.Range(0, WorkerCount).Select(_ => Task.Run(
            () => loop.RunAsync(_owner, JobKind.Image, _queue.BatchSize, (job, ct) => runner.RunAsync(labeler, job, ct), WaitForWorkAsync, metrics.LabelingDone, stoppingToken),
            stoppingToken));
        await Task.WhenAll(loops);
    }

    private async Task WaitForWorkAsync(TimeSpan poll, CancellationToken cancellationToken) => await signal.WaitAsync(poll, cancellationToken);
}
