using LabelLens.Analysis;
using System.Globalization;
using System.Text.Json.Nodes;
using LabelLens.Labels;
using LabelLens.Storage;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// Catalog rows as items of the results table, and the table's key: ImageId.
/// <para>
/// ImageId is the object key, as the tutorials write it (<c>get_item(Key={'ImageId': 'dog.jpg'})</c>), with the
/// bucket in the Bucket attribute. A key held by several buckets names the object cataloged first (creation time,
/// then bucket name); every other one is <c>s3://bucket/key</c>. That form is never a bare key (LabelLens keys
/// have no empty path segment; an external key starting with "s3://" is always given that form), and it
/// addresses every item, so it is also what paging keys carry: they stay valid when a bare key's owner changes.
/// </para>
/// </summary>
internal static class ResultItems
{
    public const string IndexName = "Label";
    public const string KeyAttribute = "ImageId";
    public const string LabelAttribute = "Label";
    public const string ConfidenceAttribute = "Confidence";
    private const string Qualifier = "s3://";

    /// <summary>The item's ImageId: its bare key when it owns the key, else s3://bucket/key.</summary>
    public static string ImageIdOf(ResultRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.OwnsKey && !row.Image.Key.StartsWith(Qualifier, StringComparison.Ordinal) ? row.Image.Key : Qualified(row.Image);
    }

    public static string Qualified(ImageRecord image) => $"{Qualifier}{image.Bucket}/{image.Key}";

