using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace LabelLens.Storage;

/// <summary>
/// The catalog and the labeling queue in one SQLite database (WAL): images, labels, instances, manual
/// edits, the event log and jobs. An upload's image row, its ObjectCreated event and its job are written in
/// one transaction, so an acknowledged upload cannot miss its job.
/// </summary>
public sealed partial class SqliteCatalog : ICatalog
{
    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger<SqliteCatalog> _logger;

    public SqliteCatalog(string dataFolder, TimeProvider time, ILogger<SqliteCatalog> logger)
    {
        Directory.CreateDirectory(dataFolder);
        DatabasePath = Path.GetFullPath(Path.Combine(dataFolder, "catalog.db"));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _time = time;
        _logger = logger;
        Migrate();
    }

    public string DatabasePath { get; }

    public string Location => DatabasePath;

    /// <inheritdoc cref="ImageIds.For"/>
    public static string ImageId(string bucket, string key) => ImageIds.For(bucket, key);

    internal long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // FULL: an acknowledged upload survives power loss, not only a process crash.
        Execute(connection, null, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
        return connection;
    }

    /// <summary>A write transaction on a new connection, after this process's other writers (<see cref="SqliteWrite"/>).</summary>
    internal Task<SqliteWrite> BeginWriteAsync(WriteDurability durability, CancellationToken cancellationToken) =>
        SqliteWrite.BeginAsync(DatabasePath, Open, durability, cancellationToken);

    /// <summary>Records a stored object: image row, ObjectCreated event and labeling job, in one transaction.</summary>
    /// <param name="mediaType"><see cref="MediaTypes.Image"/> or <see cref="MediaTypes.Video"/> (from the bytes): it decides which workers label it.</param>
    public async Task<UploadOutcome> RecordUploadAsync(StoredObject stored, string? contentType, CancellationToken cancellationToken, string mediaType = MediaTypes.Image)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var id = ImageId(stored.Bucket, stored.Key);
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var existing = await GetImageAsync(connection, transaction, id, cancellationToken);
        if (existing is not null && existing.Sha256 == stored.Sha256)
        {
            // Same bytes again: nothing to relabel.
            Execute(connection, transaction, "UPDATE images SET content_type = $ct WHERE id = $id", ("$ct", contentType), ("$id", id));
            await transaction.CommitAsync(cancellationToken);
            return new UploadOutcome(existing with { ContentType = contentType }, Enqueued: false);
        }

        Execute(
            connection,
            transaction,
            """
            INSERT INTO images (id, bucket, key, etag, sha256, size, content_type, status, attempts, created_at, updated_at, media_type)
            VALUES ($id, $bucket, $key, $etag, $sha, $size, $ct, 'queued', 0, $now, $now, $media)
            ON CONFLICT (id) DO UPDATE SET
                etag = excluded.etag, sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type,
                status = 'queued', error = NULL, attempts = 0, updated_at = excluded.updated_at, source = NULL, media_type = excluded.media_type
            """,
            ("$id", id), ("$bucket", stored.Bucket), ("$key", stored.Key), ("$etag", stored.ETag), ("$sha", stored.Sha256),
            ("$size", stored.Size), ("$ct", contentType), ("$now", now), ("$media", mediaType));
        InsertEvent(connection, transaction, CatalogEventType.ObjectCreated, id, stored.Bucket, stored.Key, stored.ETag, now);
        EnqueueJob(connection, transaction, id, stored.Sha256, now);
        var image = await GetImageAsync(connection, transaction, id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new UploadOutcome(image!, Enqueued: true);
    }

