using System.Text;
using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>Schema step 7: the text read in images, full-text indexed (SqliteCatalog.Text.cs).</summary>
internal static class TextSchema
{
    /// <summary>
    /// One row per line of text: its text, confidence, polygon and words (JSON, with their own polygons).
    /// start_ms/end_ms are NULL for a photo's text (a video's text occurrences use them). text_fts indexes the
    /// lines' text (external content: the text is stored once, in text_lines; triggers keep the index in step),
    /// tokenised by unicode61 with diacritics removed, so "cafe" finds "Café" and "EXIT" finds "exit".
    /// </summary>
    public const string Step7 =
        """
        CREATE TABLE text_lines (
            id         INTEGER PRIMARY KEY,
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            line       INTEGER NOT NULL,
            text       TEXT NOT NULL,
            confidence REAL NOT NULL,
            polygon    TEXT NOT NULL,
            words      TEXT NOT NULL,
            start_ms   INTEGER,
            end_ms     INTEGER
        );
        CREATE INDEX text_lines_by_image ON text_lines (image_id, line);
        CREATE VIRTUAL TABLE text_fts USING fts5 (text, content = 'text_lines', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
        CREATE TRIGGER text_lines_indexed AFTER INSERT ON text_lines BEGIN
            INSERT INTO text_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER text_lines_unindexed AFTER DELETE ON text_lines BEGIN
            INSERT INTO text_fts (text_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """;
}

public sealed partial class SqliteCatalog
{
    internal static readonly JsonSerializerOptions TextJson = new(JsonSerializerDefaults.General);

    /// <summary>
    /// Stores what the text job read, unless it was superseded (new bytes, a relabel, a delete) or lost its lease:
    /// the image's lines replace the old ones, the 'text' analysis row records the model, and the job is done. The
    /// image's status and labels are not touched (its labels landed before).
    /// </summary>
    public async Task<bool> CompleteTextJobAsync(ClaimedJob job, TextReading reading, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(reading);
        var now = Now;
        var lines = reading.Text.Lines.Select(l => (Line: l, Polygon: JsonSerializer.Serialize(l.Polygon, TextJson), Words: JsonSerializer.Serialize(l.Words, TextJson))).ToList();
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        Execute(connection, transaction, "DELETE FROM text_lines WHERE image_id = $id", ("$id", job.ImageId));
        foreach (var (entry, index) in lines.Select((l, i) => (l, i)))
        {
            Execute(
                connection,
                transaction,
                "INSERT INTO text_lines (image_id, line, text, confidence, polygon, words, start_ms, end_ms) VALUES ($id, $line, $text, $confidence, $polygon, $words, $start, $end)",
                ("$id", job.ImageId), ("$line", index), ("$text", entry.Line.Text), ("$confidence", entry.Line.Confidence), ("$polygon", entry.Polygon), ("$words", entry.Words),
                ("$start", entry.Line.StartTimestampMillis), ("$end", entry.Line.EndTimestampMillis));
        }

        var analysis = new AnalysisLabels(AnalysisTask.Text, reading.Text.Model, reading.MinConfidence, []);
        SaveAnalyses(connection, transaction, job.ImageId, [(analysis, "[]")], replaceAll: false, now);
        Execute(connection, transaction, "UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$now", now));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<Dictionary<string, IReadOnlyList<TextLine>>> GetTextAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken, string? matching = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new Dictionary<string, List<TextLine>>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = Open();
        var (set, parameter) = IdSet(ids);
        List<(string, object?)> parameters = [parameter];
        var match = TextMatch(matching);
        if (match is not null)
        {
            parameters.Add(("$match", match));
        }

        // A video's occurrences in time order; with a search, only the lines it matched.
        await using var command = Command(
            connection,
            null,
            $"""
            SELECT image_id, text, confidence, polygon, words, start_ms, end_ms FROM text_lines
            WHERE image_id IN {set}
            {(match is null ? "" : "AND id IN (SELECT rowid FROM text_fts WHERE text_fts MATCH $match)")}
            ORDER BY image_id, COALESCE(start_ms, 0), line
            """,
            [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (!text.TryGetValue(id, out var lines))
            {
                text[id] = lines = [];
            }

            lines.Add(new TextLine(
                reader.GetString(1),
                reader.GetDouble(2),
                JsonSerializer.Deserialize<List<TextPoint>>(reader.GetString(3), TextJson) ?? [],
                JsonSerializer.Deserialize<List<TextWord>>(reader.GetString(4), TextJson) ?? [])
            {
                StartTimestampMillis = reader.IsDBNull(5) ? null : reader.GetInt64(5),
                EndTimestampMillis = reader.IsDBNull(6) ? null : reader.GetInt64(6),
            });
        }

        return text.ToDictionary(t => t.Key, t => (IReadOnlyList<TextLine>)t.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// After a full labeling run: with the text analysis configured, a text job is queued for the same bytes (the
    /// stored text stays searchable until it lands); without it, the image's stored text and text row are dropped,
    /// as a removed analysis's results are.
    /// </summary>
    private static void AfterLabels(SqliteConnection connection, SqliteTransaction transaction, ClaimedJob job, bool textFollows, long now)
    {
        if (textFollows && (job.Analyses is null || job.Analyses.Contains(AnalysisTask.Text)))
        {
            EnqueueJob(connection, transaction, job.ImageId, job.Sha256, now, [AnalysisTask.Text], JobKind.Text);
        }
        else if (!textFollows && job.Analyses is null)
        {
            Execute(connection, transaction, "DELETE FROM text_lines WHERE image_id = $id", ("$id", job.ImageId));
            Execute(connection, transaction, "DELETE FROM analysis_results WHERE image_id = $id AND analysis = 'text'", ("$id", job.ImageId));
        }
    }

    /// <summary>
    /// The FTS5 query for what a person typed (<see cref="TextSearch.Terms"/>): each term a quoted FTS5 string (so
    /// no character is an operator, and a phrase's words must come in order), all required. Null when nothing was typed.
    /// </summary>
    internal static string? TextMatch(string? typed) => TextSearch.Terms(typed) is { } terms ? Fts5(terms) : null;

    private static string Fts5(IReadOnlyList<string> terms) => string.Join(" AND ", terms.Select(t => $"\"{t}\""));

    /// <summary>The search condition on the image row <c>i</c>: one of its lines matches (every term on that line).</summary>
    private static string TextFilter(SqlParameters sql, IReadOnlyList<string> terms) =>
        $" AND i.id IN (SELECT t.image_id FROM text_fts JOIN text_lines t ON t.id = text_fts.rowid WHERE text_fts MATCH {sql.Add(Fts5(terms))})";
}
