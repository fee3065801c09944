using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>Schema step 6: results per analysis, with provenance (SqliteCatalog.Analyses.cs).</summary>
internal static class AnalysisSchema
{
    /// <summary>
    /// One row per image and analysis: which model (name, file hash, version) at which threshold produced which
    /// labels (JSON, before merging), so one analysis can be relabeled alone and merged with the others' stored
    /// results. jobs.analyses names the analyses a job runs (NULL: all configured). Images labeled before this
    /// step were labeled by the detector alone: they get an 'objects' row whose labels are 'legacy', meaning
    /// "the model's labels in the labels table".
    /// </summary>
    public const string Step6 =
        """
        CREATE TABLE analysis_results (
            image_id       TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            analysis       TEXT NOT NULL,
            model          TEXT NOT NULL,
            model_sha256   TEXT NOT NULL,
            model_version  TEXT NOT NULL,
            min_confidence REAL NOT NULL,
            labels         TEXT NOT NULL,
            produced_at    INTEGER NOT NULL,
            PRIMARY KEY (image_id, analysis)
        ) WITHOUT ROWID;
        ALTER TABLE jobs ADD COLUMN analyses TEXT;
        INSERT INTO analysis_results (image_id, analysis, model, model_sha256, model_version, min_confidence, labels, produced_at)
        SELECT id, 'objects', substr(model_version, 1, instr(model_version, ':') - 1), substr(model_version, instr(model_version, ':') + 1),
               model_version, COALESCE(min_confidence, 55), 'legacy', COALESCE(labeled_at, updated_at)
        FROM images WHERE status = 'labeled' AND media_type = 'image' AND instr(model_version, ':') > 0;
        """;
}

public sealed partial class SqliteCatalog
{
    internal const string LegacyLabels = "legacy";

    internal static readonly JsonSerializerOptions AnalysisJson = new(JsonSerializerDefaults.General);

