using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Video;

namespace LabelLens.Storage;

// The catalog's contracts: what the application needs from wherever images, jobs, results and events live.
// SqliteCatalog (embedded) implements them all; every provider must pass tests/LabelLens.Tests/CatalogContract.
// Raw SQL stays inside each provider.

/// <summary>Images (objects the catalog knows), their labels and the edits people make to them.</summary>
public interface IImageCatalog
{
    /// <summary>Records a stored object: image row, ObjectCreated event and labeling job, in one transaction.</summary>
    Task<UploadOutcome> RecordUploadAsync(StoredObject stored, string? contentType, CancellationToken cancellationToken, string mediaType = MediaTypes.Image);

    /// <summary>Removes the image (its labels, jobs and results go with it) and records ObjectRemoved; false when unknown.</summary>
    Task<bool> DeleteImageAsync(string bucket, string key, CancellationToken cancellationToken);

    Task<ImageRecord?> GetImageAsync(string id, CancellationToken cancellationToken);

    Task<ImageRecord?> GetImageAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>The image with its labels, properties and the provenance of each analysis.</summary>
    Task<ImageDetails?> GetDetailsAsync(string id, CancellationToken cancellationToken);

    Task<Dictionary<string, List<StoredLabel>>> GetLabelsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    Task<IReadOnlyList<ImageRecord>> ListObjectsAsync(string bucket, string? prefix, string? afterKey, int limit, CancellationToken cancellationToken);

    Task<ImageCounts> GetImageCountsAsync(CancellationToken cancellationToken);

    /// <summary>Where an image's bytes are when not in the primary store (an external store's name), else null.</summary>
    Task<string?> GetImageSourceAsync(string imageId, CancellationToken cancellationToken);

    /// <summary>Adds a label by hand (confidence 100); it survives every relabel.</summary>
    Task<bool> AddManualLabelAsync(string imageId, string name, IReadOnlyList<NamedItem> parents, IReadOnlyList<NamedItem> categories, CancellationToken cancellationToken);

    /// <summary>Removes a label by hand; a relabel will not bring it back.</summary>
    Task<bool> RemoveManualLabelAsync(string imageId, string name, CancellationToken cancellationToken);
}

/// <summary>
/// The labeling queue: durable jobs claimed under leases, completed exactly once (a result counts only while
/// its job is current and still held), retried with backoff.
/// </summary>
public interface ILabelingJobs
{
    Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, QueueOptions options, CancellationToken cancellationToken, JobKind kind = JobKind.Image);

    /// <summary>Stores the result (merged labels, each analysis's own, properties); false when the job no longer counts.</summary>
    Task<bool> CompleteJobAsync(ClaimedJob job, LabelsResult result, double minConfidence, CancellationToken cancellationToken);

    Task FailJobAsync(ClaimedJob job, string error, bool permanent, QueueOptions options, CancellationToken cancellationToken);

    /// <summary>Hands back the running jobs of owners starting with <paramref name="ownerPrefix"/> (a dead server's, or a worker loop's failed batch).</summary>
    /// <param name="returnAttempts">
    /// Also takes back the attempt each claim counted: for a batch the catalog could not record because its disk is
    /// full, which says nothing about the jobs. Otherwise a catalog that still takes claims (PostgreSQL updates rows in
    /// place) but not results used up every job's attempts within seconds and failed them. Never for a dead server's
    /// jobs: one of them may be what killed it, and the attempts limit is what stops it.
    /// </param>
    Task<int> ReleaseJobsAsync(string ownerPrefix, CancellationToken cancellationToken, bool returnAttempts = false);

    /// <summary>Extends the lease of a long job (heartbeat); false when the job was lost.</summary>
    Task<bool> RenewLeaseAsync(ClaimedJob job, TimeSpan lease, CancellationToken cancellationToken);

    Task<bool> EnqueueRelabelAsync(string imageId, CancellationToken cancellationToken);

    /// <summary>Queues relabels in bulk; <see cref="RelabelScope.ModelOlder"/> runs only the analyses whose model changed.</summary>
    Task<IReadOnlyList<string>> EnqueueRelabelAsync(RelabelScope scope, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current, CancellationToken cancellationToken);

    Task<QueueCounts> GetQueueCountsAsync(CancellationToken cancellationToken);

    /// <summary>Queued jobs of every kind, counted up to <paramref name="cap"/> at most (the cost stays bounded however long the queue).</summary>
    Task<long> CountQueuedAsync(long cap, CancellationToken cancellationToken);
}

/// <summary>Each analysis's own stored result, with the model that produced it.</summary>
public interface IAnalysisResults
{
    Task<IReadOnlyList<AnalysisLabels>> GetAnalysisLabelsAsync(string imageId, CancellationToken cancellationToken);

    Task<IReadOnlyList<AnalysisProvenance>> GetAnalysisProvenanceAsync(string imageId, CancellationToken cancellationToken);
}

/// <summary>
/// The text read in images: stored by a text job after the labels (a picture's labels land before its text),
/// searched with full-text search (SearchAsync's ImageQuery.Text).
/// </summary>
public interface ITextCatalog
{
    /// <summary>Stores the text, the text analysis's result row, and marks the text job done; false when the job no longer counts.</summary>
    Task<bool> CompleteTextJobAsync(ClaimedJob job, TextReading reading, CancellationToken cancellationToken);

    /// <summary>
    /// The stored text lines (with words) of each image, keyed by id, a video's occurrences in time order; images
    /// without text are left out. With <paramref name="matching"/> (a text search), only the lines it matches.
    /// </summary>
    Task<Dictionary<string, IReadOnlyList<TextLine>>> GetTextAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken, string? matching = null);
}

