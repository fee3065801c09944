using LabelLens.Storage;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Stores an upload and records it in the catalog with its labeling job; shared by every upload path. Between the
/// store and the catalog an <see cref="UploadJournal"/> note is kept, so bytes that never got into the catalog
/// (a failure, a crash) are removed rather than left for ever. A full disk is refused before the body is read
/// when it is known, and reported as <see cref="StorageError.DiskFull"/> when a write finds it.
/// </summary>
public sealed class Uploader(
    IObjectStore store,
    IImageCatalog catalog,
    UploadBacklog backlog,
    QueueSignal signal,
    ServerMetrics metrics,
    DiskSpace disk,
    UploadJournal journal,
    TimeProvider time,
    IOptions<UploadOptions> options)
{
    /// <param name="beforeRecord">
    /// Writes what belongs with the bytes (the S3 endpoint's metadata) after they are stored and before the catalog
    /// records them: if it fails, the upload fails as a whole and its bytes are removed, instead of an object the
    /// client was told failed becoming visible without its metadata.
    /// </param>
    public async Task<UploadOutcome> StoreAsync(
        string bucket, string key, Stream content, string? contentType, CancellationToken cancellationToken, Func<StoredObject, CancellationToken, Task>? beforeRecord = null)
    {
        try
        {
            ObjectNames.ValidateBucket(bucket);
            ObjectNames.ValidateKey(key);
            // Before the body is read: a refused upload costs the server nothing.
            await backlog.EnsureRoomAsync(cancellationToken);
            disk.EnsureRoomForUpload();
            await store.CreateBucketAsync(bucket, cancellationToken);
            var note = await journal.BeginAsync(bucket, key, cancellationToken);
            StoredObject? stored = null;
            try
            {
                stored = await store.PutAsync(bucket, key, content, options.Value.MaxObjectBytes, cancellationToken);
                // Videos are recognised by their bytes (never the name) and go to the video worker.
                var mediaType = await VideoServices.MediaTypeAsync(store, stored, cancellationToken);
                if (beforeRecord is not null)
                {
                    await beforeRecord(stored, cancellationToken);
                }

                var outcome = await catalog.RecordUploadAsync(stored, string.IsNullOrWhiteSpace(contentType) ? null : contentType, cancellationToken, mediaType);
                UploadJournal.End(note);
                if (outcome.Enqueued)
                {
                    backlog.Added();
                    signal.Notify();
                }

                metrics.Upload(outcome.Enqueued);
                return outcome;
            }
            catch (Exception)
            {
                if (stored is null)
                {
                    UploadJournal.End(note); // a failed write leaves the old bytes (or none): nothing to reconcile
                }
                else
                {
                    // Stored but not recorded: the client gets an error, so the bytes must not stay as if accepted.
                    await ReconcileAfterFailureAsync(note, stored);
                }

                throw;
            }
        }
        catch (StorageException)
        {
            metrics.UploadRefused();
            throw;
        }
        catch (Exception ex) when (DiskFull.Is(ex))
        {
            disk.WriteFailed(ex);
            metrics.UploadRefused();
            throw DiskFull.Refusal(disk.DataFolder, ex);
        }
    }

    /// <summary>
    /// Makes the catalog and the store agree on a key whose upload did not finish: bytes no catalog row knows are
    /// removed (no client got a 2xx for them); bytes that replaced a recorded object's are recorded, since the old
    /// ones are gone. With <paramref name="expectedSha256"/>, only bytes with that hash are touched (a newer
    /// upload of the same key may have replaced them meanwhile).
    /// </summary>
    public async Task<Reconciled> ReconcileAsync(PendingUpload upload, string? expectedSha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var current = await StoredHashes.ReadAsync(store, upload.Bucket, upload.Key, time.GetUtcNow(), cancellationToken);
        if (current is null || (expectedSha256 is not null && current.Sha256 != expectedSha256))
        {
            return Reconciled.InAgreement;
        }

        var recorded = await catalog.GetImageAsync(upload.Bucket, upload.Key, cancellationToken);
        if (recorded is null)
        {
            await store.DeleteAsync(upload.Bucket, upload.Key, cancellationToken);
            return Reconciled.OrphanRemoved;
        }

        if (recorded.Sha256 == current.Sha256)
        {
            return Reconciled.InAgreement;
        }

        var mediaType = await VideoServices.MediaTypeAsync(store, current, cancellationToken);
        var outcome = await catalog.RecordUploadAsync(current, recorded.ContentType, cancellationToken, mediaType);
        if (outcome.Enqueued)
        {
            signal.Notify();
        }

        return Reconciled.Recorded;
    }

    private async Task ReconcileAfterFailureAsync(string note, StoredObject stored)
    {
        try
        {
            await ReconcileAsync(new PendingUpload(stored.Bucket, stored.Key), stored.Sha256, CancellationToken.None);
            UploadJournal.End(note);
        }
        catch (Exception ex) when (ex is IOException or StorageException || DiskFull.Is(ex))
        {
            // The note stays: the next start reconciles it.
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

    /// <summary>
    /// Uploads are refused (507 DiskFull) while the data folder's disk has less free space than this (default
    /// 64 MiB): what is left keeps deletes, labeling results and the catalog working. 0 turns the check off.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, long.MaxValue)]
    public long MinFreeDiskBytes { get; set; } = 64L * 1024 * 1024;
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
