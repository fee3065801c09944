using LabelLens.Video;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>
/// The catalog as a results table (<see cref="IResultsTable"/>). Every read walks an index from a keyset
/// position, never an OFFSET: rows by the primary key on images.id, a bare key's owner through
/// images_key_time, the label index through labels_by_name (name, confidence DESC, image_id).
/// </summary>
public sealed partial class SqliteCatalog
{
    /// <summary>
    /// Whether no other image with the same key was cataloged before this one (creation time, then bucket):
    /// one probe of images_key_time per row.
    /// </summary>
    internal const string OwnsKeySql =
        "NOT EXISTS (SELECT 1 FROM images o WHERE o.key = i.key AND o.id <> i.id AND (o.created_at < i.created_at OR (o.created_at = i.created_at AND o.bucket < i.bucket)))";

    public async Task<string?> FindKeyOwnerAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT id FROM images WHERE key = $key ORDER BY created_at, bucket LIMIT 1", ("$key", key));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<ResultRow>> GetResultRowsAsync(IReadOnlyCollection<string> imageIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(imageIds);
        if (imageIds.Count == 0)
        {
            return [];
        }

        await using var connection = Open();
        var sql = new SqlParameters();
        return await ReadResultRowsAsync(connection, $"i.id IN ({sql.List(imageIds)})", "", sql, cancellationToken);
    }

    public async Task<IReadOnlyList<ResultRow>> ScanResultRowsAsync(string? afterId, int segment, int totalSegments, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var (from, to) = TableSegments.Range(segment, totalSegments);
        var sql = new SqlParameters();
        var where = $"i.id >= {sql.Add(from)}";
        if (afterId is not null)
        {
            where += $" AND i.id > {sql.Add(afterId)}";
        }

        if (to is not null)
        {
            where += $" AND i.id < {sql.Add(to)}";
        }

        await using var connection = Open();
        return await ReadResultRowsAsync(connection, where, $"ORDER BY i.id LIMIT {sql.Add(limit)}", sql, cancellationToken);
    }

    public async Task<IReadOnlyList<LabelIndexEntry>> QueryLabelIndexAsync(string label, ConfidenceRange range, bool ascending, LabelIndexPosition? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(range);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var sql = new SqlParameters();
        var name = sql.Add(label);
        // The column's NOCASE collation finds the index range; BINARY then keeps the exact name (keys are case-sensitive).
        var where = new List<string> { $"l.name = {name}", $"l.name = {name} COLLATE BINARY" };
        var (conditions, order) = LabelIndexSql.Range(sql, range, ascending, after);
        where.AddRange(conditions);
        await using var connection = Open();
        var found = new List<(string ImageId, string Name, double Confidence)>();
        await using (var command = Command(
            connection,
            null,
            $"SELECT l.image_id, l.name, l.confidence FROM labels l INDEXED BY labels_by_name WHERE {string.Join(" AND ", where)} ORDER BY {order} LIMIT {sql.Add(limit)}",
            sql.ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add((reader.GetString(0), reader.GetString(1), reader.GetDouble(2)));
            }
        }

        if (found.Count == 0)
        {
            return [];
        }

        var rowsSql = new SqlParameters();
        var rows = (await ReadResultRowsAsync(connection, $"i.id IN ({rowsSql.List(found.Select(f => f.ImageId))})", "", rowsSql, cancellationToken))
            .ToDictionary(r => r.Image.Id, StringComparer.Ordinal);
        return found.Where(f => rows.ContainsKey(f.ImageId)).Select(f => new LabelIndexEntry(f.Name, f.Confidence, rows[f.ImageId])).ToList();
    }

    public async Task<ResultsTableCounts> CountResultsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            // label_counts is kept exact by triggers: summing it avoids reading every label row.
            """
            SELECT (SELECT COUNT(*) FROM images), (SELECT COALESCE(SUM(images), 0) FROM label_counts), (SELECT created_at FROM events ORDER BY id LIMIT 1)
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new ResultsTableCounts(
            reader.GetInt64(0),
            reader.GetInt64(1),
            reader.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));
    }

    private async Task<List<ResultRow>> ReadResultRowsAsync(SqliteConnection connection, string where, string orderAndLimit, SqlParameters sql, CancellationToken cancellationToken)
    {
        var images = new List<(ImageRecord Image, string MediaType, bool OwnsKey)>();
        await using (var command = Command(connection, null, $"SELECT {ImageColumnsOfI}, i.media_type, {OwnsKeySql} FROM images i WHERE {where} {orderAndLimit}", sql.ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                images.Add((ReadImage(reader), reader.GetString(ImageColumnCount), reader.GetInt64(ImageColumnCount + 1) != 0));
            }
        }

        var ids = images.Select(i => i.Image.Id).ToList();
        var labels = await ReadLabelsAsync(connection, ids, cancellationToken);
        var segments = await ReadSegmentsAsync(connection, images.Where(i => i.MediaType == MediaTypes.Video).Select(i => i.Image.Id).ToList(), cancellationToken);
        // Text only where the text analysis ran (its result row): no text read is an empty list, not read is absent.
        var read = new HashSet<string>(StringComparer.Ordinal);
        if (ids.Count > 0)
        {
            var textSql = new SqlParameters();
            await using var command = Command(connection, null, $"SELECT image_id FROM analysis_results WHERE analysis = 'text' AND image_id IN ({textSql.List(ids)})", textSql.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                read.Add(reader.GetString(0));
            }
        }

        var text = read.Count == 0 ? [] : await GetTextAsync(read, cancellationToken);
        // Faces likewise only where the face analysis ran (GetFacesAsync answers for those alone).
        var faces = ids.Count == 0 ? [] : await GetFacesAsync(ids, cancellationToken);
        return ResultRows.Compose(images, labels, segments, read, text, faces);
    }

    /// <summary>The segments of these videos, each video's by start time.</summary>
    private static async Task<Dictionary<string, List<LabelSegment>>> ReadSegmentsAsync(SqliteConnection connection, List<string> videoIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, List<LabelSegment>>(StringComparer.Ordinal);
        if (videoIds.Count == 0)
        {
            return result;
        }

        var sql = new SqlParameters();
        await using var command = Command(
            connection,
            null,
            $"SELECT image_id, {VideoResults.SegmentColumns} FROM video_segments WHERE image_id IN ({sql.List(videoIds)}) ORDER BY image_id, start_ms, name",
            sql.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (!result.TryGetValue(id, out var list))
            {
                result[id] = list = [];
            }

            list.Add(VideoResults.ReadSegment(reader, 1));
        }

        return result;
    }
}
