using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

public sealed partial class SqliteCatalog
{
    /// <summary>The image's source: null for the local object store, else the external store's name.</summary>
    public async Task<string?> GetImageSourceAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT source FROM images WHERE id = $id", ("$id", imageId));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>
    /// Records an ObjectCreated of an external object: unless the event is older than (or the same as) the last
    /// one applied to the key, or the ETag is already cataloged, the image row (source = the store), its
    /// ObjectCreated event and its labeling job commit together with the key's new sequencer.
    /// </summary>
    public async Task<ExternalOutcome> RecordExternalObjectAsync(ExternalObjectRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var outcome = await RecordExternalAsync(connection, transaction, record, Now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return outcome;
    }

    /// <summary>
    /// Records one listed page of a backfill in one transaction, with the backfill's resume position (the
    /// page's last key), so an interrupted backfill resumes after the last page it recorded.
    /// </summary>
    public async Task<IReadOnlyList<ExternalOutcome>> RecordBackfillPageAsync(string source, string bucket, string prefix, IReadOnlyList<ExternalObjectRecord> records, string lastKey, long listedSoFar, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var outcomes = new List<ExternalOutcome>(records.Count);
        foreach (var record in records)
        {
            outcomes.Add(await RecordExternalAsync(connection, transaction, record, now, cancellationToken));
        }

        Execute(
            connection,
            transaction,
            """
            INSERT INTO backfill_cursors (source, bucket, prefix, after_key, listed, updated_at) VALUES ($source, $bucket, $prefix, $after, $listed, $now)
            ON CONFLICT (source, bucket, prefix) DO UPDATE SET after_key = excluded.after_key, listed = excluded.listed, updated_at = excluded.updated_at
            """,
            ("$source", source), ("$bucket", bucket), ("$prefix", prefix), ("$after", lastKey), ("$listed", listedSoFar), ("$now", now));
        await transaction.CommitAsync(cancellationToken);
        return outcomes;
    }

    /// <summary>Where an interrupted backfill of source/bucket/prefix resumes: the last key recorded and how many were listed; null when none is pending.</summary>
    public async Task<(string AfterKey, long Listed)?> GetBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT after_key, listed FROM backfill_cursors WHERE source = $source AND bucket = $bucket AND prefix = $prefix", ("$source", source), ("$bucket", bucket), ("$prefix", prefix));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>Forgets a backfill's resume position (the listing reached its end).</summary>
    public async Task ClearBackfillCursorAsync(string source, string bucket, string prefix, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "DELETE FROM backfill_cursors WHERE source = $source AND bucket = $bucket AND prefix = $prefix", ("$source", source), ("$bucket", bucket), ("$prefix", prefix));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Records an ObjectRemoved of an external object: unless the event is older than the last one applied,
    /// the image (if it came from this store) goes with its labels and pending jobs, an ObjectRemoved event is
    /// written, and the key keeps a tombstone with the sequencer so older ObjectCreated deliveries stay ignored.
    /// </summary>
    public async Task<ExternalOutcome> RecordExternalRemovalAsync(string source, string bucket, string key, string? sequencer, CancellationToken cancellationToken)
    {
        var now = Now;
        var id = ImageId(bucket, key);
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var order = CheckSequencer(connection, transaction, bucket, key, sequencer);
        if (order is not null)
        {
            await transaction.CommitAsync(cancellationToken);
            return order.Value;
        }

        var deleted = Execute(connection, transaction, "DELETE FROM images WHERE id = $id AND source = $source", ("$id", id), ("$source", source)) > 0;
        if (deleted)
        {
            Execute(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = $now WHERE image_id = $id AND state IN ('queued', 'running')", ("$id", id), ("$now", now));
            InsertEvent(connection, transaction, CatalogEventType.ObjectRemoved, id, bucket, key, null, now);
        }

        SaveExternalState(connection, transaction, source, bucket, key, sequencer, null, deleted: true, now);
        await transaction.CommitAsync(cancellationToken);
        return deleted ? ExternalOutcome.Deleted : ExternalOutcome.NotFound;
    }

    /// <summary>
    /// Compares S3 event sequencers as AWS documents: hex strings of possibly different lengths, the shorter
    /// left-padded with zeros, then compared; the greater is the later event.
    /// </summary>
    public static int CompareSequencers(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var x = a.Trim().TrimStart('0').ToUpperInvariant();
        var y = b.Trim().TrimStart('0').ToUpperInvariant();
        return x.Length != y.Length ? x.Length.CompareTo(y.Length) : string.CompareOrdinal(x, y);
    }

    /// <summary>Starts a webhook's cursor at the newest event (a new webhook hears about what happens from now on); no-op when it exists.</summary>
    public async Task<WebhookCursor> InitWebhookCursorAsync(string webhook, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        Execute(
            connection,
            null,
            "INSERT OR IGNORE INTO webhook_cursors (webhook, last_event_id, updated_at) VALUES ($w, (SELECT COALESCE(MAX(id), 0) FROM events), $now)",
            ("$w", webhook), ("$now", Now));
        return (await GetWebhookCursorAsync(webhook, cancellationToken))!;
    }

    public async Task<WebhookCursor?> GetWebhookCursorAsync(string webhook, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT last_event_id, attempts, next_attempt_at, last_error, delivered, given_up FROM webhook_cursors WHERE webhook = $w", ("$w", webhook));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new WebhookCursor(reader.GetInt64(0), reader.GetInt32(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5))
            : null;
    }

    /// <summary>The next event of one of <paramref name="types"/> after <paramref name="afterId"/>, or null.</summary>
    public async Task<OutboxEvent?> NextOutboxEventAsync(long afterId, IReadOnlyCollection<CatalogEventType> types, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(types);
        var parameters = types.Select((t, i) => ($"$t{i}", (object?)t.ToString())).Append(("$after", afterId)).ToArray();
        var list = string.Join(", ", parameters.Take(types.Count).Select(p => p.Item1));
        await using var connection = Open();
        await using var command = Command(connection, null, $"SELECT id, type, image_id, bucket, key, created_at FROM events WHERE id > $after AND type IN ({list}) ORDER BY id LIMIT 1", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new OutboxEvent(reader.GetInt64(0), Enum.Parse<CatalogEventType>(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.GetString(4), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)))
            : null;
    }

    /// <summary>The event was delivered: the cursor moves past it and the retry state resets.</summary>
    public async Task WebhookDeliveredAsync(string webhook, long eventId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            "UPDATE webhook_cursors SET last_event_id = $e, attempts = 0, next_attempt_at = 0, last_error = NULL, delivered = delivered + 1, updated_at = $now WHERE webhook = $w",
            ("$w", webhook), ("$e", eventId), ("$now", Now));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A failed attempt: the next one is due at <paramref name="nextAttemptAt"/> (the cursor stays, so delivery order holds).</summary>
    public async Task WebhookAttemptFailedAsync(string webhook, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            "UPDATE webhook_cursors SET attempts = $a, next_attempt_at = $next, last_error = $error, updated_at = $now WHERE webhook = $w",
            ("$w", webhook), ("$a", attempts), ("$next", nextAttemptAt.ToUnixTimeMilliseconds()), ("$error", error), ("$now", Now));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The last attempt failed: the event is recorded in webhook_failures and the cursor moves past it.</summary>
    public async Task WebhookGaveUpAsync(string webhook, long eventId, int attempts, string error, CancellationToken cancellationToken)
    {
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        Execute(connection, transaction, "INSERT OR REPLACE INTO webhook_failures (webhook, event_id, attempts, error, failed_at) VALUES ($w, $e, $a, $error, $now)", ("$w", webhook), ("$e", eventId), ("$a", attempts), ("$error", error), ("$now", now));
        Execute(
            connection,
            transaction,
            "UPDATE webhook_cursors SET last_event_id = $e, attempts = 0, next_attempt_at = 0, last_error = $error, given_up = given_up + 1, updated_at = $now WHERE webhook = $w",
            ("$w", webhook), ("$e", eventId), ("$error", error), ("$now", now));
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<ExternalOutcome> RecordExternalAsync(SqliteConnection connection, SqliteTransaction transaction, ExternalObjectRecord record, long now, CancellationToken cancellationToken)
    {
        var order = CheckSequencer(connection, transaction, record.Bucket, record.Key, record.Sequencer);
        if (order is not null)
        {
            return order.Value;
        }

        var id = ImageId(record.Bucket, record.Key);
        // The bytes are never fetched for hashing: the ETag stands for the content ("same bytes again" = same ETag).
        var contentId = "etag:" + record.ETag;
        var existing = await GetImageAsync(connection, transaction, id, cancellationToken);
        var existingSource = existing is null ? null : Scalar(connection, transaction, "SELECT source FROM images WHERE id = $id", ("$id", id)) as string;
        SaveExternalState(connection, transaction, record.Source, record.Bucket, record.Key, record.Sequencer, record.ETag, deleted: false, now);
        if (existing is not null && existing.Sha256 == contentId && existingSource == record.Source)
        {
            return ExternalOutcome.Unchanged;
        }

        Execute(
            connection,
            transaction,
            """
            INSERT INTO images (id, bucket, key, etag, sha256, size, content_type, status, attempts, created_at, updated_at, source)
            VALUES ($id, $bucket, $key, $etag, $sha, $size, $ct, 'queued', 0, $now, $now, $source)
            ON CONFLICT (id) DO UPDATE SET
                etag = excluded.etag, sha256 = excluded.sha256, size = excluded.size, content_type = COALESCE(excluded.content_type, content_type),
                status = 'queued', error = NULL, attempts = 0, updated_at = excluded.updated_at, source = excluded.source
            """,
            ("$id", id), ("$bucket", record.Bucket), ("$key", record.Key), ("$etag", record.ETag), ("$sha", contentId),
            ("$size", record.Size), ("$ct", record.ContentType), ("$now", now), ("$source", record.Source));
        InsertEvent(connection, transaction, CatalogEventType.ObjectCreated, id, record.Bucket, record.Key, record.ETag, now);
        EnqueueJob(connection, transaction, id, contentId, now);
        return ExternalOutcome.Queued;
    }

    /// <summary>Duplicate or Stale when <paramref name="sequencer"/> is not newer than the key's last applied one; null to go ahead.</summary>
    private static ExternalOutcome? CheckSequencer(SqliteConnection connection, SqliteTransaction transaction, string bucket, string key, string? sequencer)
    {
        if (string.IsNullOrEmpty(sequencer) || Scalar(connection, transaction, "SELECT sequencer FROM external_objects WHERE bucket = $b AND key = $k", ("$b", bucket), ("$k", key)) is not string last)
        {
            return null;
        }

        var order = CompareSequencers(sequencer, last);
        return order == 0 ? ExternalOutcome.Duplicate : order < 0 ? ExternalOutcome.Stale : null;
    }

    private static void SaveExternalState(SqliteConnection connection, SqliteTransaction transaction, string source, string bucket, string key, string? sequencer, string? etag, bool deleted, long now) =>
        Execute(
            connection,
            transaction,
            """
            INSERT INTO external_objects (bucket, key, source, sequencer, etag, deleted, updated_at) VALUES ($b, $k, $source, $seq, $etag, $deleted, $now)
            ON CONFLICT (bucket, key) DO UPDATE SET source = excluded.source, sequencer = COALESCE(excluded.sequencer, sequencer),
                etag = excluded.etag, deleted = excluded.deleted, updated_at = excluded.updated_at
            """,
            ("$b", bucket), ("$k", key), ("$source", source), ("$seq", string.IsNullOrEmpty(sequencer) ? null : sequencer), ("$etag", etag), ("$deleted", deleted ? 1 : 0), ("$now", now));
}