    /// <summary>The catalog id an s3://bucket/key ImageId stands for; null for a bare key (the catalog knows its owner).</summary>
    public static bool IsQualified(string imageId, out string? catalogId)
    {
        catalogId = null;
        if (!imageId.StartsWith(Qualifier, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = imageId[Qualifier.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && slash < rest.Length - 1)
        {
            catalogId = ImageIds.For(rest[..slash], rest[(slash + 1)..]);
        }

        return true;
    }

    /// <summary>
    /// The item: ImageId, Bucket, Key, MediaType, Status, Error (failed), ModelVersion and LabeledAt (once labeled),
    /// CreatedAt, Labels in Rekognition's shape (highest confidence first), LabelNames (a string set, for
    /// contains() filters; absent without labels, as DynamoDB has no empty sets), and Segments for videos.
    /// </summary>
    public static JsonObject Item(ResultRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var image = row.Image;
        var item = new JsonObject
        {
            [KeyAttribute] = AttributeValues.S(ImageIdOf(row)),
            ["Bucket"] = AttributeValues.S(image.Bucket),
            ["Key"] = AttributeValues.S(image.Key),
            ["MediaType"] = AttributeValues.S(row.MediaType),
            ["Status"] = AttributeValues.S(image.Status),
        };
        if (image.Error is { } error)
        {
            item["Error"] = AttributeValues.S(error);
        }

        if (image.ModelVersion is { } version)
        {
            item["ModelVersion"] = AttributeValues.S(version);
        }

        item["CreatedAt"] = AttributeValues.S(Timestamp(image.CreatedAt));
        if (image.LabeledAt is { } labeledAt)
        {
            item["LabeledAt"] = AttributeValues.S(Timestamp(labeledAt));
        }

        item["Labels"] = AttributeValues.L(row.Labels.Select(Label));
        if (row.Labels.Count > 0)
        {
            item["LabelNames"] = AttributeValues.SS(row.Labels.Select(l => l.Name).Distinct(StringComparer.Ordinal));
        }

        if (row.Text is { } lines)
        {
            // DetectText's LINE detections, each with its words; a video's with when they are on screen.
            item["Text"] = AttributeValues.L(lines.Select(TextLineItem));
        }

        if (row.Faces is { } faces)
        {
            // DetectFaces' FaceDetails (box, confidence, quality), with the count and the shot size they give.
            item["Faces"] = AttributeValues.L(faces.Faces.Select(f => AttributeValues.M(new JsonObject
            {
                ["BoundingBox"] = Box(f.BoundingBox),
                ["Confidence"] = AttributeValues.N(f.Confidence),
                ["Quality"] = AttributeValues.M(new JsonObject
                {
                    ["Brightness"] = AttributeValues.N(f.Quality.Brightness),
                    ["Sharpness"] = AttributeValues.N(f.Quality.Sharpness),
                }),
            })));
            item["FaceCount"] = AttributeValues.N((long)faces.Count);
            if (faces.Shot is { } shot)
            {
                item["Shot"] = AttributeValues.S(shot);
            }
        }

        if (row.MediaType == MediaTypes.Video)
        {
            // GetLabelDetection's SEGMENTS shape.
            item["Segments"] = AttributeValues.L(row.Segments.Select(s => AttributeValues.M(new JsonObject
            {
                ["StartTimestampMillis"] = AttributeValues.N(s.StartTimestampMillis),
                ["EndTimestampMillis"] = AttributeValues.N(s.EndTimestampMillis),
                ["DurationMillis"] = AttributeValues.N(s.DurationMillis),
                ["Label"] = AttributeValues.M(new JsonObject
                {
                    ["Name"] = AttributeValues.S(s.Name),
                    ["Confidence"] = AttributeValues.N(s.Confidence),
                    ["Parents"] = Names(s.Parents),
                    ["Aliases"] = Names(s.Aliases),
                    ["Categories"] = Names(s.Categories),
                }),
            })));
        }

        return item;
    }

    private static JsonNode TextLineItem(TextLine line)
    {
        var map = new JsonObject
        {
            ["DetectedText"] = AttributeValues.S(line.Text),
            ["Confidence"] = AttributeValues.N(Math.Round(line.Confidence, 3)),
            ["BoundingBox"] = Box(line.BoundingBox),
            ["Words"] = AttributeValues.L(line.Words.Select(w => AttributeValues.M(new JsonObject
            {
                ["DetectedText"] = AttributeValues.S(w.Text),
                ["Confidence"] = AttributeValues.N(Math.Round(w.Confidence, 3)),
                ["BoundingBox"] = Box(w.BoundingBox),
            }))),
        };
        if (line.StartTimestampMillis is { } start && line.EndTimestampMillis is { } end)
        {
            map["StartTimestampMillis"] = AttributeValues.N(start);
            map["EndTimestampMillis"] = AttributeValues.N(end);
        }

        return AttributeValues.M(map);
    }

    /// <summary>An entry of the Label index: the whole item (projection ALL) with the index's keys, Label and Confidence.</summary>
    public static JsonObject IndexItem(LabelIndexEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var item = Item(entry.Row);
        item[LabelAttribute] = AttributeValues.S(entry.Label);
        item[ConfidenceAttribute] = AttributeValues.N(entry.Confidence);
        return item;
    }

    /// <summary>A table page's LastEvaluatedKey: the qualified ImageId, which names the position even after the item is gone.</summary>
    public static JsonObject TableKey(ResultRow row) => new() { [KeyAttribute] = AttributeValues.S(Qualified(row.Image)) };

    /// <summary>An index page's LastEvaluatedKey: the table's key and the index's.</summary>
    public static JsonObject IndexKey(LabelIndexEntry entry) => new()
    {
        [KeyAttribute] = AttributeValues.S(Qualified(entry.Row.Image)),
        [LabelAttribute] = AttributeValues.S(entry.Label),
        [ConfidenceAttribute] = AttributeValues.N(entry.Confidence),
    };

    /// <summary>Only the attributes at <paramref name="paths"/>, nested as in the item (list elements keep their order).</summary>
    public static JsonObject Project(JsonObject item, IReadOnlyList<DocumentPath> paths)
    {
        var root = new Dictionary<object, object>();
        foreach (var path in paths)
        {
            if (path.Resolve(item) is not { } value)
            {
                continue;
            }

            var node = root;
            for (var i = 0; i < path.Elements.Count - 1; i++)
            {
                if (!node.TryGetValue(path.Elements[i], out var child))
                {
                    node[path.Elements[i]] = child = new Dictionary<object, object>();
                }

                node = (Dictionary<object, object>)child;
            }

            node[path.Elements[^1]] = value.DeepClone();
        }

        var projected = new JsonObject();
        foreach (var (name, child) in root)
        {
            projected[(string)name] = Build(child);
        }

        return projected;

        static JsonNode Build(object node) => node switch
        {
            JsonNode value => value,
            Dictionary<object, object> members when members.Keys.First() is int => AttributeValues.L(members.OrderBy(m => (int)m.Key).Select(m => Build(m.Value))),
            Dictionary<object, object> members => AttributeValues.M(new JsonObject(members.Select(m => KeyValuePair.Create((string)m.Key, (JsonNode?)Build(m.Value))))),
            _ => throw new InvalidOperationException("unreachable"),
        };
    }

    private static JsonObject Box(BoundingBox box) => AttributeValues.M(new JsonObject
    {
        ["Width"] = AttributeValues.N(box.Width),
        ["Height"] = AttributeValues.N(box.Height),
        ["Left"] = AttributeValues.N(box.Left),
        ["Top"] = AttributeValues.N(box.Top),
    });

    private static JsonObject Label(StoredLabel label) => AttributeValues.M(new JsonObject
    {
        ["Name"] = AttributeValues.S(label.Name),
        ["Confidence"] = AttributeValues.N(label.Confidence),
        ["Instances"] = AttributeValues.L(label.Instances.Select(i => AttributeValues.M(new JsonObject
        {
            ["BoundingBox"] = Box(i.BoundingBox),
            ["Confidence"] = AttributeValues.N(i.Confidence),
        }))),
        ["Parents"] = Names(label.Parents),
        ["Aliases"] = Names(label.Aliases),
        ["Categories"] = Names(label.Categories),
    });

    private static JsonObject Names(IEnumerable<NamedItem> items) => AttributeValues.L(items.Select(i => AttributeValues.M(new JsonObject { ["Name"] = AttributeValues.S(i.Name) })));

    private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