    /// <summary>Each analysis's stored labels for an image (what a relabel of another analysis merges with).</summary>
    public async Task<IReadOnlyList<AnalysisLabels>> GetAnalysisLabelsAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = new List<(string Analysis, string Model, string Sha, double Min, string Labels)>();
        await using (var command = Command(connection, null, "SELECT analysis, model, model_sha256, min_confidence, labels FROM analysis_results WHERE image_id = $id", ("$id", imageId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetDouble(3), reader.GetString(4)));
            }
        }

        var results = new List<AnalysisLabels>(rows.Count);
        foreach (var row in rows)
        {
            if (!AnalysisTasks.TryParse(row.Analysis, out var task))
            {
                continue;
            }

            var labels = row.Labels == LegacyLabels
                ? await LegacyLabelsAsync(connection, imageId, cancellationToken)
                : JsonSerializer.Deserialize<List<FoundLabel>>(row.Labels, AnalysisJson) ?? [];
            results.Add(new AnalysisLabels(task, new ModelIdentity(row.Model, row.Sha), row.Min, labels));
        }

        return results;
    }

    /// <summary>Which analyses produced an image's labels, with which models.</summary>
    public async Task<IReadOnlyList<AnalysisProvenance>> GetAnalysisProvenanceAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            "SELECT analysis, model, model_sha256, model_version, min_confidence, produced_at FROM analysis_results WHERE image_id = $id ORDER BY analysis",
            ("$id", imageId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var results = new List<AnalysisProvenance>();
        while (await reader.ReadAsync(cancellationToken))
        {
            results.Add(new AnalysisProvenance(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetDouble(4), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5))));
        }

        return results;
    }

    /// <summary>
    /// Stores each analysis's own labels. <paramref name="replaceAll"/> (a job that ran every configured
    /// analysis) first drops rows of analyses no longer configured, so they stop counting.
    /// </summary>
    /// <param name="keepText">The text analysis is configured: its row stays until the text job that follows replaces it.</param>
    private static void SaveAnalyses(SqliteConnection connection, SqliteTransaction transaction, string imageId, IReadOnlyList<(AnalysisLabels Analysis, string LabelsJson)> analyses, bool replaceAll, long now, bool keepText = false)
    {
        if (replaceAll)
        {
            Execute(connection, transaction, "DELETE FROM analysis_results WHERE image_id = $id AND ($keep = 0 OR analysis <> 'text')", ("$id", imageId), ("$keep", keepText ? 1 : 0));
        }

        foreach (var (analysis, labelsJson) in analyses)
        {
            Execute(
                connection,
                transaction,
                """
                INSERT OR REPLACE INTO analysis_results (image_id, analysis, model, model_sha256, model_version, min_confidence, labels, produced_at)
                VALUES ($id, $analysis, $model, $sha, $version, $min, $labels, $now)
                """,
                ("$id", imageId), ("$analysis", analysis.Task.Name()), ("$model", analysis.Model.Name), ("$sha", analysis.Model.Sha256),
                ("$version", analysis.Model.Version), ("$min", analysis.MinConfidence), ("$labels", labelsJson), ("$now", now));
        }
    }

    /// <summary>Each analysis with its labels as JSON, serialised before the write transaction starts (it holds the catalog's write lock).</summary>
    internal static List<(AnalysisLabels Analysis, string LabelsJson)> SerializeAnalyses(IReadOnlyList<AnalysisLabels> analyses) =>
        analyses.Select(a => (a, JsonSerializer.Serialize(a.Labels, AnalysisJson))).ToList();

    /// <summary>A pre-analysis catalog's model labels, read back as the detector's result (a label with boxes was detected, the rest are ancestors).</summary>
    private static async Task<List<FoundLabel>> LegacyLabelsAsync(SqliteConnection connection, string imageId, CancellationToken cancellationToken)
    {
        var labels = (await ReadLabelsAsync(connection, [imageId], cancellationToken)).GetValueOrDefault(imageId) ?? [];
        return labels
            .Where(l => l.Source == LabelSource.Model)
            .Select(l => new FoundLabel(new Label(l.Name, l.Confidence, l.Instances, l.Parents, l.Aliases, l.Categories), l.Instances.Count > 0, l.Parents.Count))
            .ToList();
    }

    /// <summary>
    /// For `relabel --model-older`: per labeled image, the configured analyses whose stored result is missing or
    /// came from another model version (all of them when a stored result is of an analysis no longer configured).
    /// An empty list means the image is current.
    /// </summary>
    private static async Task<Dictionary<string, List<AnalysisTask>>> StaleAnalysesAsync(
        SqliteConnection connection, SqliteTransaction transaction, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current, CancellationToken cancellationToken)
    {
        var stored = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        await using (var command = Command(
            connection,
            transaction,
            """
            SELECT i.id, r.analysis, r.model_version FROM images i LEFT JOIN analysis_results r ON r.image_id = i.id
            WHERE i.status = 'labeled' AND i.media_type = 'image'
            """))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (!stored.TryGetValue(id, out var rows))
                {
                    stored[id] = rows = new Dictionary<string, string>(StringComparer.Ordinal);
                }

                if (!reader.IsDBNull(1))
                {
                    rows[reader.GetString(1)] = reader.GetString(2);
                }
            }
        }

        return AnalysisStaleness.StaleAnalyses(stored.ToDictionary(s => s.Key, s => (IReadOnlyDictionary<string, string>)s.Value, StringComparer.Ordinal), current);
    }
}

/// <summary>Which analyses of an image `relabel --model-older` runs again: the same rule in every catalog provider.</summary>
internal static class AnalysisStaleness
{
    /// <param name="stored">Per labeled image, its stored results: analysis name → model version.</param>
    /// <returns>Per image, the configured analyses whose result is missing or from another model version (empty: current).</returns>
    public static Dictionary<string, List<AnalysisTask>> StaleAnalyses(IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> stored, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current)
    {
        var configured = current.Keys.Select(k => k.Name()).ToHashSet(StringComparer.Ordinal);
        return stored.ToDictionary(
            s => s.Key,
            // A stored result of an analysis no longer configured makes the whole image stale: a full run replaces every result.
            s => s.Value.Keys.Any(a => !configured.Contains(a))
                ? current.Keys.ToList()
                : current.Where(c => s.Value.GetValueOrDefault(c.Key.Name()) != c.Value.Version).Select(c => c.Key).ToList(),
            StringComparer.Ordinal);
    }
}
