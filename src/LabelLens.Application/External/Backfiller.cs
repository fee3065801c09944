using LabelLens.Storage;
using LabelLens.Storage.External;
using Microsoft.Extensions.Logging;

namespace LabelLens.Application;

/// <summary>What to backfill: a bucket of an external store (found by bucket name when no store is named), under a prefix.</summary>
/// <param name="MaxObjects">Stop after listing about this many (the rest on the next run); null for all.</param>
public sealed record BackfillRequest(string Bucket, string? Prefix = null, string? Store = null, long? MaxObjects = null);

/// <summary>Progress of a running backfill.</summary>
public sealed record BackfillProgress(long Listed, long Queued, long Skipped);

/// <summary>The outcome of a backfill run.</summary>
/// <param name="ResumedAfter">The key an interrupted earlier run had reached, when this run continued from it.</param>
/// <param name="Complete">The listing reached the end of the bucket/prefix (false: stopped at MaxObjects; the next run resumes).</param>
public sealed record BackfillSummary(string Store, string Bucket, string Prefix, long Listed, long Queued, long Skipped, string? ResumedAfter, bool Complete);

/// <summary>The bucket or store could not be used.</summary>
public sealed class BackfillException : Exception
{
    public BackfillException(string code, string message, bool upstream)
        : base(message)
    {
        Code = code;
        Upstream = upstream;
    }

    public BackfillException()
        : this("BackfillFailed", "The backfill cannot run.", upstream: false)
    {
    }

    public BackfillException(string message)
        : this("BackfillFailed", message, upstream: false)
    {
    }

    public BackfillException(string message, Exception inner)
        : base(message, inner) => Code = "BackfillFailed";

    /// <summary>InvalidBucketName, NoExternalStore, ExternalStoreError.</summary>
    public string Code { get; }

    /// <summary>The external store failed (not the request).</summary>
    public bool Upstream { get; }
}

/// <summary>
/// Lists an external bucket (ListObjectsV2, a page at a time) and queues labeling for every object whose
/// ETag the catalog does not have yet. Each page is recorded in one transaction together with the resume
/// position, so a run that is interrupted continues after the last recorded page, and a run over a bucket
/// already done queues nothing.
/// </summary>
public sealed class Backfiller(ExternalStores stores, ICatalog catalog, ILogger<Backfiller> logger)
{
    public const int PageSize = 1000;

    public async Task<BackfillSummary> RunAsync(BackfillRequest request, Action<BackfillProgress>? progress, Action<int>? queued, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            ObjectNames.ValidateBucket(request.Bucket);
        }
        catch (StorageException ex)
        {
            throw new BackfillException(nameof(StorageError.InvalidBucketName), ex.Message, upstream: false);
        }

        var store = stores.Resolve(request.Bucket, request.Store, out var error) ?? throw new BackfillException("NoExternalStore", error!, upstream: false);
        var prefix = request.Prefix ?? "";
        var cursor = await catalog.GetBackfillCursorAsync(store.Name, request.Bucket, prefix, cancellationToken);
        var after = cursor?.AfterKey;
        long listed = cursor?.Listed ?? 0, listedNow = 0, queuedCount = 0, skipped = 0;
        if (after is not null)
        {
            logger.LogInformation("Backfill of {Store}:{Bucket}/{Prefix} resumes after {Key}", store.Name, request.Bucket, prefix, ObjectNames.Printable(after));
        }

        while (true)
        {
            var room = request.MaxObjects is { } max ? max - listedNow : PageSize;
            if (room <= 0)
            {
                return new BackfillSummary(store.Name, request.Bucket, prefix, listedNow, queuedCount, skipped, cursor?.AfterKey, Complete: false);
            }

            ExternalListPage page;
            try
            {
                page = await store.ListPageAsync(request.Bucket, prefix, after, (int)Math.Min(room, PageSize), cancellationToken);
            }
            catch (Amazon.Runtime.AmazonServiceException ex)
            {
                throw new BackfillException("ExternalStoreError", $"Listing s3://{request.Bucket}/{prefix} in external store '{store.Name}' failed: {ex.ErrorCode ?? ex.StatusCode.ToString()}: {ex.Message}", upstream: true);
            }

            if (page.Objects.Count > 0)
            {
                // Folder markers ("photos/") are not objects anyone wants labeled.
                var records = page.Objects.Where(o => !o.Key.EndsWith('/'))
                    .Select(o => new ExternalObjectRecord(store.Name, request.Bucket, o.Key, o.ETag, o.Size, Sequencer: null))
                    .ToList();
                listed += page.Objects.Count;
                listedNow += page.Objects.Count;
                after = page.Objects[^1].Key;
                var outcomes = await catalog.RecordBackfillPageAsync(store.Name, request.Bucket, prefix, records, after, listed, cancellationToken);
                var pageQueued = outcomes.Count(o => o == ExternalOutcome.Queued);
                queuedCount += pageQueued;
                skipped += page.Objects.Count - pageQueued;
                if (pageQueued > 0)
                {
                    queued?.Invoke(pageQueued);
                }

                progress?.Invoke(new BackfillProgress(listedNow, queuedCount, skipped));
            }

            if (!page.IsTruncated || page.Objects.Count == 0)
            {
                await catalog.ClearBackfillCursorAsync(store.Name, request.Bucket, prefix, cancellationToken);
                logger.LogInformation("Backfill of {Store}:{Bucket}/{Prefix}: {Listed} listed, {Queued} queued, {Skipped} already cataloged", store.Name, request.Bucket, prefix, listedNow, queuedCount, skipped);
                return new BackfillSummary(store.Name, request.Bucket, prefix, listedNow, queuedCount, skipped, cursor?.AfterKey, Complete: true);
            }
        }
    }
}