    /// <summary>Removes an image with its labels, instances, edits and pending jobs; records ObjectRemoved.</summary>
    public async Task<bool> DeleteImageAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var id = ImageId(bucket, key);
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var deleted = Execute(connection, transaction, "DELETE FROM images WHERE id = $id", ("$id", id)) > 0;
        if (deleted)
        {
            // A worker holding one of these jobs finds it superseded when it reports back and drops its result.
            Execute(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = $now WHERE image_id = $id AND state IN ('queued', 'running')", ("$id", id), ("$now", Now));
            InsertEvent(connection, transaction, CatalogEventType.ObjectRemoved, id, bucket, key, null, Now);
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    public async Task<ImageRecord?> GetImageAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await GetImageAsync(connection, null, id, cancellationToken);
    }

    public Task<ImageRecord?> GetImageAsync(string bucket, string key, CancellationToken cancellationToken) =>
        GetImageAsync(ImageId(bucket, key), cancellationToken);

    /// <summary>The image with its labels (instances included), highest confidence first.</summary>
    public async Task<ImageDetails?> GetDetailsAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var image = await GetImageAsync(connection, null, id, cancellationToken);
        if (image is null)
        {
            return null;
        }

        var labels = await ReadLabelsAsync(connection, [id], cancellationToken);
        var properties = await ReadPropertiesAsync(connection, [id], cancellationToken);
        var analyses = await GetAnalysisProvenanceAsync(id, cancellationToken);
        var text = await GetTextAsync([id], cancellationToken);
        var faces = await GetFacesAsync([id], cancellationToken);
        return new ImageDetails(image, labels.GetValueOrDefault(id) ?? []) { Properties = properties.GetValueOrDefault(id), Analyses = analyses, Text = text.GetValueOrDefault(id) ?? [], Faces = faces.GetValueOrDefault(id) };
    }

