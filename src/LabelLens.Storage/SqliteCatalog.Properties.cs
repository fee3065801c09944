using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Properties;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>Image properties in the catalog: the whole result as JSON, plus the columns search filters on.</summary>
public sealed partial class SqliteCatalog
{

    internal static readonly JsonSerializerOptions PropertiesJson = new();

    /// <summary>The stored properties of one image, or null when it has none (not labeled yet, or stored without).</summary>
    public async Task<ImageProperties?> GetPropertiesAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var found = await ReadPropertiesAsync(connection, [id], cancellationToken);
        return found.GetValueOrDefault(id);
    }

    private static void SaveProperties(SqliteConnection connection, SqliteTransaction transaction, string imageId, ImageProperties? properties)
    {
        Execute(connection, transaction, "DELETE FROM image_properties WHERE image_id = $id", ("$id", imageId));
        Execute(connection, transaction, "DELETE FROM image_colors WHERE image_id = $id", ("$id", imageId));
        if (properties is null)
        {
            return;
        }

        Execute(
            connection,
            transaction,
            "INSERT INTO image_properties (image_id, brightness, sharpness, contrast, properties) VALUES ($id, $b, $s, $c, $json)",
            ("$id", imageId), ("$b", properties.Quality.Brightness), ("$s", properties.Quality.Sharpness), ("$c", properties.Quality.Contrast ?? 0),
            ("$json", JsonSerializer.Serialize(properties, PropertiesJson)));
        foreach (var (color, percent) in ColorShares(properties))
        {
            Execute(
                connection,
                transaction,
                "INSERT INTO image_colors (image_id, color, pixel_percent) VALUES ($id, $color, $percent)",
                ("$id", imageId), ("$color", color), ("$percent", percent));
        }
    }

    internal static string? InstanceColorsJson(LabelInstance instance) =>
        instance.DominantColors is { } colors ? JsonSerializer.Serialize(colors, PropertiesJson) : null;

    /// <summary>Each simple colour's share of the image (the dominant colours summed by SimplifiedColor): the image_colors rows.</summary>
    internal static IEnumerable<(string Color, double Percent)> ColorShares(ImageProperties properties) =>
        properties.DominantColors.GroupBy(c => c.SimplifiedColor).Select(g => (g.Key, Math.Round(g.Sum(c => c.PixelPercent), 2)));

    private static async Task<Dictionary<string, ImageProperties>> ReadPropertiesAsync(SqliteConnection connection, List<string> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ImageProperties>();
        if (ids.Count == 0)
        {
            return result;
        }

        var (set, parameter) = IdSet(ids);
        await using var command = Command(connection, null, $"SELECT image_id, properties FROM image_properties WHERE image_id IN {set}", parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (StoredPropertiesJson.ReadProperties(reader, 1) is { } properties)
            {
                result[reader.GetString(0)] = properties;
            }
        }

        return result;
    }
}

/// <summary>Catalog schema for image properties (SqliteCatalog.Properties.cs).</summary>
internal static class PropertiesSchema
{
    public const string Step4 =
        """
        -- Rekognition-shaped image properties, one row per image; the quality columns are what search filters on.
        CREATE TABLE image_properties (
            image_id   TEXT PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
            brightness REAL NOT NULL,
            sharpness  REAL NOT NULL,
            contrast   REAL NOT NULL,
            properties TEXT NOT NULL
        ) WITHOUT ROWID;

        -- Each image's share of each simple colour (the dominant colours summed by SimplifiedColor), for color= searches.
        CREATE TABLE image_colors (
            image_id      TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            color         TEXT NOT NULL,
            pixel_percent REAL NOT NULL,
            PRIMARY KEY (image_id, color)
        ) WITHOUT ROWID;
        CREATE INDEX image_colors_by_color ON image_colors (color, pixel_percent DESC, image_id);

        -- An instance's own dominant colours (JSON), when properties were computed.
        ALTER TABLE instances ADD COLUMN dominant_colors TEXT;
        """;
}
