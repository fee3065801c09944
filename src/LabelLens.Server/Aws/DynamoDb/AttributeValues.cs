using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// DynamoDB attribute values as they travel: a JSON object with one member naming the type ({"S": "Dog"},
/// {"N": "86.565"}, {"L": [...]}, {"M": {...}}, ...). Items are maps of them. Comparisons follow DynamoDB: numbers
/// by value, strings and binaries by their bytes, only values of one type are ordered.
/// </summary>
internal static partial class AttributeValues
{
    public static readonly IReadOnlySet<string> Types = new HashSet<string>(StringComparer.Ordinal) { "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL" };

    public static JsonObject S(string value) => new() { ["S"] = value };

    /// <summary>The shortest text that reads back as the same double, so a number sent back (a paging key) finds the stored value exactly.</summary>
    public static JsonObject N(double value) => new() { ["N"] = value.ToString("R", CultureInfo.InvariantCulture) };

    public static JsonObject N(long value) => new() { ["N"] = value.ToString(CultureInfo.InvariantCulture) };

    public static JsonObject L(IEnumerable<JsonNode> items) => new() { ["L"] = new JsonArray([.. items]) };

    public static JsonObject M(JsonObject members) => new() { ["M"] = members };

    public static JsonObject SS(IEnumerable<string> values) => new() { ["SS"] = new JsonArray([.. values.Select(v => (JsonNode)JsonValue.Create(v))]) };

    public static string TypeOf(JsonObject value) => value.First().Key;

    public static string? String(JsonObject? value) => value is not null && TypeOf(value) == "S" ? value["S"]!.GetValue<string>() : null;

    /// <summary>A number's value, or null when <paramref name="value"/> is not a number.</summary>
    public static double? Number(JsonObject? value) => value is not null && TypeOf(value) == "N" ? double.Parse(value["N"]!.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture) : null;

    /// <summary>Checks a value a client sent, all the way down; <paramref name="where"/> names it in the message.</summary>
    public static JsonObject Validate(JsonNode? node, string where)
    {
        if (node is not JsonObject value || value.Count != 1)
        {
            throw DynamoDbException.Validation($"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes ({where}).");
        }

        var (type, content) = value.First();
        switch (type)
        {
            case "S":
                Text(content, where);
                break;
            case "N":
                CheckNumber(Text(content, where), where);
                break;
            case "B":
                CheckBinary(Text(content, where), where);
                break;
            case "BOOL":
                if (content is not JsonValue b || !b.TryGetValue<bool>(out _))
                {
                    throw DynamoDbException.Serialization($"BOOL must be true or false ({where}).");
                }

                break;
            case "NULL":
                if (content is not JsonValue n || !n.TryGetValue<bool>(out var isNull) || !isNull)
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: Null attribute value types must have the value of true ({where}).");
                }

                break;
            case "SS" or "NS" or "BS":
                var members = List(content, where).Select(m => Text(m, where)).ToList();
                if (members.Count == 0)
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: An string set  may not be empty ({where}).");
                }

                foreach (var member in members)
                {
                    if (type == "NS")
                    {
                        CheckNumber(member, where);
                    }
                    else if (type == "BS")
                    {
                        CheckBinary(member, where);
                    }
                }

