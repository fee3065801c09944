using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;
using Npgsql;
using NpgsqlTypes;

namespace LabelLens.Storage.Postgres;

/// <summary>The text read in images: stored by the text job, read back (or only the lines a search matched).</summary>
public sealed partial class PostgresCatalog
{
    /// <inheritdoc cref="SqliteCatalog.CompleteTextJobAsync"/>
    public async Task<bool> CompleteTextJobAsync(ClaimedJob job, TextReading reading, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(reading);
        var now = Now;
        var lines = reading.Text.Lines.Select(l => (Line: l, Polygon: JsonSerializer.Serialize(l.Polygon, SqliteCatalog.TextJson), Words: JsonSerializer.Serialize(l.Words, SqliteCatalog.TextJson))).ToList();
        return await WriteForJobAsync(
            job,
            async (connection, transaction) =>
            {
                await ExecuteAsync(connection, transaction, "DELETE FROM text_lines WHERE image_id = @id", cancellationToken, ("id", job.ImageId));
                if (lines.Count > 0)
                {
                    // One COPY for every line (inside the transaction, as the statements around it).
                    await using var copy = await connection.BeginBinaryImportAsync(
                        "COPY text_lines (image_id, line, text, confidence, polygon, words, start_ms, end_ms) FROM STDIN (FORMAT BINARY)", cancellationToken);
                    foreach (var (entry, index) in lines.Select((l, i) => (l, i)))
                    {
                        await copy.StartRowAsync(cancellationToken);
                        await copy.WriteAsync(job.ImageId, NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(index, NpgsqlDbType.Integer, cancellationToken);
                        await copy.WriteAsync(entry.Line.Text, NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(entry.Line.Confidence, NpgsqlDbType.Double, cancellationToken);
                        await copy.WriteAsync(entry.Polygon, NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(entry.Words, NpgsqlDbType.Text, cancellationToken);
                        await WriteNullableAsync(copy, entry.Line.StartTimestampMillis, cancellationToken);
                        await WriteNullableAsync(copy, entry.Line.EndTimestampMillis, cancellationToken);
                    }

                    await copy.CompleteAsync(cancellationToken);
                }

                var analysis = new AnalysisLabels(AnalysisTask.Text, reading.Text.Model, reading.MinConfidence, []);
                await SaveAnalysesAsync(connection, transaction, job.ImageId, [(analysis, "[]")], replaceAll: false, now, cancellationToken);
                await ExecuteAsync(connection, transaction, "UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = @now WHERE id = @job", cancellationToken, ("job", job.Id), ("now", now));
            },
            cancellationToken);
    }

    public async Task<Dictionary<string, IReadOnlyList<TextLine>>> GetTextAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken, string? matching = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return [];
        }

        var sql = new SqlParameters('@');
        var where = $"image_id = ANY({sql.Add(ids.ToArray())})";
        if (TextSearch.Terms(matching) is { } terms)
        {
            where += $" AND tsv @@ {TextQuery(sql, terms)}";
        }

        await using var connection = await OpenAsync(cancellationToken);
        // A video's occurrences in time order; with a search, only the lines it matched.
        var rows = await QueryAsync(
            connection,
            null,
            $"SELECT image_id, text, confidence, polygon, words, start_ms, end_ms FROM text_lines WHERE {where} ORDER BY image_id, COALESCE(start_ms, 0), line",
            r => (Id: r.GetString(0), Line: new TextLine(
                r.GetString(1),
                r.GetDouble(2),
                JsonSerializer.Deserialize<List<TextPoint>>(r.GetString(3), SqliteCatalog.TextJson) ?? [],
                JsonSerializer.Deserialize<List<TextWord>>(r.GetString(4), SqliteCatalog.TextJson) ?? [])
            {
                StartTimestampMillis = r.IsDBNull(5) ? null : r.GetInt64(5),
                EndTimestampMillis = r.IsDBNull(6) ? null : r.GetInt64(6),
            }),
            cancellationToken,
            sql.ToArray());
        return rows.GroupBy(r => r.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<TextLine>)g.Select(r => r.Line).ToList(), StringComparer.Ordinal);
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter copy, long? value, CancellationToken cancellationToken)
    {
        if (value is { } v)
        {
            await copy.WriteAsync(v, NpgsqlDbType.Bigint, cancellationToken);
        }
        else
        {
            await copy.WriteNullAsync(cancellationToken);
        }
    }
}
