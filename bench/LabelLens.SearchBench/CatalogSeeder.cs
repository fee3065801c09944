using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Properties;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using Microsoft.Data.Sqlite;

namespace LabelLens.SearchBench;

/// <summary>
/// Fills a migrated catalog with synthetic images straight through SQL, in one transaction (the public API
/// commits and fsyncs three times per image, which would take far longer than the measurement).
/// <para>
/// The data looks like a photo library labeled by the COCO model: 94% labeled, 4% queued, 2% failed; a
/// labeled image has a Person with probability 0.45 (1-6 boxes) and 1-4 other objects drawn from the other
/// 79 classes with Zipf weights (rank 1 is common, rank 79 rare; Dog is rank 10, about 5% of images), each with
/// 1-3 boxes; every ancestor of a detected label is stored as a label too (Dog brings Canine, Pet, Mammal,
/// Animal), as LabelBuilder does. Keys are <c>YYYY/MM/IMG_nnnnnn.jpg</c> over two years in three buckets.
/// </para>
/// <para>
/// With <c>withProperties</c>, every labeled image also has what the default <c>Labeling:ImageProperties</c> stores:
/// its properties (quality, up to 10 dominant colours of the image, foreground and background) and up to 10 dominant
/// colours per box, computed by <see cref="ImagePropertiesAnalyzer"/> on small random pictures (a pool of them, drawn
/// per image and per box), so a page reads and parses as much as a real catalog's.
/// </para>
/// </summary>
internal static class CatalogSeeder
{
    public const string Common = "person";

    /// <summary>The other classes from most to least frequent; Dog sits at rank 10 and Cat at 14, Toaster last (0.6% of images).</summary>
    public static readonly IReadOnlyList<string> Ranked = RankClasses();

    private static readonly string[] Buckets = ["photos", "archive", "phone"];

