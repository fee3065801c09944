using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Video;

namespace LabelLens.Storage.Postgres;

// Not yet ported (search, text, results table, video): each method moves to its own file as it is ported.
public sealed partial class PostgresCatalog
{
    public Task<ImagePage> SearchAsync(ImageQuery query, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ISearchCatalog");
    public Task<IReadOnlyList<LabelFacet>> LabelFacetsAsync(string? prefix, int limit, bool labeledOnly, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ISearchCatalog");
    public Task<bool> CompleteTextJobAsync(ClaimedJob job, TextReading reading, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: ITextCatalog");
    public Task<Dictionary<string, IReadOnlyList<TextLine>>> GetTextAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken, string? matching = null) => throw new NotImplementedException("PostgreSQL: ITextCatalog");
    public Task<string?> FindKeyOwnerAsync(string key, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IResultsTable");
    public Task<IReadOnlyList<ResultRow>> GetResultRowsAsync(IReadOnlyCollection<string> imageIds, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IResultsTable");
    public Task<IReadOnlyList<ResultRow>> ScanResultRowsAsync(string? afterId, int segment, int totalSegments, int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IResultsTable");
    public Task<IReadOnlyList<LabelIndexEntry>> QueryLabelIndexAsync(string label, ConfidenceRange range, bool ascending, LabelIndexPosition? after, int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IResultsTable");
    public Task<ResultsTableCounts> CountResultsAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IResultsTable");
    public Task<bool> SaveVideoMetadataAsync(ClaimedJob job, VideoMetadata metadata, string probeJson, string format, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<(long? ProgressMillis, int FramesDone)> GetVideoCheckpointAsync(ClaimedJob job, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<bool> SaveVideoCheckpointAsync(ClaimedJob job, IReadOnlyList<FrameLabels> frames, long progressMillis, int framesDone, TimeSpan lease, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<bool> CompleteVideoJobAsync(ClaimedJob job, VideoCompletion completion, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<bool?> CancelVideoAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<VideoRecord?> GetVideoAsync(string imageId, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<Dictionary<string, VideoRecord>> GetVideosAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<IReadOnlyList<VideoFrameLabel>> GetVideoFrameLabelsAsync(string imageId, long resultJobId, bool byName, int offset, int limit, CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<IReadOnlyList<LabelSegment>> GetVideoSegmentsAsync(string imageId, IReadOnlyCollection<string>? names, bool byName, int offset, int limit, CancellationToken cancellationToken, double minConfidence = 0) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
    public Task<IReadOnlyList<VideoQueueEntry>> GetVideoQueueAsync(CancellationToken cancellationToken) => throw new NotImplementedException("PostgreSQL: IVideoCatalog");
}
