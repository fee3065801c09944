using System.Text.Json.Nodes;
using LabelLens.Server.Aws.DynamoDb;
using LabelLens.Storage;

namespace LabelLens.Tests;

/// <summary>
/// DynamoDB's expression language as the results table evaluates it (FilterExpression, KeyConditionExpression,
/// ProjectionExpression), on an item of the table's shape: DynamoDB's semantics, and its errors for what it refuses.
/// </summary>
public sealed class DynamoDbExpressionTests
{
    private static readonly JsonObject Item = JsonNode.Parse("""
        {"ImageId": {"S": "pets/dog.jpg"}, "Bucket": {"S": "photos"}, "Status": {"S": "labeled"},
         "LabelNames": {"SS": ["Dog", "Animal", "Bicycle"]},
         "Labels": {"L": [
            {"M": {"Name": {"S": "Dog"}, "Confidence": {"N": "86.565"}, "Instances": {"L": [{"M": {"Confidence": {"N": "84.97"}}}]}}},
            {"M": {"Name": {"S": "Bicycle"}, "Confidence": {"N": "81.511"}, "Instances": {"L": []}}}]},
         "Width": {"N": "768"}, "Flag": {"BOOL": true}, "Nothing": {"NULL": true}}
        """)!.AsObject();

    private static bool Matches(string expression, object? values = null, Dictionary<string, string>? names = null)
    {
        var attributes = new ExpressionAttributes(names, Values(values));
        var condition = ExpressionParser.ParseCondition(expression, "FilterExpression", attributes);
        attributes.CheckAllUsed();
        return condition.Evaluate(Item);
    }