                if (members.Distinct(StringComparer.Ordinal).Count() != members.Count)
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: Input collection contains duplicates ({where}).");
                }

                break;
            case "L":
                foreach (var item in List(content, where))
                {
                    Validate(item, where);
                }

                break;
            case "M":
                if (content is not JsonObject map)
                {
                    throw DynamoDbException.Serialization($"M must be a JSON object ({where}).");
                }

                foreach (var (_, member) in map)
                {
                    Validate(member, where);
                }

                break;
            default:
                throw DynamoDbException.Validation($"Supplied AttributeValue has an unknown datatype '{type}'; the datatypes are S, N, B, SS, NS, BS, M, L, NULL and BOOL ({where}).");
        }

        return value;
    }

    /// <summary>Equality as DynamoDB sees it: same type and value; numbers by value, sets in any order, lists and maps member by member.</summary>
    public static bool Equal(JsonObject a, JsonObject b)
    {
        var type = TypeOf(a);
        if (type != TypeOf(b))
        {
            return false;
        }

        var (x, y) = (a[type]!, b[type]!);
        switch (type)
        {
            case "N":
                return CompareNumbers(x.GetValue<string>(), y.GetValue<string>()) == 0;
            case "S" or "B":
                return x.GetValue<string>() == y.GetValue<string>();
            case "BOOL" or "NULL":
                return x.GetValue<bool>() == y.GetValue<bool>();
            case "SS" or "BS":
                return x.AsArray().Select(v => v!.GetValue<string>()).ToHashSet(StringComparer.Ordinal).SetEquals(y.AsArray().Select(v => v!.GetValue<string>()));
            case "NS":
                var left = x.AsArray().Select(v => v!.GetValue<string>()).ToList();
                var right = y.AsArray().Select(v => v!.GetValue<string>()).ToList();
                return left.Count == right.Count && left.All(l => right.Any(r => CompareNumbers(l, r) == 0));
            case "L":
                var (first, second) = (x.AsArray(), y.AsArray());
                return first.Count == second.Count && first.Zip(second).All(p => Equal(p.First!.AsObject(), p.Second!.AsObject()));
            default:
                var (m1, m2) = (x.AsObject(), y.AsObject());
                return m1.Count == m2.Count && m1.All(p => m2.TryGetPropertyValue(p.Key, out var other) && other is JsonObject o && Equal(p.Value!.AsObject(), o));
        }
    }

    /// <summary>The order of two numbers, two strings or two binaries; null for anything else (DynamoDB's comparisons are then false).</summary>
    public static int? Compare(JsonObject a, JsonObject b)
    {
        var type = TypeOf(a);
        if (type != TypeOf(b))
        {
            return null;
        }

        return type switch
        {
            "N" => CompareNumbers(a["N"]!.GetValue<string>(), b["N"]!.GetValue<string>()),
            "S" => Bytes(a, "S").AsSpan().SequenceCompareTo(Bytes(b, "S")),
            "B" => Bytes(a, "B").AsSpan().SequenceCompareTo(Bytes(b, "B")),
            _ => null,
        };
    }

    /// <summary>size(): a string's or binary's length in bytes, a set's, list's or map's member count; null for other types.</summary>
    public static long? Size(JsonObject value)
    {
        var type = TypeOf(value);
        return type switch
        {
            "S" or "B" => Bytes(value, type).Length,
            "SS" or "NS" or "BS" or "L" => value[type]!.AsArray().Count,
            "M" => value["M"]!.AsObject().Count,
            _ => null,
        };
    }

    /// <summary>A string's UTF-8 bytes, a binary's decoded bytes: what DynamoDB orders them by.</summary>
    public static byte[] Bytes(JsonObject value, string type) =>
        type == "B" ? Convert.FromBase64String(value["B"]!.GetValue<string>()) : Encoding.UTF8.GetBytes(value["S"]!.GetValue<string>());

    private static int CompareNumbers(string a, string b)
    {
        // decimal holds the 28 digits numbers here ever have; DynamoDB's 38-digit extremes fall back to double.
        if (decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && decimal.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
        {
            return x.CompareTo(y);
        }

        return double.Parse(a, NumberStyles.Float, CultureInfo.InvariantCulture).CompareTo(double.Parse(b, NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    private static string Text(JsonNode? node, string where) =>
        node is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw DynamoDbException.Serialization($"An attribute value's content must be a JSON string ({where}).");

    private static JsonArray List(JsonNode? node, string where) =>
        node as JsonArray ?? throw DynamoDbException.Serialization($"A list or set attribute value must be a JSON array ({where}).");

    private static void CheckNumber(string text, string where)
    {
        if (!NumberText().IsMatch(text) || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
        {
            throw DynamoDbException.Validation($"A value provided cannot be converted into a number ({where}: '{Printable(text)}').");
        }
    }

    private static void CheckBinary(string text, string where)
    {
        if (!Convert.TryFromBase64String(text, new byte[text.Length], out _))
        {
            throw DynamoDbException.Serialization($"A binary attribute value must be base64 ({where}).");
        }
    }

    internal static string Printable(string value) => LabelLens.Storage.ObjectNames.Printable(value.Length > 200 ? value[..200] : value);

    [GeneratedRegex(@"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex NumberText();
}
