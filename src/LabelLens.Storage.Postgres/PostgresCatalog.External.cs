using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>Objects of external stores (IExternalSources): S3 events applied in sequencer order, resumable backfills.</summary>
public sealed partial class PostgresCatalog
{
    public async Task<ExternalOutcome> RecordExternalObjectAsync(ExternalObjectRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        var outcome = await RecordExternalAsync(connection, transaction, record, Now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task<IReadOnlyList<ExternalOutcome>> RecordBackfillPageAsync(string source, string bucket, string prefix, IReadOnlyList<ExternalObjectRecord> records, string lastKey, long listedSoFar, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        var outcomes = new List<ExternalOutcome>(records.Count);
        foreach (var record in records)
        {
            outcomes.Add(await RecordExternalAsync(connection, transaction, record, now, cancellationToken));
        }

        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO backfill_cursors (source, bucket, prefix, after_key, listed, updated_at) VALUES (@source, @bucket, @prefix, @after, @listed, @now)
            ON CONFLICT (source, bucket, prefix) DO UPDATE SET after_key = excluded.after_key, listed = excluded.listed, updated_at = excluded.updated_at
            """,
            cancellationToken,
            ("source", source), ("bucket", bucket), ("prefix", prefix), ("after", lastKey), ("listed", listedSoFar), ("now", now));
        await transaction.CommitAsync(cancellationToken);
        return outcomes;
    }

    public async Task<(string AfterKey, long Listed)?> GetBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            "SELECT after_key, listed FROM backfill_cursors WHERE source = @source AND bucket = @bucket AND prefix = @prefix",
            r => (r.GetString(0), r.GetInt64(1)),
            cancellationToken,
            ("source", source), ("bucket", bucket), ("prefix", prefix));
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task ClearBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "DELETE FROM backfill_cursors WHERE source = @source AND bucket = @bucket AND prefix = @prefix", cancellationToken, ("source", source), ("bucket", bucket), ("prefix", prefix));
    }

    public async Task<ExternalOutcome> RecordExternalRemovalAsync(string source, string bucket, string key, string? sequencer, CancellationToken cancellationToken)
    {
        var now = Now;
        var id = ImageIds.For(bucket, key);
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        await LockImageAsync(connection, transaction, id, cancellationToken);
        var order = await CheckSequencerAsync(connection, transaction, bucket, key, sequencer, cancellationToken);
        if (order is not null)
        {
            await transaction.CommitAsync(cancellationToken);
            return order.Value;
        }

        var deleted = await ExecuteAsync(connection, transaction, "DELETE FROM images WHERE id = @id AND source = @source", cancellationToken, ("id", id), ("source", source)) > 0;
        if (deleted)
        {
            await SupersedeJobsAsync(connection, transaction, id, now, cancellationToken);
            await InsertEventAsync(connection, transaction, CatalogEventType.ObjectRemoved, id, bucket, key, null, now, cancellationToken);
        }

        await SaveExternalStateAsync(connection, transaction, source, bucket, key, sequencer, null, deleted: true, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return deleted ? ExternalOutcome.Deleted : ExternalOutcome.NotFound;
    }

    private static async Task<ExternalOutcome> RecordExternalAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ExternalObjectRecord record, long now, CancellationToken cancellationToken)
    {
        var id = ImageIds.For(record.Bucket, record.Key);
        await LockImageAsync(connection, transaction, id, cancellationToken);
        var order = await CheckSequencerAsync(connection, transaction, record.Bucket, record.Key, record.Sequencer, cancellationToken);
        if (order is not null)
        {
            return order.Value;
        }

        // The bytes are never fetched for hashing: the ETag stands for the content ("same bytes again" = same ETag).
        var contentId = "etag:" + record.ETag;
        var existing = await GetImageAsync(connection, transaction, id, cancellationToken);
        var existingSource = existing is null ? null : await ScalarAsync(connection, transaction, "SELECT source FROM images WHERE id = @id", cancellationToken, ("id", id)) as string;
        await SaveExternalStateAsync(connection, transaction, record.Source, record.Bucket, record.Key, record.Sequencer, record.ETag, deleted: false, now, cancellationToken);
        if (existing is not null && existing.Sha256 == contentId && existingSource == record.Source)
        {
            return ExternalOutcome.Unchanged;
        }

        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO images AS i (id, bucket, key, etag, sha256, size, content_type, status, attempts, created_at, updated_at, source)
            VALUES (@id, @bucket, @key, @etag, @sha, @size, @ct, 'queued', 0, @now, @now, @source)
            ON CONFLICT (id) DO UPDATE SET
                etag = excluded.etag, sha256 = excluded.sha256, size = excluded.size, content_type = COALESCE(excluded.content_type, i.content_type),
                status = 'queued', error = NULL, attempts = 0, updated_at = excluded.updated_at, source = excluded.source
            """,
            cancellationToken,
            ("id", id), ("bucket", record.Bucket), ("key", record.Key), ("etag", record.ETag), ("sha", contentId),
            ("size", record.Size), ("ct", record.ContentType), ("now", now), ("source", record.Source));
        await InsertEventAsync(connection, transaction, CatalogEventType.ObjectCreated, id, record.Bucket, record.Key, record.ETag, now, cancellationToken);
        await EnqueueJobAsync(connection, transaction, id, contentId, now, cancellationToken);
        return ExternalOutcome.Queued;
    }

    /// <summary>Duplicate or Stale when <paramref name="sequencer"/> is not newer than the key's last applied one; null to go ahead.</summary>
    private static async Task<ExternalOutcome?> CheckSequencerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string bucket, string key, string? sequencer, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(sequencer)
            || await ScalarAsync(connection, transaction, "SELECT sequencer FROM external_objects WHERE bucket = @b AND key = @k", cancellationToken, ("b", bucket), ("k", key)) is not string last)
        {
            return null;
        }

        var order = SqliteCatalog.CompareSequencers(sequencer, last);
        return order == 0 ? ExternalOutcome.Duplicate : order < 0 ? ExternalOutcome.Stale : null;
    }

    private static Task<int> SaveExternalStateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string source, string bucket, string key, string? sequencer, string? etag, bool deleted, long now, CancellationToken cancellationToken) =>
        ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO external_objects AS e (bucket, key, source, sequencer, etag, deleted, updated_at) VALUES (@b, @k, @source, @seq, @etag, @deleted, @now)
            ON CONFLICT (bucket, key) DO UPDATE SET source = excluded.source, sequencer = COALESCE(excluded.sequencer, e.sequencer),
                etag = excluded.etag, deleted = excluded.deleted, updated_at = excluded.updated_at
            """,
            cancellationToken,
            ("b", bucket), ("k", key), ("source", source), ("seq", string.IsNullOrEmpty(sequencer) ? null : sequencer), ("etag", etag), ("deleted", deleted), ("now", now));
}
