using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>Schema step 8: the faces found in pictures, and each picture's face count and largest face (SqliteCatalog.Faces.cs).</summary>
internal static class FaceSchema
{
    /// <summary>
    /// One row per face: box (ratios), confidence, quality of its crop. images.face_count is NULL until the face
    /// analysis has run on the picture (so faces=0 finds pictures known to have no face, not unanalysed ones);
    /// images.face_height is the largest face's height (ratio of the picture's), NULL without a face: the shot size.
    /// </summary>
    public const string Step8 =
        """
        CREATE TABLE faces (
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            face       INTEGER NOT NULL,
            confidence REAL NOT NULL,
            box_left   REAL NOT NULL,
            box_top    REAL NOT NULL,
            box_width  REAL NOT NULL,
            box_height REAL NOT NULL,
            brightness REAL NOT NULL,
            sharpness  REAL NOT NULL,
            PRIMARY KEY (image_id, face)
        ) WITHOUT ROWID;
        ALTER TABLE images ADD COLUMN face_count INTEGER;
        ALTER TABLE images ADD COLUMN face_height REAL;
        CREATE INDEX images_faces ON images (face_count, face_height);
        """;
}

public sealed partial class SqliteCatalog
{
    public async Task<Dictionary<string, FaceSummary>> GetFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new Dictionary<string, FaceSummary>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return result;
        }

        await using var connection = Open();
        var parameters = ids.Select((id, i) => ($"$i{i.ToString(CultureInfo.InvariantCulture)}", (object?)id)).ToArray();
        var list = string.Join(", ", parameters.Select(p => p.Item1));
        var faces = new Dictionary<string, List<FaceDetail>>(StringComparer.Ordinal);
        await using (var command = Command(
            connection,
            null,
            $"SELECT image_id, confidence, box_left, box_top, box_width, box_height, brightness, sharpness FROM faces WHERE image_id IN ({list}) ORDER BY image_id, face",
            parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (!faces.TryGetValue(id, out var rows))
                {
                    faces[id] = rows = [];
                }

                rows.Add(new FaceDetail(
                    new BoundingBox(reader.GetDouble(4), reader.GetDouble(5), reader.GetDouble(2), reader.GetDouble(3)),
                    reader.GetDouble(1),
                    new FaceQuality(reader.GetDouble(6), reader.GetDouble(7))));
            }
        }

        await using (var command = Command(connection, null, $"SELECT id, face_count, face_height FROM images WHERE face_count IS NOT NULL AND id IN ({list})", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                var height = reader.IsDBNull(2) ? (double?)null : reader.GetDouble(2);
                result[id] = new FaceSummary(reader.GetInt32(1), ShotSizes.From(height), faces.GetValueOrDefault(id) ?? []);
            }
        }

        return result;
    }

    /// <summary>
    /// After labeling: a run with the face analysis replaces the picture's faces and its count; a full run without it
    /// (faces no longer configured) drops them, as a removed analysis's results are; a relabel of other analyses keeps them.
    /// </summary>
    private static void SaveFaces(SqliteConnection connection, SqliteTransaction transaction, ClaimedJob job, DetectedFaces? faces)
    {
        if (faces is null && job.Analyses is not null)
        {
            return;
        }

        Execute(connection, transaction, "DELETE FROM faces WHERE image_id = $id", ("$id", job.ImageId));
        if (faces is null)
        {
            Execute(connection, transaction, "UPDATE images SET face_count = NULL, face_height = NULL WHERE id = $id", ("$id", job.ImageId));
            return;
        }

        using var insert = new SqliteBatch(
            connection,
            transaction,
            "INSERT INTO faces (image_id, face, confidence, box_left, box_top, box_width, box_height, brightness, sharpness) VALUES ($id, $face, $c, $l, $t, $w, $h, $b, $s)",
            "$id", "$face", "$c", "$l", "$t", "$w", "$h", "$b", "$s");
        foreach (var (face, index) in faces.Faces.Select((f, i) => (f, i)))
        {
            var box = face.BoundingBox;
            insert.Run(job.ImageId, index, face.Confidence, box.Left, box.Top, box.Width, box.Height, face.Quality.Brightness, face.Quality.Sharpness);
        }

        Execute(
            connection,
            transaction,
            "UPDATE images SET face_count = $count, face_height = $height WHERE id = $id",
            ("$id", job.ImageId), ("$count", faces.Faces.Count), ("$height", faces.Faces.Count > 0 ? faces.Faces.Max(f => f.BoundingBox.Height) : null));
    }

    /// <summary>
    /// The search conditions for face counts and shot size: on the image row <c>i</c> for a picture; for a video, on
    /// one of its face spans (<c>video_face_spans</c>), so every condition holds at the same time of the video.
    /// </summary>
    private static string FaceFilters(SqlParameters sql, NormalizedSearch search)
    {
        var picture = new System.Text.StringBuilder();
        var span = new System.Text.StringBuilder();
        void Both(string pictureColumn, string spanColumn, string comparison, object value)
        {
            var parameter = sql.Add(value);
            picture.Append($" AND i.{pictureColumn} {comparison} {parameter}");
            span.Append($" AND s.{spanColumn} {comparison} {parameter}");
        }

        if (search.Faces is { } exactly)
        {
            Both("face_count", "faces", "=", exactly);
        }

        if (search.MinFaces is { } min)
        {
            Both("face_count", "faces", ">=", min);
        }

        if (search.MaxFaces is { } max)
        {
            Both("face_count", "faces", "<=", max);
        }

        if (search.Shot is { } shot)
        {
            var (low, high) = ShotSizes.Range(shot);
            picture.Append($" AND i.face_height >= {sql.Add(low)} AND i.face_height < {sql.Add(high)}");
            span.Append($" AND s.shot = {sql.Add(shot)}");
        }

        return picture.Length == 0
            ? ""
            : $" AND ((i.media_type <> 'video'{picture}) OR (i.media_type = 'video' AND EXISTS (SELECT 1 FROM video_face_spans s WHERE s.image_id = i.id{span})))";
    }

    private static int? FaceCount(int? value, string parameter) =>
        value is null or (>= 0 and <= 10_000) ? value : throw new InvalidQueryException("InvalidFaces", $"{parameter} must be a whole number from 0 to 10000.");

    private static string? Shot(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : ShotSizes.All.FirstOrDefault(s => s.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidQueryException("InvalidShot", $"shot is one of {string.Join(", ", ShotSizes.All)} (from the largest face's height: close-up at least {ShotSizes.CloseUpMin:0.##} of the picture's, medium at least {ShotSizes.MediumMin:0.##}, wide below).");
}
