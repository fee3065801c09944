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

    /// <summary>
    /// The instance columns <see cref="ReadInstancesAsync"/> reads after the image's position, in order, with
    /// <paramref name="colorsAsUtf8"/> the dominant_colors column as its UTF-8 bytes (<see cref="StoredPropertiesJson.ReadColors"/>).
    /// </summary>
    public static string InstanceColumns(string colorsAsUtf8) => $"name, confidence, box_left, box_top, box_width, box_height, {colorsAsUtf8}";

    /// <summary>
    /// The label columns <see cref="ReadLabelsAsync"/> reads after the image's position, in order, with
    /// <paramref name="textKey"/> an expression of the row's text columns' 64-bit hash (or NULL: always read them).
    /// </summary>
    public static string LabelColumns(string textKey) =>
        $"confidence, min_confidence, rank, {textKey}, name, parents, aliases, categories, source, model_version";

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
    /// Reads rows of the image's position in the list read (0-based) and <see cref="InstanceColumns"/> (in any order)
    /// into boxes per image, each with its label's name, most confident first. Sorted here rather than by the query:
    /// a 1,000-image page has thousands of boxes and labels, and the database's sort of all of them cost more than
    /// the page's few per image here. Rows carry the image's position rather than its id so that thousands of rows
    /// do not each allocate the id again.
    /// </summary>
    public static async Task<List<(string Label, LabelInstance Box)>?[]> ReadInstancesAsync(DbDataReader reader, int imageCount, CancellationToken cancellationToken)
    {
        var instances = new List<(string Label, LabelInstance Box)>?[imageCount];
        while (await reader.ReadAsync(cancellationToken))
        {
            var boxes = instances[reader.GetInt32(0)] ??= new(8);
            boxes.Add((reader.GetString(1), new LabelInstance(new BoundingBox(reader.GetDouble(5), reader.GetDouble(6), reader.GetDouble(3), reader.GetDouble(4)), reader.GetDouble(2))
            {
                DominantColors = StoredPropertiesJson.ReadColors(reader, 7),
            }));
        }

        foreach (var boxes in instances)
        {
            boxes?.Sort(static (a, b) => b.Box.Confidence.CompareTo(a.Box.Confidence));
        }

        return instances;
    }

    /// <summary>
    /// Reads rows of the image's position in the list read and <see cref="LabelColumns"/> (in any order) into labels
    /// per image, each with its boxes from <paramref name="instances"/> (names match ignoring case, as the catalog's
    /// do), ordered as a label list is: most confident first, then the model's rank, then name.
    /// <para>
    /// A label's text (name, parents, aliases, categories, source, model) repeats across a page: every Dog row of a
    /// 1,000-image page says "Dog", "Animal|Pet|Mammal", ... So the text is read and split once per distinct value
    /// and shared. Where the row carries a hash of its text, a row whose hash was seen is not read at all, which
    /// spared PostgreSQL's client decoding ~40,000 strings for that page; the hash is 64 bits over one page's few
    /// hundred distinct texts, so two different texts sharing one is not a practical concern.
    /// </para>
    /// </summary>
    public static async Task<List<StoredLabel>?[]> ReadLabelsAsync(DbDataReader reader, List<(string Label, LabelInstance Box)>?[] instances, CancellationToken cancellationToken)
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

        LabelText Read() => new(
            reader.GetString(5),
            Split(reader.GetString(6)),
            Split(reader.GetString(7)),
            Split(reader.GetString(8)),
            reader.GetString(9),
            reader.IsDBNull(10) ? null : reader.GetString(10));

        var texts = new Dictionary<long, LabelText>();
        var ranked = new List<(StoredLabel Label, int Rank)>?[instances.Length];
        while (await reader.ReadAsync(cancellationToken))
        {
            var image = reader.GetInt32(0);
            LabelText text;
            if (reader.IsDBNull(4))
            {
                text = Read();
            }
            else if (!texts.TryGetValue(reader.GetInt64(4), out text!))
            {
                texts[reader.GetInt64(4)] = text = Read();
            }

            (ranked[image] ??= new(16)).Add((new StoredLabel(
                text.Name,
                reader.GetDouble(1),
                BoxesOf(text.Name, instances[image]),
                text.Parents,
                text.Aliases,
                text.Categories,
                text.Source,
                text.ModelVersion,
                reader.IsDBNull(2) ? null : reader.GetDouble(2)), reader.GetInt32(3)));
        }

        var labels = new List<StoredLabel>?[instances.Length];
        for (var image = 0; image < ranked.Length; image++)
        {
            var list = ranked[image];
            list?.Sort(static (a, b) =>
            {
                var order = b.Label.Confidence.CompareTo(a.Label.Confidence);
                order = order != 0 ? order : a.Rank.CompareTo(b.Rank);
                return order != 0 ? order : StringComparer.OrdinalIgnoreCase.Compare(a.Label.Name, b.Label.Name);
            });
            labels[image] = list?.ConvertAll(l => l.Label);
        }

        return labels;
    }

    private static LabelInstance[] BoxesOf(string label, List<(string Label, LabelInstance Box)>? boxes)
    {
        if (boxes is null)
        {
            return [];
        }

        var count = 0;
        foreach (var (name, _) in boxes)
        {
            count += string.Equals(name, label, StringComparison.OrdinalIgnoreCase) ? 1 : 0;
        }

        if (count == 0)
        {
            return [];
        }

        var found = new LabelInstance[count];
        var next = 0;
        foreach (var (name, box) in boxes)
        {
            if (string.Equals(name, label, StringComparison.OrdinalIgnoreCase))
            {
                found[next++] = box;
            }
        }

        return found;
    }

    /// <summary>
    /// Reads the labels (with boxes) of the images <paramref name="ids"/> with <paramref name="readAsync"/> (which
    /// returns them by position in the list it is given) and their properties with <paramref name="readPropertiesAsync"/>.
    /// A large page is read in two halves at once, each on its own connection (<paramref name="openAsync"/>): a
    /// 1,000-image page spends most of its time reading thousands of label and box rows (and, with image properties,
    /// ~13 MB of their colours), which two cores read side by side. Each read is its own statement either way (as
    /// the page's find is), so reading at once sees no less consistent a catalog than reading in turn.
    /// </summary>
    public static async Task<(Dictionary<string, List<StoredLabel>> Labels, Dictionary<string, ImageProperties> Properties)> ReadPageAsync<TConnection>(
        TConnection connection,
        List<string> ids,
        Func<CancellationToken, ValueTask<TConnection>> openAsync,
        Func<TConnection, List<string>, Task<List<StoredLabel>?[]>> readAsync,
        Func<TConnection, List<string>, Task<Dictionary<string, ImageProperties>>> readPropertiesAsync,
        CancellationToken cancellationToken)
        where TConnection : DbConnection
    {
        if (ids.Count < AtOnceMinimumImages)
        {
            return (ById(ids, await readAsync(connection, ids)), await readPropertiesAsync(connection, ids));
        }

        var first = ids[..(ids.Count / 2)];
        var second = ids[(ids.Count / 2)..];
        // Task.Run: Microsoft.Data.Sqlite reads synchronously under its async API, so without it the halves would
        // still be read in turn.
        var secondHalf = Task.Run(
            async () =>
            {
                await using var own = await openAsync(cancellationToken);
                return await ReadHalfAsync(own, second, readAsync, readPropertiesAsync);
            },
            cancellationToken);
        var firstHalf = ReadHalfAsync(connection, first, readAsync, readPropertiesAsync);
        // Both finish (or fail) before either's result is used: a failed half never leaves the other reading.
        await Task.WhenAll(firstHalf, secondHalf);
        var (firstRead, properties) = await firstHalf;
        var (secondRead, secondProperties) = await secondHalf;
        var labels = ById(first, firstRead);
        AddById(labels, second, secondRead);
        foreach (var (id, read) in secondProperties)
        {
            properties[id] = read;
        }

        return (labels, properties);
    }

    private static async Task<(List<StoredLabel>?[] Labels, Dictionary<string, ImageProperties> Properties)> ReadHalfAsync<TConnection>(
        TConnection connection,
        List<string> ids,
        Func<TConnection, List<string>, Task<List<StoredLabel>?[]>> readAsync,
        Func<TConnection, List<string>, Task<Dictionary<string, ImageProperties>>> readPropertiesAsync) =>
        (await readAsync(connection, ids), await readPropertiesAsync(connection, ids));

    /// <summary>Below this many images a page's reads take a few milliseconds in all: another connection would not pay.</summary>
    private const int AtOnceMinimumImages = 200;

    /// <summary>Labels by image id from labels read by position in <paramref name="ids"/>.</summary>
    public static Dictionary<string, List<StoredLabel>> ById(IReadOnlyList<string> ids, List<StoredLabel>?[] read)
    {
        var labels = new Dictionary<string, List<StoredLabel>>(StringComparer.Ordinal);
        AddById(labels, ids, read);
        return labels;
    }

    private static void AddById(Dictionary<string, List<StoredLabel>> labels, IReadOnlyList<string> ids, List<StoredLabel>?[] read)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (read[i] is { } list)
            {
                labels[ids[i]] = list;
            }
        }
    }
}

/// <summary>A label row's text columns, read once per distinct value in a page.</summary>
internal sealed record LabelText(string Name, List<NamedItem> Parents, List<NamedItem> Aliases, List<NamedItem> Categories, string Source, string? ModelVersion);
