namespace LabelLens.Storage;

public sealed partial class SqliteCatalog
{
    /// <summary>Webhook delivery leases: in memory, since one process serves an embedded catalog (serve.lock).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Owner, long Until)> _webhookLeases = new(StringComparer.Ordinal);

    public Task<bool> TryLeaseWebhookAsync(string webhook, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = Now;
        var until = now + (long)lease.TotalMilliseconds;
        var held = _webhookLeases.AddOrUpdate(webhook, (owner, until), (_, current) => current.Owner == owner || current.Until <= now ? (owner, until) : current);
        return Task.FromResult(held.Owner == owner);
    }

    /// <summary>
    /// The events after <paramref name="afterId"/>, oldest first, of every type (ObjectCreated, LabelsReady,
    /// LabelingFailed, ObjectRemoved): what the web UI's live stream follows. Every writer of the catalog
    /// (REST, S3, external events, the CLI) records them, so following this table misses none.
    /// </summary>
    public async Task<IReadOnlyList<CatalogChange>> ReadChangesAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            "SELECT id, type, image_id, bucket, key, created_at FROM events WHERE id > $after ORDER BY id LIMIT $limit",
            ("$after", afterId), ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var changes = new List<CatalogChange>();
        while (await reader.ReadAsync(cancellationToken))
        {
            changes.Add(new CatalogChange(reader.GetInt64(0), Enum.Parse<CatalogEventType>(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.GetString(4), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5))));
        }

        return changes;
    }

    /// <summary>
    /// Images a worker is labeling right now (at most <paramref name="limit"/>). Claiming a job records no event,
    /// so the live stream looks here to show "labeling" as it happens.
    /// </summary>
    public async Task<IReadOnlyList<(string Id, string Bucket, string Key)>> GetLabelingAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT id, bucket, key FROM images WHERE status = 'labeling' LIMIT $limit", ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var images = new List<(string, string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            images.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return images;
    }

    /// <summary>The id of the newest event (0 when there is none): where a live stream starts.</summary>
    public async Task<long> LastChangeIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT COALESCE(MAX(id), 0) FROM events");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Images labeled in the last minute, 5 minutes and hour, and their mean labeling time over the hour.</summary>
    public async Task<LabelingThroughput> GetThroughputAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            """
            SELECT COUNT(CASE WHEN labeled_at > $m1 THEN 1 END), COUNT(CASE WHEN labeled_at > $m5 THEN 1 END), COUNT(*), AVG(labeling_ms)
            FROM images WHERE status = 'labeled' AND labeled_at > $h1
            """,
            ("$m1", now - 60_000), ("$m5", now - 300_000), ("$h1", now - 3_600_000));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new LabelingThroughput(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetDouble(3));
    }
}