    /// <summary>Labels of many images at once (for search results), keyed by image id.</summary>
    public async Task<Dictionary<string, List<StoredLabel>>> GetLabelsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await ReadLabelsAsync(connection, ids, cancellationToken);
    }

    /// <summary>Objects of a bucket in key order, after <paramref name="afterKey"/>, optionally under a prefix.</summary>
    public async Task<IReadOnlyList<ImageRecord>> ListObjectsAsync(string bucket, string? prefix, string? afterKey, int limit, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            $"""
            SELECT {ImageColumns} FROM images
            WHERE bucket = $bucket AND key > $after AND ($prefix = '' OR substr(key, 1, length($prefix)) = $prefix)
            ORDER BY key LIMIT $limit
            """,
            ("$bucket", bucket), ("$after", afterKey ?? ""), ("$prefix", prefix ?? ""), ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var images = new List<ImageRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            images.Add(ReadImage(reader));
        }

        return images;
    }

    public async Task<ImageCounts> GetImageCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var counts = await CountByAsync(connection, "SELECT status, COUNT(*) FROM images GROUP BY status", cancellationToken);
        return new ImageCounts(counts.GetValueOrDefault(ImageStatus.Queued), counts.GetValueOrDefault(ImageStatus.Labeling), counts.GetValueOrDefault(ImageStatus.Labeled), counts.GetValueOrDefault(ImageStatus.Failed));
    }

    public async Task<QueueCounts> GetQueueCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var counts = await CountByAsync(connection, "SELECT state, COUNT(*) FROM jobs GROUP BY state", cancellationToken);
        return new QueueCounts(counts.GetValueOrDefault("queued"), counts.GetValueOrDefault("running"), counts.GetValueOrDefault("done"), counts.GetValueOrDefault("failed"), counts.GetValueOrDefault("superseded"));
    }

    public async Task<long> CountQueuedAsync(long cap, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cap);
        await using var connection = Open();
        // The jobs_due index (state first) makes this a range scan of at most cap entries.
        return Convert.ToInt64(Scalar(connection, null, "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'queued' LIMIT $cap)", ("$cap", cap)), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Migrate()
    {
        using var connection = Open();
        // WAL: readers (search, the CLI) never block the writer, and the writer never blocks them.
        Execute(connection, null, "PRAGMA journal_mode = WAL;");
        Execute(connection, null, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        var current = Convert.ToInt32(Scalar(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
        if (current > CatalogSchema.Migrations.Length)
        {
            throw new InvalidOperationException($"{DatabasePath} has schema version {current}, newer than this LabelLens ({CatalogSchema.Migrations.Length}). Use a newer LabelLens.");
        }

        for (var version = current + 1; version <= CatalogSchema.Migrations.Length; version++)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            Execute(connection, transaction, CatalogSchema.Migrations[version - 1]);
            Execute(connection, transaction, "INSERT INTO schema_version (version) VALUES ($v)", ("$v", version));
            transaction.Commit();
            _logger.LogInformation("Catalog {Path} migrated to schema version {Version}", DatabasePath, version);
        }
    }

    /// <param name="analyses">The analyses the job runs; null (the default) runs every configured one.</param>
    private static void EnqueueJob(SqliteConnection connection, SqliteTransaction transaction, string imageId, string sha256, long now, IReadOnlyList<AnalysisTask>? analyses = null, JobKind? kind = null)
    {
        // An older job for the same image is for older bytes (or an older request): only the newest counts.
        Execute(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = $now WHERE image_id = $id AND state IN ('queued', 'running')", ("$id", imageId), ("$now", now));
        Execute(
            connection,
            transaction,
            // The job's kind follows the object's media type (schema step 5): videos go to the video worker; text jobs are named.
            "INSERT INTO jobs (image_id, sha256, state, attempts, not_before, created_at, updated_at, kind, analyses) VALUES ($id, $sha, 'queued', 0, $now, $now, $now, COALESCE($kind, (SELECT media_type FROM images WHERE id = $id), 'image'), $analyses)",
            ("$id", imageId), ("$sha", sha256), ("$now", now), ("$analyses", analyses is null ? null : string.Join(',', analyses.Select(a => a.Name()))), ("$kind", kind?.Stored()));
    }

    private static void InsertEvent(SqliteConnection connection, SqliteTransaction transaction, CatalogEventType type, string imageId, string bucket, string key, string? etag, long now) =>
        Execute(
            connection,
            transaction,
            "INSERT INTO events (type, image_id, bucket, key, etag, created_at) VALUES ($type, $id, $bucket, $key, $etag, $now)",
            ("$type", type.ToString()), ("$id", imageId), ("$bucket", bucket), ("$key", key), ("$etag", etag), ("$now", now));

    private static async Task<ImageRecord?> GetImageAsync(SqliteConnection connection, SqliteTransaction? transaction, string id, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"SELECT {ImageColumns} FROM images WHERE id = $id", ("$id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadImage(reader) : null;
    }

    internal const string ImageColumns = CatalogRows.ImageColumns;

    internal static ImageRecord ReadImage(SqliteDataReader r, int offset = 0) => CatalogRows.ReadImage(r, offset);

    private static async Task<Dictionary<string, List<StoredLabel>>> ReadLabelsAsync(SqliteConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> list = ids as IReadOnlyList<string> ?? [.. ids];
        return CatalogRows.ById(list, await ReadLabelsByPositionAsync(connection, list, cancellationToken));
    }

    /// <summary>The labels, with boxes, of each of <paramref name="ids"/>, by its position there.</summary>
    private static async Task<List<StoredLabel>?[]> ReadLabelsByPositionAsync(SqliteConnection connection, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        // One JSON-array parameter (see IdSet); json_each's key is each id's position. CROSS JOIN keeps the ids the
        // outer loop, each probing the image's rows through their index.
        var list = ("$ids", (object?)JsonSerializer.Serialize(ids));
        List<(string Label, LabelInstance Box)>?[] instances;
        await using (var command = Command(connection, null, $"SELECT p.key, {CatalogRows.InstanceColumns("dominant_colors")} FROM json_each($ids) p CROSS JOIN instances ON image_id = p.value", list))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            instances = await CatalogRows.ReadInstancesAsync(reader, ids.Count, cancellationToken);
        }

        await using (var command = Command(connection, null, $"SELECT p.key, {CatalogRows.LabelColumns("NULL")} FROM json_each($ids) p CROSS JOIN labels ON image_id = p.value", list))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            return await CatalogRows.ReadLabelsAsync(reader, instances, cancellationToken);
        }
    }

    /// <summary>
    /// A set of ids for <c>column IN {Set}</c>, given as one JSON-array parameter: Microsoft.Data.Sqlite binds each
    /// named parameter by looking its name up, and a 1,000-image page's thousand of them cost more than SQLite's
    /// reading the rows they select.
    /// </summary>
    internal static (string Set, (string Name, object? Value) Parameter) IdSet(IEnumerable<string> ids) =>
        ("(SELECT value FROM json_each($ids))", ("$ids", JsonSerializer.Serialize(ids)));

    internal static string JoinNames(IEnumerable<NamedItem> items) => string.Join('|', items.Select(i => i.Name));

    internal static List<NamedItem> SplitNames(string value) =>
        value.Length == 0 ? [] : value.Split('|').Select(n => new NamedItem(n)).ToList();

    private static async Task<Dictionary<string, long>> CountByAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, long>();
        await using var command = Command(connection, null, sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    internal static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    internal static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar();
    }
}
