using System.Text;
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

    private static List<DominantColor>? ReadInstanceColors(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseInstanceColors(reader.GetString(ordinal));

    internal static List<DominantColor>? ParseInstanceColors(string json) => JsonSerializer.Deserialize<List<DominantColor>>(json, PropertiesJson);

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

        var parameters = ids.Select((id, i) => ($"$p{i}", (object?)id)).ToArray();
        await using var command = Command(connection, null, $"SELECT image_id, properties FROM image_properties WHERE image_id IN ({string.Join(", ", parameters.Select(p => p.Item1))})", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (JsonSerializer.Deserialize<ImageProperties>(reader.GetString(1), PropertiesJson) is { } properties)
            {
                result[reader.GetString(0)] = properties;
            }
        }

        return result;
    }

    /// <summary>The SQL for the colour and quality filters of a search (empty when there are none).</summary>
    private static string PropertyFilters(SqlParameters sql, PropertyFilter filter)
    {
        var where = new StringBuilder();
        foreach (var color in filter.Colors)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM image_colors c WHERE c.image_id = i.id AND c.color = {sql.Add(color)} AND c.pixel_percent >= {sql.Add(filter.MinColorPercent)})");
        }

        var quality = new List<string>();
        void Range(string column, double? min, double? max)
        {
            if (min is { } low)
            {
                quality.Add($"q.{column} >= {sql.Add(low)}");
            }

            if (max is { } high)
            {
                quality.Add($"q.{column} <= {sql.Add(high)}");
            }
        }

        Range("brightness", filter.MinBrightness, filter.MaxBrightness);
        Range("sharpness", filter.MinSharpness, filter.MaxSharpness);
        Range("contrast", filter.MinContrast, filter.MaxContrast);
        if (quality.Count > 0)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM image_properties q WHERE q.image_id = i.id AND {string.Join(" AND ", quality)})");
        }

        return where.ToString();
    }

    /// <summary>Colour and quality filters of a search, checked.</summary>
    private sealed record PropertyFilter(
        IReadOnlyList<string> Colors,
        double MinColorPercent,
        double? MinBrightness,
        double? MaxBrightness,
        double? MinSharpness,
        double? MaxSharpness,
        double? MinContrast,
        double? MaxContrast)
    {
        public static PropertyFilter From(ImageQuery query)
        {
            var colors = new List<string>();
            foreach (var color in query.Colors)
            {
                colors.Add(NamedColors.CanonicalSimplified(color ?? "")
                    ?? throw new InvalidQueryException("InvalidColor", $"color is one of: {string.Join(", ", NamedColors.Simplified)}."));
            }

            if (colors.Count > ImageQuery.MaxValues)
            {
                throw new InvalidQueryException("TooManyValues", $"color holds at most {ImageQuery.MaxValues} values.");
            }

            Percent(query.MinColorPercent, "minColorPercent");
            foreach (var (value, name) in new[]
            {
                (query.MinBrightness, "minBrightness"), (query.MaxBrightness, "maxBrightness"), (query.MinSharpness, "minSharpness"),
                (query.MaxSharpness, "maxSharpness"), (query.MinContrast, "minContrast"), (query.MaxContrast, "maxContrast"),
            })
            {
                if (value is { } v)
                {
                    Percent(v, name);
                }
            }

            return new PropertyFilter(
                colors.Distinct().ToList(), query.MinColorPercent, query.MinBrightness, query.MaxBrightness, query.MinSharpness, query.MaxSharpness, query.MinContrast, query.MaxContrast);
        }

        public bool Any => Colors.Count > 0 || MinBrightness is not null || MaxBrightness is not null || MinSharpness is not null
            || MaxSharpness is not null || MinContrast is not null || MaxContrast is not null;

        private static void Percent(double value, string name)
        {
            if (!double.IsFinite(value) || value is < 0 or > 100)
            {
                throw new InvalidQueryException("InvalidProperty", $"{name} must be a number from 0 to 100.");
            }
        }
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
