using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// The change feed and the webhook outbox (IChangeFeed). Event ids come from a sequence and transactions of several
/// processes commit in any order, so a reader only goes past events whose transaction is older than every
/// transaction still running (pg_snapshot_xmin): an event with a smaller id that commits late is never skipped.
/// </summary>
public sealed partial class PostgresCatalog
{
    private const string SettledEvents = "xid < pg_snapshot_xmin(pg_current_snapshot())";

    public async Task<IReadOnlyList<CatalogChange>> ReadChangesAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(
            connection,
            null,
            $"SELECT id, type, image_id, bucket, key, created_at FROM events WHERE id > @after AND {SettledEvents} ORDER BY id LIMIT @limit",
            r => new CatalogChange(r.GetInt64(0), Enum.Parse<CatalogEventType>(r.GetString(1)), r.GetString(2), r.GetString(3), r.GetString(4), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))),
            cancellationToken,
            ("after", afterId), ("limit", limit));
    }

    public async Task<long> LastChangeIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return ToLong(await ScalarAsync(connection, null, "SELECT COALESCE(MAX(id), 0) FROM events", cancellationToken));
    }

    public async Task<IReadOnlyList<(string Id, string Bucket, string Key)>> GetLabelingAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(connection, null, "SELECT id, bucket, key FROM images WHERE status = 'labeling' LIMIT @limit", r => (r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("limit", limit));
    }

    public async Task<LabelingThroughput> GetThroughputAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            """
            SELECT COUNT(*) FILTER (WHERE labeled_at > @m1), COUNT(*) FILTER (WHERE labeled_at > @m5), COUNT(*), AVG(labeling_ms)
            FROM images WHERE status = 'labeled' AND labeled_at > @h1
            """,
            r => new LabelingThroughput(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetDouble(3)),
            cancellationToken,
            ("m1", now - 60_000), ("m5", now - 300_000), ("h1", now - 3_600_000));
        return rows[0];
    }

    public async Task<OutboxEvent?> NextOutboxEventAsync(long afterId, IReadOnlyCollection<CatalogEventType> types, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(types);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            $"SELECT id, type, image_id, bucket, key, created_at FROM events WHERE id > @after AND type = ANY(@types) AND {SettledEvents} ORDER BY id LIMIT 1",
            r => new OutboxEvent(r.GetInt64(0), Enum.Parse<CatalogEventType>(r.GetString(1)), r.GetString(2), r.GetString(3), r.GetString(4), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))),
            cancellationToken,
            ("after", afterId), ("types", types.Select(t => t.ToString()).ToArray()));
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task<WebhookCursor> InitWebhookCursorAsync(string webhook, CancellationToken cancellationToken)
    {
        await using (var connection = await OpenAsync(cancellationToken))
        {
            await ExecuteAsync(
                connection,
                null,
                "INSERT INTO webhook_cursors (webhook, last_event_id, updated_at) VALUES (@w, (SELECT COALESCE(MAX(id), 0) FROM events), @now) ON CONFLICT (webhook) DO NOTHING",
                cancellationToken,
                ("w", webhook), ("now", Now));
        }

        return (await GetWebhookCursorAsync(webhook, cancellationToken))!;
    }

    public async Task<WebhookCursor?> GetWebhookCursorAsync(string webhook, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            "SELECT last_event_id, attempts, next_attempt_at, last_error, delivered, given_up FROM webhook_cursors WHERE webhook = @w",
            r => new WebhookCursor(r.GetInt64(0), r.GetInt32(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt64(4), r.GetInt64(5)),
            cancellationToken,
            ("w", webhook));
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task WebhookDeliveredAsync(string webhook, long eventId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(
            connection,
            null,
            "UPDATE webhook_cursors SET last_event_id = @e, attempts = 0, next_attempt_at = 0, last_error = NULL, delivered = delivered + 1, updated_at = @now WHERE webhook = @w",
            cancellationToken,
            ("w", webhook), ("e", eventId), ("now", Now));
    }

    public async Task WebhookAttemptFailedAsync(string webhook, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(
            connection,
            null,
            "UPDATE webhook_cursors SET attempts = @a, next_attempt_at = @next, last_error = @error, updated_at = @now WHERE webhook = @w",
            cancellationToken,
            ("w", webhook), ("a", attempts), ("next", nextAttemptAt.ToUnixTimeMilliseconds()), ("error", error), ("now", Now));
    }

    public async Task<bool> TryLeaseWebhookAsync(string webhook, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = Now;
        await using var connection = await OpenAsync(cancellationToken);
        // The row exists once the webhook's cursor does (InitWebhookCursorAsync); a row lock decides between racers.
        return await ExecuteAsync(
            connection,
            null,
            """
            UPDATE webhook_cursors SET lease_owner = @owner, lease_until = @until
            WHERE webhook = @w AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until <= @now)
            """,
            cancellationToken,
            ("w", webhook), ("owner", owner), ("until", now + (long)lease.TotalMilliseconds), ("now", now)) == 1;
    }

    public async Task WebhookGaveUpAsync(string webhook, long eventId, int attempts, string error, CancellationToken cancellationToken)
    {
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO webhook_failures (webhook, event_id, attempts, error, failed_at) VALUES (@w, @e, @a, @error, @now)
            ON CONFLICT (webhook, event_id) DO UPDATE SET attempts = excluded.attempts, error = excluded.error, failed_at = excluded.failed_at;
            UPDATE webhook_cursors SET last_event_id = @e, attempts = 0, next_attempt_at = 0, last_error = @error, given_up = given_up + 1, updated_at = @now WHERE webhook = @w
            """,
            cancellationToken,
            ("w", webhook), ("e", eventId), ("a", attempts), ("error", error), ("now", now));
        await transaction.CommitAsync(cancellationToken);
    }
}
