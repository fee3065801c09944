using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Labels;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>Images, their labels and manual edits (IImageCatalog).</summary>
public sealed partial class PostgresCatalog
{
    public async Task<UploadOutcome> RecordUploadAsync(StoredObject stored, string? contentType, CancellationToken cancellationToken, string mediaType = MediaTypes.Image)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var id = ImageIds.For(stored.Bucket, stored.Key);
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        await LockImageAsync(connection, transaction, id, cancellationToken);
        var existing = await GetImageAsync(connection, transaction, id, cancellationToken);
        if (existing is not null && existing.Sha256 == stored.Sha256)
        {
            // Same bytes again: nothing to relabel.
            await ExecuteAsync(connection, transaction, "UPDATE images SET content_type = @ct WHERE id = @id", cancellationToken, ("ct", contentType), ("id", id));
            await transaction.CommitAsync(cancellationToken);
            return new UploadOutcome(existing with { ContentType = contentType }, Enqueued: false);
        }

        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO images AS i (id, bucket, key, etag, sha256, size, content_type, status, attempts, created_at, updated_at, media_type)
            VALUES (@id, @bucket, @key, @etag, @sha, @size, @ct, 'queued', 0, @now, @now, @media)
            ON CONFLICT (id) DO UPDATE SET
                etag = excluded.etag, sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type,
                status = 'queued', error = NULL, attempts = 0, updated_at = excluded.updated_at, source = NULL, media_type = excluded.media_type
            """,
            cancellationToken,
            ("id", id), ("bucket", stored.Bucket), ("key", stored.Key), ("etag", stored.ETag), ("sha", stored.Sha256),
            ("size", stored.Size), ("ct", contentType), ("now", now), ("media", mediaType));
        await InsertEventAsync(connection, transaction, CatalogEventType.ObjectCreated, id, stored.Bucket, stored.Key, stored.ETag, now, cancellationToken);
        await EnqueueJobAsync(connection, transaction, id, stored.Sha256, now, cancellationToken);
        var image = await GetImageAsync(connection, transaction, id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new UploadOutcome(image!, Enqueued: true);
    }

    public async Task<bool> DeleteImageAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var id = ImageIds.For(bucket, key);
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        await LockImageAsync(connection, transaction, id, cancellationToken);
        var deleted = await ExecuteAsync(connection, transaction, "DELETE FROM images WHERE id = @id", cancellationToken, ("id", id)) > 0;
        if (deleted)
        {
            // A worker holding one of these jobs finds it superseded when it reports back and drops its result.
            await SupersedeJobsAsync(connection, transaction, id, now, cancellationToken);
            await InsertEventAsync(connection, transaction, CatalogEventType.ObjectRemoved, id, bucket, key, null, now, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    public async Task<ImageRecord?> GetImageAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await GetImageAsync(connection, null, id, cancellationToken);
    }

    public Task<ImageRecord?> GetImageAsync(string bucket, string key, CancellationToken cancellationToken) =>
        GetImageAsync(ImageIds.For(bucket, key), cancellationToken);

    public async Task<ImageDetails?> GetDetailsAsync(string id, CancellationToken cancellationToken)
    {
        ImageRecord? image;
        Dictionary<string, List<StoredLabel>> labels;
        Dictionary<string, ImageProperties> properties;
        await using (var connection = await OpenAsync(cancellationToken))
        {
            image = await GetImageAsync(connection, null, id, cancellationToken);
            if (image is null)
            {
                return null;
            }

            labels = await ReadLabelsAsync(connection, [id], cancellationToken);
            properties = await ReadPropertiesAsync(connection, [id], cancellationToken);
        }

        var analyses = await GetAnalysisProvenanceAsync(id, cancellationToken);
        var text = await GetTextAsync([id], cancellationToken);
        var faces = await GetFacesAsync([id], cancellationToken);
        return new ImageDetails(image, labels.GetValueOrDefault(id) ?? [])
        {
            Properties = properties.GetValueOrDefault(id),
            Analyses = analyses,
            Text = text.GetValueOrDefault(id) ?? [],
            Faces = faces.GetValueOrDefault(id),
        };
    }

    public async Task<Dictionary<string, List<StoredLabel>>> GetLabelsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadLabelsAsync(connection, ids, cancellationToken);
    }

    public async Task<IReadOnlyList<ImageRecord>> ListObjectsAsync(string bucket, string? prefix, string? afterKey, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // starts_with on a COLLATE "C" column: a byte prefix, as S3's; the (bucket, key) index serves the range.
        return await QueryAsync(
            connection,
            null,
            $"SELECT {ImageColumns} FROM images WHERE bucket = @bucket AND key > @after AND starts_with(key, @prefix::text) ORDER BY key LIMIT @limit",
            r => ReadImage(r),
            cancellationToken,
            ("bucket", bucket), ("after", afterKey ?? ""), ("prefix", prefix ?? ""), ("limit", limit));
    }

    public async Task<ImageCounts> GetImageCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var counts = await CountByAsync(connection, "SELECT status, COUNT(*) FROM images GROUP BY status", cancellationToken);
        return new ImageCounts(counts.GetValueOrDefault(ImageStatus.Queued), counts.GetValueOrDefault(ImageStatus.Labeling), counts.GetValueOrDefault(ImageStatus.Labeled), counts.GetValueOrDefault(ImageStatus.Failed));
    }

    public async Task<string?> GetImageSourceAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT source FROM images WHERE id = @id", cancellationToken, ("id", imageId)) as string;
    }

    public async Task<bool> AddManualLabelAsync(string imageId, string name, IReadOnlyList<NamedItem> parents, IReadOnlyList<NamedItem> categories, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        if (await GetImageAsync(connection, transaction, imageId, cancellationToken, forUpdate: true) is null)
        {
            return false;
        }

        await ExecuteAsync(connection, transaction, "DELETE FROM labels WHERE image_id = @id AND name = @name", cancellationToken, ("id", imageId), ("name", name));
        await ExecuteAsync(
            connection,
            transaction,
            "INSERT INTO labels (image_id, name, confidence, parents, aliases, categories, source) VALUES (@id, @name, 100, @parents, '', @categories, 'manual')",
            cancellationToken,
            ("id", imageId), ("name", name), ("parents", SqliteCatalog.JoinNames(parents)), ("categories", SqliteCatalog.JoinNames(categories)));
        await ExecuteAsync(connection, transaction, RefreshLabelSearchKeys, cancellationToken, ("id", imageId));
        await SaveEditAsync(connection, transaction, imageId, name, "add", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> RemoveManualLabelAsync(string imageId, string name, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        if (await GetImageAsync(connection, transaction, imageId, cancellationToken, forUpdate: true) is null)
        {
            return false;
        }

        await ExecuteAsync(connection, transaction, "DELETE FROM labels WHERE image_id = @id AND name = @name", cancellationToken, ("id", imageId), ("name", name));
        await ExecuteAsync(connection, transaction, "DELETE FROM instances WHERE image_id = @id AND name = @name", cancellationToken, ("id", imageId), ("name", name));
        await ExecuteAsync(connection, transaction, RefreshLabelSearchKeys, cancellationToken, ("id", imageId));
        await SaveEditAsync(connection, transaction, imageId, name, "remove", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private Task<int> SaveEditAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, string name, string action, CancellationToken cancellationToken) =>
        ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO label_edits (image_id, name, action, created_at) VALUES (@id, @name, @action, @now)
            ON CONFLICT (image_id, name) DO UPDATE SET action = excluded.action, created_at = excluded.created_at
            """,
            cancellationToken,
            ("id", imageId), ("name", name), ("action", action), ("now", Now));

    /// <summary>
    /// Serialises the writers of one image (upload, delete, relabel) across every process until the transaction
    /// ends: each reads the image and then writes, and two of them interleaved could both queue a job.
    /// </summary>
    internal static Task<int> LockImageAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended(@id::text, 0))", cancellationToken, ("id", imageId));

    /// <summary>Records an event and wakes every process that follows the feed (on commit).</summary>
    internal static async Task InsertEventAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CatalogEventType type, string imageId, string bucket, string key, string? etag, long now, CancellationToken cancellationToken)
    {
        await ExecuteAsync(
            connection,
            transaction,
            $"INSERT INTO events (type, image_id, bucket, key, etag, created_at) VALUES (@type, @id, @bucket, @key, @etag, @now); SELECT pg_notify('{EventsChannel}', '')",
            cancellationToken,
            ("type", type.ToString()), ("id", imageId), ("bucket", bucket), ("key", key), ("etag", etag), ("now", now));
    }

    internal static Task<int> SupersedeJobsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, long now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = @now WHERE image_id = @id AND state IN ('queued', 'running')", cancellationToken, ("id", imageId), ("now", now));

    /// <summary>Queues a job (superseding the image's older ones) and wakes the workers of its kind on commit.</summary>
    /// <param name="analyses">The analyses the job runs; null runs every configured one.</param>
    internal static async Task EnqueueJobAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, string sha256, long now, CancellationToken cancellationToken, IReadOnlyList<AnalysisTask>? analyses = null, JobKind? kind = null)
    {
        // An older job for the same image is for older bytes (or an older request): only the newest counts.
        await SupersedeJobsAsync(connection, transaction, imageId, now, cancellationToken);
        await ExecuteAsync(
            connection,
            transaction,
            $"""
            WITH job AS (
                INSERT INTO jobs (image_id, sha256, state, attempts, not_before, created_at, updated_at, kind, analyses)
                VALUES (@id, @sha, 'queued', 0, @now, @now, @now, COALESCE(@kind::text, (SELECT media_type FROM images WHERE id = @id), 'image'), @analyses)
                RETURNING kind)
            SELECT pg_notify('{JobsChannel}', kind) FROM job
            """,
            cancellationToken,
            ("id", imageId), ("sha", sha256), ("now", now), ("analyses", analyses is null ? null : string.Join(',', analyses.Select(a => a.Name()))), ("kind", kind?.Stored()));
    }

    internal static async Task<Dictionary<string, List<StoredLabel>>> ReadLabelsAsync(NpgsqlConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> list = ids as IReadOnlyList<string> ?? [.. ids];
        return CatalogRows.ById(list, await ReadLabelsByPositionAsync(connection, list, cancellationToken));
    }

    /// <summary>The labels, with boxes, of each of <paramref name="ids"/>, by its position there.</summary>
    internal static async Task<List<StoredLabel>?[]> ReadLabelsByPositionAsync(NpgsqlConnection connection, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        // Both statements in one round trip; each row carries its image's 0-based position in ids.
        const string Ids = "unnest(@ids::text[]) WITH ORDINALITY AS p (image, position)";
        // The label text's hash (CatalogRows.ReadLabelsAsync reads the text once per hash), its parts joined by the
        // unit separator (\x1f), a control character that label names do not carry.
        const string TextKey = "hashtextextended(concat_ws(E'\\x1f', name, parents, aliases, categories, source, coalesce(model_version, E'\\x1e')), 0)";
        // Each image's rows through the image-id index, whatever the catalog's size: as a plain join, a catalog of
        // 50,000 images was planned as a hash join over every box (279,302 rows, 117 ms for a 1,000-image page; 7 ms
        // this way). OFFSET 0 keeps the planner from flattening the subquery back into that join.
        await using var command = Command(
            connection,
            null,
            $"""
            SELECT (p.position - 1)::int, i.* FROM {Ids}
                CROSS JOIN LATERAL (SELECT {CatalogRows.InstanceColumns("convert_to(dominant_colors, 'UTF8')")} FROM instances WHERE image_id = p.image OFFSET 0) i;
            SELECT (p.position - 1)::int, l.* FROM {Ids}
                CROSS JOIN LATERAL (SELECT {CatalogRows.LabelColumns(TextKey)} FROM labels WHERE image_id = p.image OFFSET 0) l
            """,
            IdArray("ids", ids));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var instances = await CatalogRows.ReadInstancesAsync(reader, ids.Count, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await CatalogRows.ReadLabelsAsync(reader, instances, cancellationToken);
    }

    private static async Task<Dictionary<string, long>> CountByAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(connection, null, sql, r => (r.GetString(0), r.GetInt64(1)), cancellationToken);
        return rows.ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);
    }

    private static long ToLong(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);
}