    private static Dictionary<string, JsonObject>? Values(object? values) =>
        values is null ? null : JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(values))!.AsObject().ToDictionary(p => p.Key, p => p.Value!.AsObject());

    private static string Refusal(Action action) => Assert.Throws<DynamoDbException>(action) is var ex && ex.Name == "ValidationException" ? ex.Message : $"not a ValidationException: {ex.Type}";

    [Fact]
    public void Comparisons_follow_DynamoDB_types_numbers_by_value_and_missing_attributes()
    {
        Assert.True(Matches("Status = :s", new Dictionary<string, object> { [":s"] = new { S = "labeled" } }));
        Assert.True(Matches("Width = :w", new Dictionary<string, object> { [":w"] = new { N = "768.000" } }));
        Assert.True(Matches("Width > :w", new Dictionary<string, object> { [":w"] = new { N = "99" } })); // 768 > 99 as numbers, not as text
        Assert.False(Matches("Width > :w", new Dictionary<string, object> { [":w"] = new { S = "1" } })); // different types never order
        Assert.True(Matches("Width <> :w", new Dictionary<string, object> { [":w"] = new { S = "768" } }));
        Assert.True(Matches("Missing <> :w", new Dictionary<string, object> { [":w"] = new { S = "x" } }));
        Assert.False(Matches("Missing = :w OR Missing < :w", new Dictionary<string, object> { [":w"] = new { S = "x" } }));
        Assert.True(Matches("Labels[0].Confidence BETWEEN :lo AND :hi", new Dictionary<string, object> { [":lo"] = new { N = "80" }, [":hi"] = new { N = "90" } }));
        Assert.True(Matches("Labels[1].#n IN (:a, :b)", new Dictionary<string, object> { [":a"] = new { S = "Cat" }, [":b"] = new { S = "Bicycle" } }, new() { ["#n"] = "Name" }));
        Assert.True(Matches("Labels[0].Instances[0].Confidence >= :c", new Dictionary<string, object> { [":c"] = new { N = "84.97" } }));
        Assert.False(Matches("Labels[5].Name = :n", new Dictionary<string, object> { [":n"] = new { S = "Dog" } }));
        Assert.True(Matches("Flag = :t AND Nothing = :null", new Dictionary<string, object> { [":t"] = new { BOOL = true }, [":null"] = new { NULL = true } }));
    }

    [Fact]
    public void Functions_precedence_and_parentheses()
    {
        var dog = new Dictionary<string, object> { [":d"] = new { S = "Dog" } };
        Assert.True(Matches("contains(LabelNames, :d)", dog));
        Assert.True(Matches("contains(ImageId, :p)", new Dictionary<string, object> { [":p"] = new { S = "dog" } }));
        Assert.True(Matches("begins_with(ImageId, :p)", new Dictionary<string, object> { [":p"] = new { S = "pets/" } }));
        Assert.True(Matches("attribute_exists(Labels[1].Name) AND attribute_not_exists(Error)"));
        Assert.True(Matches("attribute_type(LabelNames, :t)", new Dictionary<string, object> { [":t"] = new { S = "SS" } }));
        Assert.True(Matches("size(Labels) = :two AND size(ImageId) > :two", new Dictionary<string, object> { [":two"] = new { N = "2" } }));
        // NOT binds tighter than AND, AND tighter than OR; parentheses override.
        var values = new Dictionary<string, object> { [":d"] = new { S = "Dog" }, [":x"] = new { S = "none" } };
        Assert.True(Matches("NOT Status = :x AND contains(LabelNames, :d) OR Status = :x", values));
        Assert.False(Matches("NOT (Status = :x OR contains(LabelNames, :d))", values));
        Assert.True(Matches("not Status = :x and (contains(LabelNames, :d))", values)); // keywords in any case
    }

    [Fact]
    public void Malformed_expressions_are_ValidationExceptions_that_say_what_is_wrong()
    {
        var s = new Dictionary<string, object> { [":s"] = new { S = "labeled" } };
        Assert.Contains("Syntax error; token: \"=\"", Refusal(() => Matches("Status = = :s", s)), StringComparison.Ordinal);
        Assert.Contains("Syntax error; token: \"<EOF>\"", Refusal(() => Matches("Status =", s)), StringComparison.Ordinal);
        Assert.Contains("Syntax error", Refusal(() => Matches("Status = :s AND", s)), StringComparison.Ordinal);
        Assert.Contains("Syntax error; token: \"$\"", Refusal(() => Matches("Status = $s", s)), StringComparison.Ordinal);
        Assert.Contains("can not be empty", Refusal(() => Matches("  ")), StringComparison.Ordinal);
        Assert.Contains("attribute value: :nope", Refusal(() => Matches("Status = :nope", s)), StringComparison.Ordinal);
        Assert.Contains("attribute name: #n", Refusal(() => Matches("#n = :s", s)), StringComparison.Ordinal);
        Assert.Contains("ExpressionAttributeValues unused in expressions: keys: {:unused}", Refusal(() => Matches("Status = :s", new Dictionary<string, object> { [":s"] = new { S = "x" }, [":unused"] = new { S = "y" } })), StringComparison.Ordinal);
        Assert.Contains("ExpressionAttributeNames unused in expressions: keys: {#x}", Refusal(() => Matches("Status = :s", s, new() { ["#x"] = "Status" })), StringComparison.Ordinal);
        Assert.Contains("Invalid function name; function: Contains", Refusal(() => Matches("Contains(LabelNames, :s)", s)), StringComparison.Ordinal);
        Assert.Contains("number of operands: 1", Refusal(() => Matches("contains(LabelNames)")), StringComparison.Ordinal);
        Assert.Contains("requires a document path", Refusal(() => Matches("attribute_exists(:s)", s)), StringComparison.Ordinal);
        Assert.Contains("upper bound to be greater than or equal to lower bound", Refusal(() => Matches("Width BETWEEN :hi AND :lo", new Dictionary<string, object> { [":lo"] = new { N = "1" }, [":hi"] = new { N = "9" } })), StringComparison.Ordinal);
        Assert.Contains("Invalid attribute type name", Refusal(() => Matches("attribute_type(Width, :t)", new Dictionary<string, object> { [":t"] = new { S = "NUMBER" } })), StringComparison.Ordinal);
        Assert.Contains("not allowed to be used this way", Refusal(() => Matches("size(Labels) = contains(LabelNames, :s)", s)), StringComparison.Ordinal);
    }

    [Fact]
    public void Projections_keep_the_item_shape_and_refuse_overlapping_paths()
    {
        var attributes = new ExpressionAttributes(new Dictionary<string, string> { ["#n"] = "Name" }, null);
        var paths = ExpressionParser.ParseProjection("ImageId, Labels[1].#n, Labels[0].Confidence, Missing.Deep", attributes);
        attributes.CheckAllUsed();
        var projected = ResultItems.Project(Item, paths);
        // List elements keep their order in the item (Labels[0] before Labels[1]); what the item lacks is left out.
        Assert.Equal("""{"ImageId":{"S":"pets/dog.jpg"},"Labels":{"L":[{"M":{"Confidence":{"N":"86.565"}}},{"M":{"Name":{"S":"Bicycle"}}}]}}""", projected.ToJsonString());

        Assert.Contains("overlap", Refusal(() => ExpressionParser.ParseProjection("Labels, Labels[0].Name", new ExpressionAttributes(null, null))), StringComparison.Ordinal);
        Assert.Contains("overlap", Refusal(() => ExpressionParser.ParseProjection("Bucket, Bucket", new ExpressionAttributes(null, null))), StringComparison.Ordinal);
        Assert.Contains("conflict", Refusal(() => ExpressionParser.ParseProjection("Labels[0], Labels.Name", new ExpressionAttributes(null, null))), StringComparison.Ordinal);
        Assert.Contains("Syntax error", Refusal(() => ExpressionParser.ParseProjection("Labels[x]", new ExpressionAttributes(null, null))), StringComparison.Ordinal);
    }

    [Fact]
    public void Attribute_values_from_clients_are_checked()
    {
        static string Type(string json) => Assert.Throws<DynamoDbException>(() => AttributeValues.Validate(JsonNode.Parse(json), "test")).Name;

        Assert.Equal("ValidationException", Type("""{"N": "1e"}"""));
        Assert.Equal("ValidationException", Type("""{"N": "Infinity"}"""));
        Assert.Equal("ValidationException", Type("""{"S": "a", "N": "1"}"""));
        Assert.Equal("ValidationException", Type("""{"X": "a"}"""));
        Assert.Equal("ValidationException", Type("""{"SS": []}"""));
        Assert.Equal("ValidationException", Type("""{"SS": ["a", "a"]}"""));
        Assert.Equal("SerializationException", Type("""{"S": 1}"""));
        Assert.Equal("SerializationException", Type("""{"L": {}}"""));
        Assert.NotNull(AttributeValues.Validate(JsonNode.Parse("""{"M": {"a": {"L": [{"N": "-1.5E+3"}, {"NULL": true}]}}}"""), "test"));
    }

    [Fact]
    public void Segments_split_the_id_space_without_gaps_or_overlaps()
    {
        foreach (var total in new[] { 1, 2, 3, 7, 1000 })
        {
            var previous = "0000000000000000";
            for (var segment = 0; segment < total; segment++)
            {
                var (from, to) = TableSegments.Range(segment, total);
                Assert.Equal(previous, from);
                Assert.Equal(segment, TableSegments.Of(from + new string('0', 16), total));
                if (to is not null)
                {
                    // The last id before the next part's start is in this part; that start is in the next.
                    var last = (ulong.Parse(to, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture) - 1).ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + new string('f', 16);
                    Assert.Equal(segment, TableSegments.Of(last, total));
                    Assert.Equal(segment + 1, TableSegments.Of(to + new string('0', 16), total));
                }

                previous = to ?? "end";
            }

            Assert.Equal("end", previous);
        }

        var ids = Enumerable.Range(0, 2000).Select(i => ImageIds.For("b", $"k{i}")).ToList();
        var bySegment = ids.GroupBy(id => TableSegments.Of(id, 4)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, bySegment.Count);
        Assert.All(bySegment.Values, n => Assert.InRange(n, 400, 600)); // uniform ids: about 500 each
        foreach (var id in ids)
        {
            var (from, to) = TableSegments.Range(TableSegments.Of(id, 4), 4);
            Assert.True(string.CompareOrdinal(id, from) >= 0 && (to is null || string.CompareOrdinal(id, to) < 0), id);
        }
    }
}
