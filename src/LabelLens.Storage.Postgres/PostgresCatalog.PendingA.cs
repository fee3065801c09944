using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Video;

namespace LabelLens.Storage.Postgres;

// Not yet ported (images, queue, analyses, faces, change feed, external): each method moves to its own file as it is ported.
public sealed partial class PostgresCatalog
{
    public Task<UploadOutcome> RecordUploadAsync(StoredObject stored, string? contentType, CancellationToken cancellationToken, string mediaType = MediaTypes.Image) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<bool> DeleteImageAsync(string bucket, string key, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<ImageRecord?> GetImageAsync(string id, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<ImageRecord?> GetImageAsync(string bucket, string key, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<ImageDetails?> GetDetailsAsync(string id, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<Dictionary<string, List<StoredLabel>>> GetLabelsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<IReadOnlyList<ImageRecord>> ListObjectsAsync(string bucket, string? prefix, string? afterKey, int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<ImageCounts> GetImageCountsAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<string?> GetImageSourceAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<bool> AddManualLabelAsync(string imageId, string name, IReadOnlyList<NamedItem> parents, IReadOnlyList<NamedItem> categories, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<bool> RemoveManualLabelAsync(string imageId, string name, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IImageCatalog");
    public Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, QueueOptions options, CancellationToken cancellationToken, JobKind kind = JobKind.Image) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<bool> CompleteJobAsync(ClaimedJob job, LabelsResult result, double minConfidence, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task FailJobAsync(ClaimedJob job, string error, bool permanent, QueueOptions options, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<int> ReleaseJobsAsync(string ownerPrefix, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<bool> RenewLeaseAsync(ClaimedJob job, TimeSpan lease, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<bool> EnqueueRelabelAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<IReadOnlyList<string>> EnqueueRelabelAsync(RelabelScope scope, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<QueueCounts> GetQueueCountsAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<long> CountQueuedAsync(long cap, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ILabelingJobs");
    public Task<IReadOnlyList<AnalysisLabels>> GetAnalysisLabelsAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IAnalysisResults");
    public Task<IReadOnlyList<AnalysisProvenance>> GetAnalysisProvenanceAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IAnalysisResults");
    public Task<Dictionary<string, FaceSummary>> GetFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IFaceCatalog");
    public Task<IReadOnlyList<CatalogChange>> ReadChangesAsync(long afterId, int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<long> LastChangeIdAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<IReadOnlyList<(string Id, string Bucket, string Key)>> GetLabelingAsync(int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<LabelingThroughput> GetThroughputAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<OutboxEvent?> NextOutboxEventAsync(long afterId, IReadOnlyCollection<CatalogEventType> types, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<WebhookCursor> InitWebhookCursorAsync(string webhook, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<WebhookCursor?> GetWebhookCursorAsync(string webhook, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task WebhookDeliveredAsync(string webhook, long eventId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task WebhookAttemptFailedAsync(string webhook, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task WebhookGaveUpAsync(string webhook, long eventId, int attempts, string error, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IChangeFeed");
    public Task<ExternalOutcome> RecordExternalObjectAsync(ExternalObjectRecord record, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IExternalSources");
    public Task<IReadOnlyList<ExternalOutcome>> RecordBackfillPageAsync(string source, string bucket, string prefix, IReadOnlyList<ExternalObjectRecord> records, string lastKey, long listedSoFar, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IExternalSources");
    public Task<(string AfterKey, long Listed)?> GetBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IExternalSources");
    public Task ClearBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IExternalSources");
    public Task<ExternalOutcome> RecordExternalRemovalAsync(string source, string bucket, string key, string? sequencer, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IExternalSources");
}
