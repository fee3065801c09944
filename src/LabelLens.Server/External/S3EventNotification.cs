using System.Globalization;
using System.Net;
using System.Text.Json;

namespace LabelLens.Server.External;

/// <summary>One record of an S3 event notification, with its key URL-decoded.</summary>
/// <param name="EventName">Without MinIO's "s3:" prefix: ObjectCreated:Put, ObjectRemoved:Delete, ...</param>
public sealed record S3EventRecord(string EventName, string Bucket, string Key, string? ETag, long Size, string? Sequencer, string? ContentType)
{
    public bool IsCreated => EventName.StartsWith("ObjectCreated:", StringComparison.Ordinal);

    public bool IsRemoved => EventName.StartsWith("ObjectRemoved:", StringComparison.Ordinal);
}

/// <summary>
/// Parses S3 event notifications as AWS sends them (<c>{"Records": [...]}</c>, also inside an SNS
/// envelope) and as MinIO's webhook does (<c>{"EventName": "s3:ObjectCreated:Put", "Key": ..., "Records": [...]}</c>).
/// </summary>
public static class S3EventNotification
{
    /// <summary>The records of <paramref name="root"/>; an entry is null (with its index) when it lacks what is needed.</summary>
    public static IReadOnlyList<(S3EventRecord? Record, string? Problem)> Parse(JsonElement root)
    {
        // SNS delivers the S3 notification as a JSON string in "Message".
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("Type", out var type) && type.ValueKind == JsonValueKind.String
            && type.GetString() == "Notification" && root.TryGetProperty("Message", out var message) && message.ValueKind == JsonValueKind.String)
        {
            using var inner = JsonDocument.Parse(message.GetString()!);
            return Parse(inner.RootElement.Clone());
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("An S3 event notification is a JSON object.");
        }

        if (!TryGet(root, "Records", out var records) || records.ValueKind != JsonValueKind.Array)
        {
            // s3:TestEvent (sent when a notification is configured) has no records.
            return [];
        }

        var result = new List<(S3EventRecord?, string?)>();
        foreach (var record in records.EnumerateArray())
        {
            result.Add(ParseRecord(record));
        }

        return result;
    }

    private static (S3EventRecord?, string?) ParseRecord(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object)
        {
            return (null, "a record is not an object");
        }

        var eventName = Text(record, "eventName");
        if (string.IsNullOrEmpty(eventName))
        {
            return (null, "the record has no eventName");
        }

        if (eventName.StartsWith("s3:", StringComparison.Ordinal))
        {
            eventName = eventName[3..];
        }

        if (!TryGet(record, "s3", out var s3) || !TryGet(s3, "bucket", out var bucket) || !TryGet(s3, "object", out var obj))
        {
            return (null, "the record has no s3.bucket / s3.object");
        }

        var bucketName = Text(bucket, "name");
        var rawKey = Text(obj, "key");
        if (string.IsNullOrEmpty(bucketName) || string.IsNullOrEmpty(rawKey))
        {
            return (null, "the record has no s3.bucket.name / s3.object.key");
        }

        // Keys are URL-encoded as in an HTML form: '+' is a space, %XX are UTF-8 bytes.
        var key = WebUtility.UrlDecode(rawKey);
        long size = 0;
        if (TryGet(obj, "size", out var sizeElement))
        {
            size = sizeElement.ValueKind == JsonValueKind.Number && sizeElement.TryGetInt64(out var n) ? n
                : sizeElement.ValueKind == JsonValueKind.String && long.TryParse(sizeElement.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s
                : 0;
        }

        var contentType = Text(obj, "contentType");
        return (new S3EventRecord(eventName, bucketName, key, Text(obj, "eTag") ?? Text(obj, "etag"), size, Text(obj, "sequencer"), contentType), null);
    }

    private static string? Text(JsonElement element, string name) =>
        TryGet(element, name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Property lookup that tolerates case differences (MinIO and AWS agree, proxies sometimes do not).</summary>
    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            if (element.TryGetProperty(name, out value))
            {
                return true;
            }

            foreach (var property in element.EnumerateObject())
            {
                if (property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
        }

        value = default;
        return false;
    }
}
