using LabelLens.Storage;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>Stores an upload and records it in the catalog with its labeling job; shared by every upload path.</summary>
public sealed class Uploader(IObjectStore store, IImageCatalog catalog, UploadBacklog backlog, QueueSignal signal, ServerMetrics metrics, IOptions<UploadOptions> options)
{
    public async Task<UploadOutcome> StoreAsync(string bucket, string key, Stream content, string? contentType, CancellationToken cancellationToken)
    {
        try
        {
            ObjectNames.ValidateBucket(bucket);
            ObjectNames.ValidateKey(key);
            // Before the body is read: a refused upload costs the server nothing.
            await backlog.EnsureRoomAsync(cancellationToken);
            await store.CreateBucketAsync(bucket, cancellationToken);
            var stored = await store.PutAsync(bucket, key, content, options.Value.MaxObjectBytes, cancellationToken);
            // Videos are recognised by their bytes (never the name) and go to the video worker.
            var mediaType = await VideoServices.MediaTypeAsync(store, stored, cancellationToken);
            var outcome = await catalog.RecordUploadAsync(stored, string.IsNullOrWhiteSpace(contentType) ? null : contentType, cancellationToken, mediaType);
            if (outcome.Enqueued)
            {
                backlog.Added();
                signal.Notify();
            }

            metrics.Upload(outcome.Enqueued);
            return outcome;
        }
        catch (StorageException)
        {
            metrics.UploadRefused();
            throw;
        }
    }
}

/// <summary>
/// The upload limit, read from the "Server" section (Server:MaxObjectBytes) where `serve` also reads it for its
/// request-size limit: one setting, so an upload the listener accepts is one the uploader accepts.
/// </summary>
public sealed class UploadOptions
{
    public const string Section = "Server";

    /// <summary>Largest object accepted by an upload (default 5 GiB).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, long.MaxValue)]
    public long MaxObjectBytes { get; set; } = 5L * 1024 * 1024 * 1024;
}

/// <summary>
/// Whether the labeling backlog has room for another upload (Queue:MaxBacklog). The queued count is read from
/// the catalog at most every 200 ms and counted up between reads, so a burst of uploads sees its own jobs.
/// </summary>
public sealed class UploadBacklog(ILabelingJobs jobs, IOptions<QueueOptions> options, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan Fresh = TimeSpan.FromMilliseconds(200);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private long _queued;
    private long _readAt = long.MinValue;

    /// <summary>How long a refused client is told to wait (Retry-After).</summary>
    public static TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(5);

    /// <exception cref="StorageException">With <see cref="StorageError.SlowDown"/> when the backlog is full.</exception>
    public async Task EnsureRoomAsync(CancellationToken cancellationToken)
    {
        var max = options.Value.MaxBacklog;
        if (max == 0)
        {
            return;
        }

        if (time.GetElapsedTime(Interlocked.Read(ref _readAt)) > Fresh)
        {
            await _refresh.WaitAsync(cancellationToken);
            try
            {
                if (time.GetElapsedTime(Interlocked.Read(ref _readAt)) > Fresh)
                {
                    Interlocked.Exchange(ref _queued, await jobs.CountQueuedAsync(max, cancellationToken));
                    Interlocked.Exchange(ref _readAt, time.GetTimestamp());
                }
            }
            finally
            {
                _refresh.Release();
            }
        }

        if (Interlocked.Read(ref _queued) >= max)
        {
            throw new StorageException(StorageError.SlowDown, $"The server is behind: {max:N0} uploads are waiting to be labeled (Queue:MaxBacklog). Retry in a few seconds.");
        }
    }

    /// <summary>An upload queued a job.</summary>
    public void Added() => Interlocked.Increment(ref _queued);

    public void Dispose() => _refresh.Dispose();
}
