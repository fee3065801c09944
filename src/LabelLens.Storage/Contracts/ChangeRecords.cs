namespace LabelLens.Storage;

/// <summary>What happened to an image; the names are the event types of the change feed, the outbox and webhooks.</summary>
public enum CatalogEventType
{
    /// <summary>An object was stored (upload, S3 event, backfill) and its labeling job queued.</summary>
    ObjectCreated,

    /// <summary>Its labels (or a video's segments) are stored.</summary>
    LabelsReady,

    /// <summary>Labeling gave up on it; the image's error says why.</summary>
    LabelingFailed,

    /// <summary>The object was deleted.</summary>
    ObjectRemoved,
}

/// <summary>One row of the events table: an image was created, labeled, failed or removed.</summary>
public sealed record CatalogChange(long Id, CatalogEventType Type, string ImageId, string Bucket, string Key, DateTimeOffset CreatedAt);

/// <summary>How fast labeling goes: images labeled in recent windows and their mean labeling time.</summary>
public sealed record LabelingThroughput(long LastMinute, long Last5Minutes, long LastHour, double? MeanLabelingMs);
