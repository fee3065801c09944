using System.Data.Common;
using LabelLens.Labels;

namespace LabelLens.Storage;

/// <summary>
/// Rows of the catalog's tables read into records, the same for every provider (both read through a
/// <see cref="DbDataReader"/> and select the same columns; only the SQL around them differs).
/// </summary>
internal static class CatalogRows
{
    public const string ImageColumns =
        "id, bucket, key, etag, sha256, size, content_type, width, height, format, status, error, model_version, min_confidence, attempts, created_at, updated_at, labeled_at, labeling_ms";

    /// <summary>The instance columns <see cref="AddInstancesAsync"/> reads, in order.</summary>
    public const string InstanceColumns = "image_id, name, confidence, box_left, box_top, box_width, box_height, dominant_colors";

    /// <summary>The label columns <see cref="AddLabelsAsync"/> reads, in order.</summary>
    public const string LabelColumns = "image_id, name, confidence, parents, aliases, categories, source, model_version, min_confidence, rank";

    public static ImageRecord ReadImage(DbDataReader r, int offset = 0) => new(
        r.GetString(offset),
        r.GetString(offset + 1),
        r.GetString(offset + 2),
        r.GetString(offset + 3),
        r.GetString(offset + 4),
        r.GetInt64(offset + 5),
        r.IsDBNull(offset + 6) ? null : r.GetString(offset + 6),
        r.IsDBNull(offset + 7) ? null : r.GetInt32(offset + 7),
        r.IsDBNull(offset + 8) ? null : r.GetInt32(offset + 8),
        r.IsDBNull(offset + 9) ? null : r.GetString(offset + 9),
        r.GetString(offset + 10),
        r.IsDBNull(offset + 11) ? null : r.GetString(offset + 11),
        r.IsDBNull(offset + 12) ? null : r.GetString(offset + 12),
        r.IsDBNull(offset + 13) ? null : r.GetDouble(offset + 13),
        r.GetInt32(offset + 14),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(offset + 15)),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(offset + 16)),
        r.IsDBNull(offset + 17) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(offset + 17)),
        r.IsDBNull(offset + 18) ? null : r.GetDouble(offset + 18));

    /// <summary>
    /// Reads <see cref="InstanceColumns"/> rows (in any order) into boxes keyed by (image id, upper-cased label name),
    /// each label's most confident first. Sorted here rather than by the query: a 1,000-image page has thousands of
    /// boxes and labels, and the database's sort of all of them cost more than the page's few per image here.
    /// </summary>
    public static async Task AddInstancesAsync(DbDataReader reader, Dictionary<(string, string), List<LabelInstance>> instances, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = (reader.GetString(0), reader.GetString(1).ToUpperInvariant());
            if (!instances.TryGetValue(key, out var boxes))
            {
                instances[key] = boxes = [];
            }

            boxes.Add(new LabelInstance(new BoundingBox(reader.GetDouble(5), reader.GetDouble(6), reader.GetDouble(3), reader.GetDouble(4)), reader.GetDouble(2))
            {
                DominantColors = reader.IsDBNull(7) ? null : SqliteCatalog.ParseInstanceColors(reader.GetString(7)),
            });
        }

        foreach (var boxes in instances.Values)
        {
            boxes.Sort(static (a, b) => b.Confidence.CompareTo(a.Confidence));
        }
    }

    /// <summary>
    /// Reads <see cref="LabelColumns"/> rows (in any order) into labels per image, each with its boxes from
    /// <paramref name="instances"/>, ordered as a label list is: most confident first, then the model's rank, then
    /// name. The name lists repeat across a page's labels (every Dog's parents are "Animal|Pet|Mammal"), so each
    /// distinct one is split once and shared.
    /// </summary>
    public static async Task AddLabelsAsync(DbDataReader reader, Dictionary<(string, string), List<LabelInstance>> instances, Dictionary<string, List<StoredLabel>> result, CancellationToken cancellationToken)
    {
        var names = new Dictionary<string, List<NamedItem>>(StringComparer.Ordinal);
        List<NamedItem> Split(string value)
        {
            if (!names.TryGetValue(value, out var split))
            {
                names[value] = split = SqliteCatalog.SplitNames(value);
            }

            return split;
        }

        var ranked = new Dictionary<string, List<(StoredLabel Label, int Rank)>>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var imageId = reader.GetString(0);
            var name = reader.GetString(1);
            if (!ranked.TryGetValue(imageId, out var labels))
            {
                ranked[imageId] = labels = [];
            }

            labels.Add((new StoredLabel(
                name,
                reader.GetDouble(2),
                instances.GetValueOrDefault((imageId, name.ToUpperInvariant())) ?? [],
                Split(reader.GetString(3)),
                Split(reader.GetString(4)),
                Split(reader.GetString(5)),
                reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetDouble(8)), reader.GetInt32(9)));
        }

        foreach (var (imageId, labels) in ranked)
        {
            labels.Sort(static (a, b) =>
            {
                var order = b.Label.Confidence.CompareTo(a.Label.Confidence);
                order = order != 0 ? order : a.Rank.CompareTo(b.Rank);
                return order != 0 ? order : StringComparer.OrdinalIgnoreCase.Compare(a.Label.Name, b.Label.Name);
            });
            result[imageId] = labels.ConvertAll(l => l.Label);
        }
    }
}