/// <summary>The faces found in pictures: stored with the labels (CompleteJobAsync, from LabelsResult.Faces), searched with ImageQuery's face filters.</summary>
public interface IFaceCatalog
{
    /// <summary>Each picture's faces, count and shot size, keyed by id; pictures the face analysis has not run on are left out.</summary>
    Task<Dictionary<string, FaceSummary>> GetFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);
}

/// <summary>Search with every filter, keyset pages, and label facets.</summary>
public interface ISearchCatalog
{
    Task<ImagePage> SearchAsync(ImageQuery query, CancellationToken cancellationToken);

    Task<IReadOnlyList<LabelFacet>> LabelFacetsAsync(string? prefix, int limit, bool labeledOnly, CancellationToken cancellationToken);
}

/// <summary>The change feed (every catalog write records an event) and the outbox webhooks deliver from.</summary>
public interface IChangeFeed
{
    Task<IReadOnlyList<CatalogChange>> ReadChangesAsync(long afterId, int limit, CancellationToken cancellationToken);

    Task<long> LastChangeIdAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<(string Id, string Bucket, string Key)>> GetLabelingAsync(int limit, CancellationToken cancellationToken);

    Task<LabelingThroughput> GetThroughputAsync(CancellationToken cancellationToken);

    Task<OutboxEvent?> NextOutboxEventAsync(long afterId, IReadOnlyCollection<CatalogEventType> types, CancellationToken cancellationToken);

    Task<WebhookCursor> InitWebhookCursorAsync(string webhook, CancellationToken cancellationToken);

    Task<WebhookCursor?> GetWebhookCursorAsync(string webhook, CancellationToken cancellationToken);

    Task WebhookDeliveredAsync(string webhook, long eventId, CancellationToken cancellationToken);

    Task WebhookAttemptFailedAsync(string webhook, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken);

    Task WebhookGaveUpAsync(string webhook, long eventId, int attempts, string error, CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the right to deliver <paramref name="webhook"/> for <paramref name="lease"/>: true when
    /// <paramref name="owner"/> holds it (it was free, expired, or already this owner's). With several processes on
    /// one catalog, exactly one delivers each webhook, so events are not sent once per process.
    /// </summary>
    Task<bool> TryLeaseWebhookAsync(string webhook, string owner, TimeSpan lease, CancellationToken cancellationToken);
}

/// <summary>Videos: metadata, checkpointed frame results, segments, and their jobs.</summary>
public interface IVideoCatalog
{
    Task<bool> SaveVideoMetadataAsync(ClaimedJob job, VideoMetadata metadata, string probeJson, string format, CancellationToken cancellationToken);

    Task<(long? ProgressMillis, int FramesDone)> GetVideoCheckpointAsync(ClaimedJob job, CancellationToken cancellationToken);

    Task<bool> SaveVideoCheckpointAsync(ClaimedJob job, IReadOnlyList<FrameLabels> frames, long progressMillis, int framesDone, TimeSpan lease, CancellationToken cancellationToken);

    Task<bool> CompleteVideoJobAsync(ClaimedJob job, VideoCompletion completion, CancellationToken cancellationToken);

    Task<bool?> CancelVideoAsync(string imageId, CancellationToken cancellationToken);

    Task<VideoRecord?> GetVideoAsync(string imageId, CancellationToken cancellationToken);

    Task<Dictionary<string, VideoRecord>> GetVideosAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    Task<IReadOnlyList<VideoFrameLabel>> GetVideoFrameLabelsAsync(string imageId, long resultJobId, bool byName, int offset, int limit, CancellationToken cancellationToken);

    Task<IReadOnlyList<LabelSegment>> GetVideoSegmentsAsync(string imageId, IReadOnlyCollection<string>? names, bool byName, int offset, int limit, CancellationToken cancellationToken, double minConfidence = 0);

    Task<IReadOnlyList<VideoQueueEntry>> GetVideoQueueAsync(CancellationToken cancellationToken);

    /// <summary>Each video's shots and technical cues, keyed by id; videos without stored shots (not labeled since shots were added) are left out.</summary>
    Task<Dictionary<string, VideoCuts>> GetVideoCutsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Each video's face tracks and face spans, keyed by id; videos the face analysis has not run on are left out.</summary>
    Task<Dictionary<string, VideoFaces>> GetVideoFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);
}

/// <summary>Objects of external stores (bring your own bucket): S3 events in sequencer order, resumable backfills.</summary>
public interface IExternalSources
{
    Task<ExternalOutcome> RecordExternalObjectAsync(ExternalObjectRecord record, CancellationToken cancellationToken);

    Task<IReadOnlyList<ExternalOutcome>> RecordBackfillPageAsync(string source, string bucket, string prefix, IReadOnlyList<ExternalObjectRecord> records, string lastKey, long listedSoFar, CancellationToken cancellationToken);

    Task<(string AfterKey, long Listed)?> GetBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken);

    Task ClearBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken);

    Task<ExternalOutcome> RecordExternalRemovalAsync(string source, string bucket, string key, string? sequencer, CancellationToken cancellationToken);
}

/// <summary>Every contract of the catalog, as one provider offers them (what DI registers per interface).</summary>
public interface ICatalog : IImageCatalog, ILabelingJobs, IAnalysisResults, ITextCatalog, IFaceCatalog, ISearchCatalog, IChangeFeed, IVideoCatalog, IExternalSources, IResultsTable
{
    /// <summary>Where the catalog lives, for logs ("/data/catalog.db").</summary>
    string Location { get; }
}