    /// <summary>What an existing catalog holds.</summary>
    public static async Task<(int Images, long Labels, long Instances)> CountAsync(string databasePath)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM labels), (SELECT COUNT(*) FROM instances)";
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    public static async Task<(int Images, long Labels, long Instances)> SeedAsync(string databasePath, int count, int seed, bool withProperties = false)
    {
        var random = new Random(seed);
        var (propertiesPool, colorsPool) = withProperties ? PropertiesPool(new Random(seed + 1)) : ([], []);
        var taxonomy = LabelTaxonomy.BuiltIn;
        var zipf = Ranked.Select((_, rank) => 1.0 / (rank + 1)).ToArray();
        var zipfTotal = zipf.Sum();
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON; PRAGMA cache_size = -200000;";
            await pragma.ExecuteNonQueryAsync();
        }

        await using var transaction = connection.BeginTransaction();
        var image = Prepare(
            connection,
            transaction,
            """
            INSERT INTO images (id, bucket, key, etag, sha256, size, content_type, width, height, format, status, error, model_version, min_confidence, attempts, created_at, updated_at, labeled_at, labeling_ms)
            VALUES ($id, $bucket, $key, $etag, $sha, $size, 'image/jpeg', $w, $h, 'jpeg', $status, $error, $model, 55, 1, $t, $t, $labeled, 12.5)
            """,
            "$id", "$bucket", "$key", "$etag", "$sha", "$size", "$w", "$h", "$status", "$error", "$model", "$t", "$labeled");
        var label = Prepare(
            connection,
            transaction,
            """
            INSERT INTO labels (image_id, name, confidence, rank, parents, aliases, categories, source, model_version, min_confidence)
            VALUES ($id, $name, $c, $rank, $parents, $aliases, $categories, 'model', 'yolox-nano:synthetic', 55)
            """,
            "$id", "$name", "$c", "$rank", "$parents", "$aliases", "$categories");
        var instance = Prepare(
            connection,
            transaction,
            "INSERT INTO instances (image_id, name, confidence, box_left, box_top, box_width, box_height, dominant_colors) VALUES ($id, $name, $c, $l, $t, $w, $h, $colors)",
            "$id", "$name", "$c", "$l", "$t", "$w", "$h", "$colors");
        var properties = Prepare(
            connection,
            transaction,
            "INSERT INTO image_properties (image_id, brightness, sharpness, contrast, properties) VALUES ($id, $b, $s, $c, $json)",
            "$id", "$b", "$s", "$c", "$json");

        long labels = 0, instances = 0;
        var start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        const long step = 630_000; // 100,000 images over two years
        for (var n = 0; n < count; n++)
        {
            var time = start + (n * step) + random.Next(0, 60_000);
            var date = DateTimeOffset.FromUnixTimeMilliseconds(time);
            var bucket = Pick(random.NextDouble(), (0.60, Buckets[0]), (0.85, Buckets[1]), (1.0, Buckets[2]));
            var key = $"{date.Year}/{date.Month:00}/IMG_{n:000000}.jpg";
            var id = SqliteCatalog.ImageId(bucket, key);
            var status = Pick(random.NextDouble(), (0.94, ImageStatus.Labeled), (0.98, ImageStatus.Queued), (1.0, ImageStatus.Failed));
            Run(image, id, bucket, key, Hex(random, 32), Hex(random, 64), random.Next(200_000, 6_000_000), 4000, 3000, status,
                status == ImageStatus.Failed ? "InvalidImageFormat: not an image" : null, status == ImageStatus.Labeled ? "yolox-nano:synthetic" : null,
                time, status == ImageStatus.Labeled ? time + 1000 : null);
            if (status != ImageStatus.Labeled)
            {
                continue;
            }

            if (withProperties)
            {
                var (json, quality) = propertiesPool[random.Next(propertiesPool.Length)];
                Run(properties, id, quality.Brightness, quality.Sharpness, quality.Contrast ?? 0, json);
            }

            // Detected classes with their boxes.
            var detected = new Dictionary<string, List<(double Confidence, double L, double T, double W, double H)>>();
            if (random.NextDouble() < 0.45)
            {
                detected[Common] = Boxes(random, 1 + (int)Math.Min(5, -Math.Log(1 - random.NextDouble()) * 1.2));
            }

            var others = Pick(random.NextDouble(), (0.10, 1), (0.40, 2), (0.75, 3), (1.0, 4));
            for (var k = 0; k < others; k++)
            {
                var draw = random.NextDouble() * zipfTotal;
                var rank = 0;
                while (rank < zipf.Length - 1 && (draw -= zipf[rank]) > 0)
                {
                    rank++;
                }

                detected.TryAdd(Ranked[rank], Boxes(random, random.Next(1, 4)));
            }

            // Labels: detected ones with their boxes, then every ancestor at its best descendant's confidence.
            var rows = new Dictionary<string, (double Confidence, TaxonomyLabel Label, bool Detected)>(StringComparer.Ordinal);
            foreach (var (className, boxes) in detected)
            {
                var taxonomyLabel = taxonomy.ForClass(className);
                var best = boxes.Max(b => b.Confidence);
                rows[taxonomyLabel.Name] = (best, taxonomyLabel, true);
                foreach (var box in boxes)
                {
                    Run(instance, id, taxonomyLabel.Name, box.Confidence, box.L, box.T, box.W, box.H, withProperties ? colorsPool[random.Next(colorsPool.Length)] : null);
                    instances++;
                }
            }

            foreach (var (_, (confidence, taxonomyLabel, _)) in rows.Where(r => r.Value.Detected).ToList())
            {
                foreach (var ancestor in taxonomyLabel.Ancestors)
                {
                    if (!rows.TryGetValue(ancestor, out var existing) || (!existing.Detected && existing.Confidence < confidence))
                    {
                        rows[ancestor] = (confidence, taxonomy.TryGetLabel(ancestor, out var known) ? known : new TaxonomyLabel(ancestor, [], [], [LabelTaxonomy.FallbackCategory]), false);
                    }
                }
            }

            var ranked = 0;
            foreach (var (name, (confidence, taxonomyLabel, _)) in rows.OrderByDescending(r => r.Value.Confidence))
            {
                Run(label, id, name, confidence, ++ranked, string.Join('|', taxonomyLabel.Ancestors), string.Join('|', taxonomyLabel.Aliases), string.Join('|', taxonomyLabel.Categories));
                labels++;
            }
        }

        // The label rows' search keys (image time, box count), as the catalog sets them after each image's labels.
        await using (var keys = connection.CreateCommand())
        {
            keys.Transaction = transaction;
            keys.CommandText = SearchSql.LabelSearchKeys(SqliteCatalog.Dialect, "");
            await keys.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        await using (var analyze = connection.CreateCommand())
        {
            analyze.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            await analyze.ExecuteNonQueryAsync();
        }

        return (count, labels, instances);
    }

    /// <summary>Stored properties and instance colours of 256 small random pictures (blocks of random colours), as the analyzer stores them.</summary>
    private static ((string Json, ImageQuality Quality)[] Properties, string[] InstanceColors) PropertiesPool(Random random)
    {
        var properties = new (string, ImageQuality)[256];
        var colors = new string[256];
        for (var i = 0; i < properties.Length; i++)
        {
            // 64x48 in 8x8 blocks of random colours with some noise: enough distinct colours for 10 dominant ones.
            var pixels = new byte[64 * 48 * 3];
            var block = new byte[8 * 6 * 3];
            random.NextBytes(block);
            for (var p = 0; p < 64 * 48; p++)
            {
                var b = ((p / 64 / 8) * 8) + (p % 64 / 8);
                for (var c = 0; c < 3; c++)
                {
                    pixels[(p * 3) + c] = (byte)Math.Clamp(block[(b * 3) + c] + random.Next(-12, 13), 0, 255);
                }
            }

            var image = new RgbImage(64, 48, pixels);
            var box = new BoundingBox(0.2 + (random.NextDouble() * 0.6), 0.2 + (random.NextDouble() * 0.6), random.NextDouble() * 0.2, random.NextDouble() * 0.2);
            var analyzed = ImagePropertiesAnalyzer.Analyze(image, [box], ImagePropertiesAnalyzer.DefaultMaxDominantColors);
            properties[i] = (JsonSerializer.Serialize(analyzed, SqliteCatalog.PropertiesJson), analyzed.Quality);
            colors[i] = JsonSerializer.Serialize(ImagePropertiesAnalyzer.ColorsIn(image, box, ImagePropertiesAnalyzer.DefaultMaxDominantColors), SqliteCatalog.PropertiesJson);
        }

        return (properties, colors);
    }

    private static List<(double, double, double, double, double)> Boxes(Random random, int count)
    {
        var boxes = new List<(double, double, double, double, double)>(count);
        for (var i = 0; i < count; i++)
        {
            var w = Math.Round(0.04 + (random.NextDouble() * 0.86), 4);
            var h = Math.Round(0.04 + (random.NextDouble() * 0.86), 4);
            boxes.Add((Math.Round(55 + (random.NextDouble() * 44.9), 3), Math.Round(random.NextDouble() * (1 - w), 4), Math.Round(random.NextDouble() * (1 - h), 4), w, h));
        }

        return boxes;
    }

    private static T Pick<T>(double draw, params (double Below, T Value)[] choices) => choices.First(c => draw < c.Below || c.Below >= 1.0).Value;

    private static string Hex(Random random, int length)
    {
        var bytes = new byte[length / 2];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] names)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in names)
        {
            command.Parameters.Add(new SqliteParameter(name, null));
        }

        command.Prepare();
        return command;
    }

    private static void Run(SqliteCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        command.ExecuteNonQuery();
    }

    private static List<string> RankClasses()
    {
        // A fixed shuffle of the 79 other classes, then Dog and Cat moved to known ranks so the queries below
        // hit a mid-frequency label (about 5% of images), and Toaster made the rarest.
        var others = ModelCatalog.CocoClasses.Where(c => c is not Common and not "dog" and not "cat" and not "toaster").ToList();
        var random = new Random(7);
        var shuffled = others.OrderBy(_ => random.Next()).ToList();
        shuffled.Insert(9, "dog");
        shuffled.Insert(13, "cat");
        shuffled.Add("toaster");
        return shuffled;
    }
}
