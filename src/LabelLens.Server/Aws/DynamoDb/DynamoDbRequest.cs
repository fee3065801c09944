using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// The members of one DynamoDB request body, read strictly: a member of the wrong JSON type is a
/// SerializationException, a value out of range a ValidationException, as the service answers them.
/// </summary>
internal sealed class DynamoDbRequest
{
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    private DynamoDbRequest(JsonObject root) => Root = root;

    public JsonObject Root { get; }

    public static DynamoDbRequest Parse(byte[] body)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body, documentOptions: Strict);
        }
        catch (JsonException ex)
        {
            throw DynamoDbException.Serialization($"The request body is not valid JSON: {ex.Message}");
        }

        return node is JsonObject root ? new DynamoDbRequest(root) : throw DynamoDbException.Serialization("The request body must be a JSON object.");
    }

    public static DynamoDbRequest Of(JsonObject member) => new(member);

    public bool Has(string name) => Root.TryGetPropertyValue(name, out var value) && value is not null;

    public string? String(string name) => Scalar<string>(name, "a string", out var text) ? text : null;

    public int? Integer(string name) => Scalar<int>(name, "an integer", out var number) ? number : null;

    public bool? Boolean(string name) => Scalar<bool>(name, "true or false", out var flag) ? flag : null;

    public JsonObject? Object(string name) => Member(name) switch
    {
        null => null,
        JsonObject value => value,
        _ => throw Wrong(name, "a JSON object"),
    };

    public JsonArray? Array(string name) => Member(name) switch
    {
        null => null,
        JsonArray value => value,
        _ => throw Wrong(name, "a JSON array"),
    };

    /// <summary>A string member that must be one of <paramref name="allowed"/> (DynamoDB's enum constraint message).</summary>
    public string? Enum(string name, params string[] allowed)
    {
        var value = String(name);
        if (value is not null && !allowed.Contains(value, StringComparer.Ordinal))
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{AttributeValues.Printable(value)}' at '{Camel(name)}' failed to satisfy constraint: Member must satisfy enum value set: [{string.Join(", ", allowed)}]");
        }

        return value;
    }

    /// <summary>Limit and friends: at least <paramref name="min"/>.</summary>
    public int? Positive(string name, int min = 1)
    {
        var value = Integer(name);
        if (value < min)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{value}' at '{Camel(name)}' failed to satisfy constraint: Member must have value greater than or equal to {min}");
        }

        return value;
    }

    /// <summary>ExpressionAttributeNames: #placeholder to attribute name.</summary>
    public Dictionary<string, string>? Names() => Placeholders("ExpressionAttributeNames", '#', (placeholder, value) =>
        value is JsonValue v && v.TryGetValue<string>(out var name) && name.Length > 0
            ? name
            : throw DynamoDbException.Validation($"ExpressionAttributeNames contains invalid value: Empty attribute name for key {AttributeValues.Printable(placeholder)}"));

    /// <summary>ExpressionAttributeValues: :placeholder to attribute value.</summary>
    public Dictionary<string, JsonObject>? Values() => Placeholders("ExpressionAttributeValues", ':', (placeholder, value) =>
        AttributeValues.Validate(value, $"ExpressionAttributeValues {placeholder}"));

    /// <summary>An attribute map a client sent (Key, ExclusiveStartKey), each value checked.</summary>
    public Dictionary<string, JsonObject>? AttributeMap(string name)
    {
        if (Object(name) is not { } map)
        {
            return null;
        }

        return map.ToDictionary(p => p.Key, p => AttributeValues.Validate(p.Value, name), StringComparer.Ordinal);
    }

    /// <summary>A map of placeholders (keys starting with <paramref name="prefix"/>) to what each stands for; never empty when given.</summary>
    private Dictionary<string, T>? Placeholders<T>(string member, char prefix, Func<string, JsonNode?, T> read)
    {
        if (Object(member) is not { } map)
        {
            return null;
        }

        if (map.Count == 0)
        {
            throw DynamoDbException.Validation($"{member} must not be empty");
        }

        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var (placeholder, value) in map)
        {
            result[placeholder] = placeholder.Length > 1 && placeholder[0] == prefix
                ? read(placeholder, value)
                : throw DynamoDbException.Validation($"{member} contains invalid key: Syntax error; key: \"{AttributeValues.Printable(placeholder)}\"");
        }

        return result;
    }

    /// <summary>False when the member is absent or null; a member of another JSON type is a SerializationException.</summary>
    private bool Scalar<T>(string name, string expected, [MaybeNullWhen(false)] out T value)
    {
        value = default;
        return Member(name) switch
        {
            null => false,
            JsonValue member when member.TryGetValue(out value) => true,
            _ => throw Wrong(name, expected),
        };
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    private static DynamoDbException Wrong(string name, string expected) => DynamoDbException.Serialization($"{name} must be {expected}.");

    private JsonNode? Member(string name) => Root.TryGetPropertyValue(name, out var value) ? value : null;
}
