
namespace LabelLens.Storage;

/// <summary>An object of an external store to be cataloged (from an S3 event or a backfill listing); its bytes stay where they are.</summary>
/// <param name="Source">The external store's configuration name.</param>
/// <param name="ETag">Normalized (no quotes, lower case).</param>
/// <param name="Sequencer">The S3 event's sequencer (hex); null for listings.</param>
public sealed record ExternalObjectRecord(string Source, string Bucket, string Key, string ETag, long Size, string? Sequencer, string? ContentType = null);

/// <summary>What recording an external event or listed object did.</summary>
public enum ExternalOutcome
{
    /// <summary>Cataloged (new or changed ETag) and a labeling job queued.</summary>
    Queued,

    /// <summary>The same ETag is already cataloged (labeled, queued or failed): nothing to do.</summary>
    Unchanged,

    /// <summary>The image and its labels were removed.</summary>
    Deleted,

    /// <summary>A removal for an image the catalog does not have (from this store).</summary>
    NotFound,

    /// <summary>The same sequencer was already applied (a redelivery).</summary>
    Duplicate,

    /// <summary>An older sequencer than the last one applied for the key (an out-of-order delivery): ignored.</summary>
    Stale,
}

/// <summary>One LabelsReady or LabelingFailed row of the events table, as the webhook outbox reads it.</summary>
public sealed record OutboxEvent(long Id, CatalogEventType Type, string ImageId, string Bucket, string Key, DateTimeOffset CreatedAt);

/// <summary>A webhook's delivery position in the outbox and its retry state.</summary>
public sealed record WebhookCursor(long LastEventId, int Attempts, DateTimeOffset NextAttemptAt, string? LastError, long Delivered, long GivenUp);
