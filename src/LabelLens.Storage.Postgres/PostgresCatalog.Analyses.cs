using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;

using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>Each analysis's own result with its model (IAnalysisResults); image properties and faces stored with the labels.</summary>
public sealed partial class PostgresCatalog
{
    public async Task<IReadOnlyList<AnalysisLabels>> GetAnalysisLabelsAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            "SELECT analysis, model, model_sha256, min_confidence, labels FROM analysis_results WHERE image_id = @id",
            r => (Analysis: r.GetString(0), Model: r.GetString(1), Sha: r.GetString(2), Min: r.GetDouble(3), Labels: r.GetString(4)),
            cancellationToken,
            ("id", imageId));
        var results = new List<AnalysisLabels>(rows.Count);
        foreach (var row in rows)
        {
            if (!AnalysisTasks.TryParse(row.Analysis, out var task))
            {
                continue;
            }

            // 'legacy' rows exist only in catalogs migrated from SQLite's pre-analysis schema: the model's labels in the labels table.
            var labels = row.Labels == SqliteCatalog.LegacyLabels
                ? await LegacyLabelsAsync(connection, imageId, cancellationToken)
                : JsonSerializer.Deserialize<List<FoundLabel>>(row.Labels, SqliteCatalog.AnalysisJson) ?? [];
            results.Add(new AnalysisLabels(task, new ModelIdentity(row.Model, row.Sha), row.Min, labels));
        }

        return results;
    }

    public async Task<IReadOnlyList<AnalysisProvenance>> GetAnalysisProvenanceAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(
            connection,
            null,
            "SELECT analysis, model, model_sha256, model_version, min_confidence, produced_at FROM analysis_results WHERE image_id = @id ORDER BY analysis",
            r => new AnalysisProvenance(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetDouble(4), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))),
            cancellationToken,
            ("id", imageId));
    }

    /// <summary>Each analysis's own labels; <paramref name="replaceAll"/> (a full run) first drops rows of analyses no longer configured.</summary>
    /// <param name="keepText">The text analysis is configured: its row stays until the text job that follows replaces it.</param>
    internal static async Task SaveAnalysesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, IReadOnlyList<(AnalysisLabels Analysis, string LabelsJson)> analyses, bool replaceAll, long now, CancellationToken cancellationToken, bool keepText = false)
    {
        if (replaceAll)
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM analysis_results WHERE image_id = @id AND (NOT @keep OR analysis <> 'text')", cancellationToken, ("id", imageId), ("keep", keepText));
        }

        foreach (var (analysis, labelsJson) in analyses)
        {
            await ExecuteAsync(
                connection,
                transaction,
                """
                INSERT INTO analysis_results (image_id, analysis, model, model_sha256, model_version, min_confidence, labels, produced_at)
                VALUES (@id, @analysis, @model, @sha, @version, @min, @labels, @now)
                ON CONFLICT (image_id, analysis) DO UPDATE SET model = excluded.model, model_sha256 = excluded.model_sha256,
                    model_version = excluded.model_version, min_confidence = excluded.min_confidence, labels = excluded.labels, produced_at = excluded.produced_at
                """,
                cancellationToken,
                ("id", imageId), ("analysis", analysis.Task.Name()), ("model", analysis.Model.Name), ("sha", analysis.Model.Sha256),
                ("version", analysis.Model.Version), ("min", analysis.MinConfidence), ("labels", labelsJson), ("now", now));
        }
    }

    private static async Task<List<FoundLabel>> LegacyLabelsAsync(NpgsqlConnection connection, string imageId, CancellationToken cancellationToken)
    {
        var labels = (await ReadLabelsAsync(connection, [imageId], cancellationToken)).GetValueOrDefault(imageId) ?? [];
        return labels
            .Where(l => l.Source == LabelSource.Model)
            .Select(l => new FoundLabel(new Label(l.Name, l.Confidence, l.Instances, l.Parents, l.Aliases, l.Categories), l.Instances.Count > 0, l.Parents.Count))
            .ToList();
    }

    internal static async Task SavePropertiesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, ImageProperties? properties, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, "DELETE FROM image_properties WHERE image_id = @id; DELETE FROM image_colors WHERE image_id = @id", cancellationToken, ("id", imageId));
        if (properties is null)
        {
            return;
        }

        await ExecuteAsync(
            connection,
            transaction,
            "INSERT INTO image_properties (image_id, brightness, sharpness, contrast, properties) VALUES (@id, @b, @s, @c, @json)",
            cancellationToken,
            ("id", imageId), ("b", properties.Quality.Brightness), ("s", properties.Quality.Sharpness), ("c", properties.Quality.Contrast ?? 0),
            ("json", JsonSerializer.Serialize(properties, SqliteCatalog.PropertiesJson)));
        var shares = SqliteCatalog.ColorShares(properties).ToList();
        await ExecuteAsync(
            connection,
            transaction,
            "INSERT INTO image_colors (image_id, color, pixel_percent) SELECT @id, c.color, c.percent FROM unnest(@colors::text[], @percents::float8[]) AS c (color, percent)",
            cancellationToken,
            ("id", imageId), ("colors", shares.Select(s => s.Color).ToArray()), ("percents", shares.Select(s => s.Percent).ToArray()));
    }

    internal static async Task<Dictionary<string, ImageProperties>> ReadPropertiesAsync(NpgsqlConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            connection,
            null,
            "SELECT image_id, convert_to(properties, 'UTF8') FROM image_properties WHERE image_id = ANY(@ids)",
            r => (Id: r.GetString(0), Properties: StoredPropertiesJson.ReadProperties(r, 1)),
            cancellationToken,
            IdArray("ids", ids));
        return rows.Where(r => r.Properties is not null).ToDictionary(r => r.Id, r => r.Properties!, StringComparer.Ordinal);
    }

    public async Task<Dictionary<string, FaceSummary>> GetFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new Dictionary<string, FaceSummary>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return result;
        }

        await using var connection = await OpenAsync(cancellationToken);
        var faces = (await QueryAsync(
            connection,
            null,
            "SELECT image_id, confidence, box_left, box_top, box_width, box_height, brightness, sharpness FROM faces WHERE image_id = ANY(@ids) ORDER BY image_id, face",
            r => (Id: r.GetString(0), Face: new FaceDetail(new BoundingBox(r.GetDouble(4), r.GetDouble(5), r.GetDouble(2), r.GetDouble(3)), r.GetDouble(1), new FaceQuality(r.GetDouble(6), r.GetDouble(7)))),
            cancellationToken,
            IdArray("ids", ids)))
            .GroupBy(f => f.Id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(f => f.Face).ToList(), StringComparer.Ordinal);
        foreach (var (id, count, height) in await QueryAsync(
            connection,
            null,
            "SELECT id, face_count, face_height FROM images WHERE face_count IS NOT NULL AND id = ANY(@ids)",
            r => (r.GetString(0), r.GetInt32(1), r.IsDBNull(2) ? (double?)null : r.GetDouble(2)),
            cancellationToken,
            IdArray("ids", ids)))
        {
            result[id] = new FaceSummary(count, ShotSizes.From(height), faces.GetValueOrDefault(id) ?? []);
        }

        return result;
    }

    /// <summary>
    /// A run with the face analysis replaces the picture's faces and count; a full run without it drops them; a
    /// relabel of other analyses keeps them.
    /// </summary>
    internal static async Task SaveFacesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, DetectedFaces? faces, CancellationToken cancellationToken)
    {
        if (faces is null && job.Analyses is not null)
        {
            return;
        }

        await ExecuteAsync(connection, transaction, "DELETE FROM faces WHERE image_id = @id", cancellationToken, ("id", job.ImageId));
        if (faces is null)
        {
            await ExecuteAsync(connection, transaction, "UPDATE images SET face_count = NULL, face_height = NULL WHERE id = @id", cancellationToken, ("id", job.ImageId));
            return;
        }

        var list = faces.Faces;
        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO faces (image_id, face, confidence, box_left, box_top, box_width, box_height, brightness, sharpness)
            SELECT @id, f.face - 1, f.confidence, f.box_left, f.box_top, f.box_width, f.box_height, f.brightness, f.sharpness
            FROM unnest(@confidences::float8[], @lefts::float8[], @tops::float8[], @widths::float8[], @heights::float8[], @brightness::float8[], @sharpness::float8[])
                WITH ORDINALITY AS f (confidence, box_left, box_top, box_width, box_height, brightness, sharpness, face);
            UPDATE images SET face_count = @count, face_height = @height WHERE id = @id
            """,
            cancellationToken,
            ("id", job.ImageId), ("confidences", list.Select(f => f.Confidence).ToArray()),
            ("lefts", list.Select(f => f.BoundingBox.Left).ToArray()), ("tops", list.Select(f => f.BoundingBox.Top).ToArray()),
            ("widths", list.Select(f => f.BoundingBox.Width).ToArray()), ("heights", list.Select(f => f.BoundingBox.Height).ToArray()),
            ("brightness", list.Select(f => f.Quality.Brightness).ToArray()), ("sharpness", list.Select(f => f.Quality.Sharpness).ToArray()),
            ("count", list.Count), ("height", list.Count > 0 ? list.Max(f => f.BoundingBox.Height) : null));
    }
}
