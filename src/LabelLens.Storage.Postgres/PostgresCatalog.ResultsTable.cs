using LabelLens.Video;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>The results table as <see cref="SqliteCatalog"/> reads it (its ResultsTable), in PostgreSQL: the same keyset walks of the same indexes.</summary>
public sealed partial class PostgresCatalog
{
    public async Task<string?> FindKeyOwnerAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT id FROM images WHERE key = @key ORDER BY created_at, bucket LIMIT 1", cancellationToken, ("key", key)) as string;
    }

    public async Task<IReadOnlyList<ResultRow>> GetResultRowsAsync(IReadOnlyCollection<string> imageIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(imageIds);
        if (imageIds.Count == 0)
        {
            return [];
        }

        var sql = new SqlParameters('@');
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadResultRowsAsync(connection, $"i.id = ANY({sql.Add(imageIds.ToArray())})", "", sql, cancellationToken);
    }

    public async Task<IReadOnlyList<ResultRow>> ScanResultRowsAsync(string? afterId, int segment, int totalSegments, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var (from, to) = TableSegments.Range(segment, totalSegments);
        var sql = new SqlParameters('@');
        var where = $"i.id >= {sql.Add(from)}";
        if (afterId is not null)
        {
            where += $" AND i.id > {sql.Add(afterId)}";
        }

        if (to is not null)
        {
            where += $" AND i.id < {sql.Add(to)}";
        }

        await using var connection = await OpenAsync(cancellationToken);
        return await ReadResultRowsAsync(connection, where, $"ORDER BY i.id LIMIT {sql.Add(limit)}", sql, cancellationToken);
    }

    public async Task<IReadOnlyList<LabelIndexEntry>> QueryLabelIndexAsync(string label, ConfidenceRange range, bool ascending, LabelIndexPosition? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(range);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var sql = new SqlParameters('@');
        // The CITEXT comparison finds the index range; the text one then keeps the exact name (keys are case-sensitive).
        var where = new List<string> { $"l.name = {sql.Add(label)}", $"l.name::text = {sql.Add(label)}::text" };
        var (conditions, order) = LabelIndexSql.Range(sql, range, ascending, after);
        where.AddRange(conditions);
        await using var connection = await OpenAsync(cancellationToken);
        var found = await QueryAsync(
            connection,
            null,
            $"SELECT l.image_id, l.name, l.confidence FROM labels l WHERE {string.Join(" AND ", where)} ORDER BY {order} LIMIT {sql.Add(limit)}",
            r => (ImageId: r.GetString(0), Name: r.GetString(1), Confidence: r.GetDouble(2)),
            cancellationToken,
            sql.ToArray());
        if (found.Count == 0)
        {
            return [];
        }

        var rowsSql = new SqlParameters('@');
        var rows = (await ReadResultRowsAsync(connection, $"i.id = ANY({rowsSql.Add(found.Select(f => f.ImageId).ToArray())})", "", rowsSql, cancellationToken))
            .ToDictionary(r => r.Image.Id, StringComparer.Ordinal);
        return found.Where(f => rows.ContainsKey(f.ImageId)).Select(f => new LabelIndexEntry(f.Name, f.Confidence, rows[f.ImageId])).ToList();
    }

    public async Task<ResultsTableCounts> CountResultsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // label_counts is kept exact by triggers: summing it avoids reading every label row.
        var counts = await QueryAsync(
            connection,
            null,
            "SELECT (SELECT COUNT(*) FROM images), (SELECT COALESCE(SUM(images), 0)::bigint FROM label_counts), (SELECT created_at FROM events ORDER BY id LIMIT 1)",
            r => new ResultsTableCounts(r.GetInt64(0), r.GetInt64(1), r.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2))),
            cancellationToken);
        return counts[0];
    }

    private async Task<List<ResultRow>> ReadResultRowsAsync(NpgsqlConnection connection, string where, string orderAndLimit, SqlParameters sql, CancellationToken cancellationToken)
    {
        var images = await QueryAsync(
            connection,
            null,
            $"SELECT {ImageColumnsOfI}, i.media_type, {SqliteCatalog.OwnsKeySql} FROM images i WHERE {where} {orderAndLimit}",
            r => (Image: ReadImage(r), MediaType: r.GetString(ImageColumnCount), OwnsKey: r.GetBoolean(ImageColumnCount + 1)),
            cancellationToken,
            sql.ToArray());
        var ids = images.Select(i => i.Image.Id).ToList();
        var labels = await ReadLabelsAsync(connection, ids, cancellationToken);
        var segments = await ReadSegmentsAsync(connection, images.Where(i => i.MediaType == MediaTypes.Video).Select(i => i.Image.Id).ToList(), cancellationToken);
        // Text only where the text analysis ran (its result row): no text read is an empty list, not read is absent.
        var read = ids.Count == 0 ? [] : (await QueryAsync(
            connection,
            null,
            "SELECT image_id FROM analysis_results WHERE analysis = 'text' AND image_id = ANY(@ids)",
            r => r.GetString(0),
            cancellationToken,
            IdArray("ids", ids))).ToHashSet(StringComparer.Ordinal);
        var text = read.Count == 0 ? [] : await GetTextAsync(read, cancellationToken);
        // Faces likewise only where the face analysis ran (GetFacesAsync answers for those alone).
        var faces = ids.Count == 0 ? [] : await GetFacesAsync(ids, cancellationToken);
        return ResultRows.Compose(images, labels, segments, read, text, faces);
    }

    /// <summary>The segments of these videos, each video's by start time.</summary>
    private static async Task<Dictionary<string, List<LabelSegment>>> ReadSegmentsAsync(NpgsqlConnection connection, List<string> videoIds, CancellationToken cancellationToken)
    {
        if (videoIds.Count == 0)
        {
            return [];
        }

        var rows = await QueryAsync(
            connection,
            null,
            $"SELECT image_id, {VideoResults.SegmentColumns} FROM video_segments WHERE image_id = ANY(@ids) ORDER BY image_id, start_ms, name",
            r => (Id: r.GetString(0), Segment: VideoResults.ReadSegment(r, 1)),
            cancellationToken,
            IdArray("ids", videoIds));
        return rows.GroupBy(r => r.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(r => r.Segment).ToList(), StringComparer.Ordinal);
    }
}
