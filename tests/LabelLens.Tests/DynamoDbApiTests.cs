using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LabelLens.Tests;

/// <summary>
/// The DynamoDB-compatible results table on the AWS JSON 1.0 protocol (POST / on the API port, X-Amz-Target
/// DynamoDB_20120810.*), signed with SigV4 for service "dynamodb" with the S3 endpoint's keys, over real HTTP
/// against a real in-process `serve` that labels the shared photos: items, the ImageId rule, the Label index,
/// paging, segments, and every error with DynamoDB's __type.
/// </summary>
public sealed class DynamoDbApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private const string Table = "ImageLabels";

    private sealed record Reply(HttpStatusCode Status, JsonObject Body, string Raw, HttpResponseMessage Response);

    private async Task<Reply> CallAsync(
        string operation,
        object request,
        string secretKey = S3ServerFixture.SecretKey,
        string accessKey = S3ServerFixture.AccessKey,
        bool sign = true,
        string service = "dynamodb",
        string contentType = "application/x-amz-json-1.0")
    {
        var body = request is string text ? Encoding.UTF8.GetBytes(text) : JsonSerializer.SerializeToUtf8Bytes(request);
        var headers = new Dictionary<string, string> { ["content-type"] = contentType, ["x-amz-target"] = "DynamoDB_20120810." + operation };
        var request1 = sign
            ? S3TestSigner.Request(fixture.Server.Client.BaseAddress!, HttpMethod.Post, "/", body, accessKey, secretKey, headers: headers, service: service)
            : new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Server.Client.BaseAddress!, "/")) { Content = new ByteArrayContent(body) };
        if (!sign)
        {
            request1.Content!.Headers.TryAddWithoutValidation("Content-Type", contentType);
            request1.Headers.TryAddWithoutValidation("X-Amz-Target", "DynamoDB_20120810." + operation);
        }

        using (request1)
        {
            var response = await fixture.Http.SendAsync(request1);
            var raw = await response.Content.ReadAsByteArrayAsync();
            // Every answer, errors too, carries DynamoDB's content type and the CRC32 its clients check.
            Assert.Equal("application/x-amz-json-1.0", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(System.IO.Hashing.Crc32.Hash(raw)).ToString(CultureInfo.InvariantCulture), response.Headers.GetValues("x-amz-crc32").Single());
            Assert.NotEmpty(response.Headers.GetValues("x-amzn-RequestId").Single());
            var json = Encoding.UTF8.GetString(raw);
            return new Reply(response.StatusCode, JsonNode.Parse(json)!.AsObject(), json, response);
        }
    }

    private async Task<JsonObject> OkAsync(string operation, object request)
    {
        var reply = await CallAsync(operation, request);
        reply.Response.Dispose();
        Assert.True(reply.Status == HttpStatusCode.OK, $"{operation}: {(int)reply.Status} {reply.Raw}");
        return reply.Body;
    }

    private async Task<string> ErrorAsync(string operation, object request, string type, string? messagePart = null, string secretKey = S3ServerFixture.SecretKey, string accessKey = S3ServerFixture.AccessKey, bool sign = true, string service = "dynamodb", string contentType = "application/x-amz-json-1.0")
    {
        var reply = await CallAsync(operation, request, secretKey, accessKey, sign, service, contentType);
        reply.Response.Dispose();
        Assert.True(reply.Status == HttpStatusCode.BadRequest, $"{operation}: {(int)reply.Status} {reply.Raw}");
        Assert.Equal(type, reply.Body["__type"]!.GetValue<string>());
        var message = reply.Body["message"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(message));
        if (messagePart is not null)
        {
            Assert.Contains(messagePart, message, StringComparison.OrdinalIgnoreCase);
        }

        return message;
    }

    private async Task<string> LabeledAsync(string bucket, string key, string photo)
    {
        var uploaded = await fixture.Server.UploadAsync(bucket, key, TestData.ImageBytes(photo));
        var id = uploaded.GetProperty("imageId").GetString()!;
        var image = await fixture.Server.WaitForImageAsync(id, TimeSpan.FromSeconds(120));
        Assert.Equal("labeled", image.GetProperty("image").GetProperty("status").GetString());
        return id;
    }

    private static object Key(string imageId) => new { ImageId = new { S = imageId } };

    private static string S(JsonNode? value) => value!["S"]!.GetValue<string>();

    private static double N(JsonNode? value) => double.Parse(value!["N"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static JsonObject LabelOf(JsonObject item, string name) => item["Labels"]!["L"]!.AsArray().Single(l => S(l!["M"]!["Name"]) == name)!["M"]!.AsObject();

    /// <summary>Every item of the table, through Scan pages of <paramref name="limit"/>; the pages must chain.</summary>
    private async Task<List<JsonObject>> ScanAllAsync(int limit, object? extra = null, int? segment = null, int? totalSegments = null)
    {
        var items = new List<JsonObject>();
        JsonNode? start = null;
        do
        {
            var request = new JsonObject { ["TableName"] = Table, ["Limit"] = limit };
            if (segment is not null)
            {
                request["Segment"] = segment;
                request["TotalSegments"] = totalSegments;
            }

            if (start is not null)
            {
                request["ExclusiveStartKey"] = start.DeepClone();
            }

            foreach (var (name, value) in extra is null ? [] : JsonSerializer.SerializeToNode(extra)!.AsObject())
            {
                request[name] = value!.DeepClone();
            }

            var page = await OkAsync("Scan", request.ToJsonString());
            Assert.InRange(page["ScannedCount"]!.GetValue<int>(), 0, limit);
            items.AddRange(page["Items"]!.AsArray().Select(i => i!.AsObject()));
            start = page["LastEvaluatedKey"];
        }
        while (start is not null);
        return items;
    }

    [Fact]
    public async Task An_item_is_the_catalog_row_with_labels_in_Rekognition_shape_as_DynamoDB_values()
    {
        var id = await LabeledAsync("dyn-items", "pets/dog.jpg", "dog.jpg");
        var image = await fixture.Server.GetJsonAsync($"/api/v1/images/{id}");

        var item = (await OkAsync("GetItem", new { TableName = Table, Key = Key("pets/dog.jpg") }))["Item"]!.AsObject();
        // The face analysis runs by default: the dog photo has none (an empty list, a count of 0, no shot size).
        Assert.Equal(["ImageId", "Bucket", "Key", "MediaType", "Status", "ModelVersion", "CreatedAt", "LabeledAt", "Labels", "LabelNames", "Faces", "FaceCount"], item.Select(p => p.Key).ToArray());
        Assert.Empty(item["Faces"]!["L"]!.AsArray());
        Assert.Equal("0", item["FaceCount"]!["N"]!.GetValue<string>());
        Assert.Equal(("pets/dog.jpg", "dyn-items", "pets/dog.jpg", "image", "labeled"), (S(item["ImageId"]), S(item["Bucket"]), S(item["Key"]), S(item["MediaType"]), S(item["Status"])));
        Assert.Equal(image.GetProperty("image").GetProperty("modelVersion").GetString(), S(item["ModelVersion"]));
        Assert.Equal(image.GetProperty("image").GetProperty("createdAt").GetDateTimeOffset(), DateTimeOffset.Parse(S(item["CreatedAt"]), CultureInfo.InvariantCulture), TimeSpan.FromMilliseconds(1));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", S(item["LabeledAt"]));

        // Labels: Rekognition's members, highest confidence first, numbers as DynamoDB numbers (strings) with the catalog's values.
        var labels = item["Labels"]!["L"]!.AsArray().Select(l => l!["M"]!.AsObject()).ToList();
        Assert.Equal(ServerFixture.LabelNames(image), labels.Select(l => S(l["Name"])).ToList());
        Assert.Equal(labels.Select(l => N(l["Confidence"])).OrderDescending(), labels.Select(l => N(l["Confidence"])));
        var dog = LabelOf(item, "Dog");
        Assert.Equal(["Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"], dog.Select(p => p.Key).ToArray());
        Assert.Equal(ServerFixture.Label(image, "Dog").GetProperty("confidence").GetDouble(), N(dog["Confidence"]));
        var instance = Assert.Single(dog["Instances"]!["L"]!.AsArray())!["M"]!.AsObject();
        Assert.Equal(["Width", "Height", "Left", "Top"], instance["BoundingBox"]!["M"]!.AsObject().Select(p => p.Key).ToArray());
        Assert.InRange(N(instance["BoundingBox"]!["M"]!["Left"]), 0.1, 0.3);
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], dog["Parents"]!["L"]!.AsArray().Select(p => S(p!["M"]!["Name"])).ToArray());
        Assert.Equal("Animals and Pets", S(dog["Categories"]!["L"]![0]!["M"]!["Name"]));
        Assert.Equal(labels.Select(l => S(l["Name"])).Order(), item["LabelNames"]!["SS"]!.AsArray().Select(n => n!.GetValue<string>()).Order());

        // The s3://bucket/key form reaches the same item; a missing key is an empty answer; projections nest.
        Assert.Equal(item.ToJsonString(), (await OkAsync("GetItem", new { TableName = Table, Key = Key("s3://dyn-items/pets/dog.jpg") }))["Item"]!.ToJsonString());
        Assert.Empty(await OkAsync("GetItem", new { TableName = Table, Key = Key("pets/no-such.jpg") }));
        Assert.Empty(await OkAsync("GetItem", new { TableName = Table, Key = Key("s3://no-such-bucket/pets/dog.jpg") }));
        var projected = (await OkAsync("GetItem", new
        {
            TableName = Table,
            Key = Key("pets/dog.jpg"),
            ProjectionExpression = "#k, Labels[0].#n, Labels[0].Confidence",
            ExpressionAttributeNames = new Dictionary<string, string> { ["#k"] = "Key", ["#n"] = "Name" },
        }))["Item"]!;
        var first = new JsonObject { ["Name"] = labels[0]["Name"]!.DeepClone(), ["Confidence"] = labels[0]["Confidence"]!.DeepClone() };
        Assert.Equal("""{"Key":{"S":"pets/dog.jpg"},"Labels":{"L":[{"M":""" + first.ToJsonString() + "}]}}", projected.ToJsonString());
        var legacy = (await OkAsync("GetItem", new { TableName = Table, Key = Key("pets/dog.jpg"), AttributesToGet = new[] { "Status", "Bucket" }, ConsistentRead = true }))["Item"]!;
        Assert.Equal("""{"Status":{"S":"labeled"},"Bucket":{"S":"dyn-items"}}""", legacy.ToJsonString());
    }

    [Fact]
    public async Task A_key_in_two_buckets_is_the_first_cataloged_and_the_other_is_s3_bucket_key()
    {
        await LabeledAsync("dyn-first", "twin.jpg", "dog.jpg");
        await LabeledAsync("dyn-second", "twin.jpg", "eagle.jpg");

        var bare = (await OkAsync("GetItem", new { TableName = Table, Key = Key("twin.jpg") }))["Item"]!;
        Assert.Equal(("twin.jpg", "dyn-first"), (S(bare["ImageId"]), S(bare["Bucket"])));
        var other = (await OkAsync("GetItem", new { TableName = Table, Key = Key("s3://dyn-second/twin.jpg") }))["Item"]!;
        Assert.Equal(("s3://dyn-second/twin.jpg", "dyn-second", "twin.jpg"), (S(other["ImageId"]), S(other["Bucket"]), S(other["Key"])));
        Assert.Contains(other["Labels"]!["L"]!.AsArray(), l => S(l!["M"]!["Name"]) == "Bird");

        var batch = await OkAsync("BatchGetItem", new
        {
            RequestItems = new Dictionary<string, object>
            {
                [Table] = new { Keys = new[] { Key("twin.jpg"), Key("s3://dyn-second/twin.jpg"), Key("none.jpg") }, ProjectionExpression = "ImageId, Bucket" },
            },
        });
        Assert.Empty(batch["UnprocessedKeys"]!.AsObject());
        Assert.Equal(
            ["""{"ImageId":{"S":"twin.jpg"},"Bucket":{"S":"dyn-first"}}""", """{"ImageId":{"S":"s3://dyn-second/twin.jpg"},"Bucket":{"S":"dyn-second"}}"""],
            batch["Responses"]![Table]!.AsArray().Select(i => i!.ToJsonString()).ToArray());

        // Every item once, each under its own ImageId.
        var twins = await ScanAllAsync(50, new { FilterExpression = "#k = :k", ExpressionAttributeNames = new Dictionary<string, string> { ["#k"] = "Key" }, ExpressionAttributeValues = new Dictionary<string, object> { [":k"] = new { S = "twin.jpg" } } });
        Assert.Equal(["s3://dyn-second/twin.jpg", "twin.jpg"], twins.Select(i => S(i["ImageId"])).Order(StringComparer.Ordinal).ToArray());

        // The owner goes: the other object answers to the bare key.
        using (var deleted = await fixture.Server.Client.DeleteAsync("/api/v1/buckets/dyn-first/objects/twin.jpg"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var now = (await OkAsync("GetItem", new { TableName = Table, Key = Key("twin.jpg") }))["Item"]!;
        Assert.Equal(("twin.jpg", "dyn-second"), (S(now["ImageId"]), S(now["Bucket"])));
    }

    [Fact]
    public async Task The_Label_index_is_a_Query_by_confidence_in_both_directions_with_paging_ranges_and_filters()
    {
        foreach (var photo in new[] { "dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "person.jpg" })
        {
            await LabeledAsync("dyn-index", photo, photo);
        }

        async Task<(List<JsonObject> Items, int Pages)> QueryAllAsync(bool forward, int limit, string keyCondition = "Label = :l", Dictionary<string, object>? values = null, string? filter = null)
        {
            var items = new List<JsonObject>();
            var pages = 0;
            JsonNode? start = null;
            do
            {
                var request = new JsonObject
                {
                    ["TableName"] = Table,
                    ["IndexName"] = "Label",
                    ["KeyConditionExpression"] = keyCondition,
                    ["ExpressionAttributeValues"] = JsonSerializer.SerializeToNode(values ?? new Dictionary<string, object> { [":l"] = new { S = "Animal" }, [":b"] = new { S = "dyn-index" } }),
                    ["FilterExpression"] = filter ?? "Bucket = :b",
                    ["ScanIndexForward"] = forward,
                    ["Limit"] = limit,
                };
                if (start is not null)
                {
                    request["ExclusiveStartKey"] = start.DeepClone();
                }

                var page = await OkAsync("Query", request.ToJsonString());
                pages++;
                items.AddRange(page["Items"]!.AsArray().Select(i => i!.AsObject()));
                start = page["LastEvaluatedKey"];
                if (start is not null)
                {
                    Assert.Equal(["ImageId", "Label", "Confidence"], start.AsObject().Select(p => p.Key).ToArray());
                    Assert.StartsWith("s3://", S(start["ImageId"]), StringComparison.Ordinal);
                }
            }
            while (start is not null);
            return (items, pages);
        }

        // Every image with an Animal: each entry is the whole item plus the index's keys, best first.
        var (best, pages) = await QueryAllAsync(forward: false, limit: 2);
        Assert.True(pages > 2, $"{pages} pages");
        Assert.Equal(["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"], best.Select(i => S(i["ImageId"])).Where(k => k != "person.jpg").Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(best.Select(i => N(i["Confidence"])).OrderDescending(), best.Select(i => N(i["Confidence"])));
        Assert.All(best, i => Assert.Equal(N(LabelOf(i, "Animal")["Confidence"]), N(i["Confidence"])));
        Assert.All(best, i => Assert.Equal("Animal", S(i["Label"])));
        var (worst, _) = await QueryAllAsync(forward: true, limit: 3);
        Assert.Equal(best.Select(i => S(i["ImageId"])).Reverse(), worst.Select(i => S(i["ImageId"])));

        // A range on the sort key, and a filter on another attribute.
        var threshold = N(best[1]["Confidence"]);
        var values = new Dictionary<string, object> { [":l"] = new { S = "Animal" }, [":c"] = new { N = threshold.ToString("R", CultureInfo.InvariantCulture) }, [":b"] = new { S = "dyn-index" } };
        var (top, _) = await QueryAllAsync(forward: false, limit: 10, "Label = :l AND Confidence >= :c", values);
        Assert.Equal(best.Take(2).Select(i => S(i["ImageId"])), top.Select(i => S(i["ImageId"])));
        var (birds, _) = await QueryAllAsync(forward: false, limit: 10, "Label = :l AND Confidence BETWEEN :lo AND :hi", new Dictionary<string, object> { [":l"] = new { S = "Bird" }, [":lo"] = new { N = "0" }, [":hi"] = new { N = "100" }, [":b"] = new { S = "dyn-index" } });
        Assert.Equal(["eagle.jpg"], birds.Select(i => S(i["ImageId"])).ToArray());

        // Names are exact (DynamoDB keys are case-sensitive); Select COUNT counts without items; projections apply to index items.
        var lower = await OkAsync("Query", new { TableName = Table, IndexName = "Label", KeyConditionExpression = "Label = :l", ExpressionAttributeValues = new Dictionary<string, object> { [":l"] = new { S = "animal" } } });
        Assert.Equal(0, lower["Count"]!.GetValue<int>());
        var count = await OkAsync("Query", new { TableName = Table, IndexName = "Label", KeyConditionExpression = "Label = :l", FilterExpression = "Bucket = :b", Select = "COUNT", ExpressionAttributeValues = new Dictionary<string, object> { [":l"] = new { S = "Animal" }, [":b"] = new { S = "dyn-index" } } });
        Assert.Null(count["Items"]);
        Assert.Equal(best.Count, count["Count"]!.GetValue<int>());
        Assert.True(count["ScannedCount"]!.GetValue<int>() >= best.Count);
        var keysOnly = await OkAsync("Query", new { TableName = Table, IndexName = "Label", KeyConditionExpression = "Label = :l", ProjectionExpression = "ImageId, Confidence", ScanIndexForward = false, Limit = 1, ExpressionAttributeValues = new Dictionary<string, object> { [":l"] = new { S = "Giraffe" } } });
        Assert.Equal(["ImageId", "Confidence"], keysOnly["Items"]![0]!.AsObject().Select(p => p.Key).ToArray());

        // The table itself: a Query by ImageId is one item.
        var one = await OkAsync("Query", new { TableName = Table, KeyConditionExpression = "ImageId = :id", ExpressionAttributeValues = new Dictionary<string, object> { [":id"] = new { S = "s3://dyn-index/horses.jpg" } } });
        Assert.Equal((1, 1, "dyn-index"), (one["Count"]!.GetValue<int>(), one["ScannedCount"]!.GetValue<int>(), S(one["Items"]![0]!["Bucket"])));
    }

    [Fact]
    public async Task Scan_pages_chain_segments_split_the_table_and_filters_count_after_reading()
    {
        foreach (var photo in new[] { "dog.jpg", "kite.jpg", "scream.jpg" })
        {
            await LabeledAsync("dyn-scan", "scan/" + photo, photo);
        }

        var all = await ScanAllAsync(100);
        var paged = await ScanAllAsync(2);
        Assert.Equal(all.Select(i => S(i["ImageId"])), paged.Select(i => S(i["ImageId"])));
        Assert.Equal(all.Count, all.Select(i => S(i["ImageId"])).Distinct().Count());
        var described = await OkAsync("DescribeTable", new { TableName = Table });
        Assert.Equal(all.Count, described["Table"]!["ItemCount"]!.GetValue<long>());

        var segments = new List<List<string>>();
        for (var segment = 0; segment < 3; segment++)
        {
            segments.Add((await ScanAllAsync(1, segment: segment, totalSegments: 3)).Select(i => S(i["ImageId"])).ToList());
        }

        Assert.Equal(all.Select(i => S(i["ImageId"])).Order(StringComparer.Ordinal), segments.SelectMany(s => s).Order(StringComparer.Ordinal));
        var nonEmpty = segments.FindIndex(s => s.Count > 0);
        var other = (nonEmpty + 1) % 3;
        await ErrorAsync("Scan", new { TableName = Table, Segment = other, TotalSegments = 3, ExclusiveStartKey = Key(segments[nonEmpty][0]) }, "com.amazon.coral.validate#ValidationException", "does not map to the provided Segment");

        // Limit counts the items read, before the filter: a filtered page can be empty and still go on.
        var values = new Dictionary<string, object> { [":d"] = new { S = "Kite" }, [":b"] = new { S = "dyn-scan" } };
        var kites = await ScanAllAsync(1, new { FilterExpression = "contains(LabelNames, :d) AND Bucket = :b", ExpressionAttributeValues = values });
        Assert.Equal(["scan/kite.jpg"], kites.Select(i => S(i["ImageId"])).ToArray());
        var counted = await OkAsync("Scan", new { TableName = Table, Select = "COUNT", FilterExpression = "Bucket = :b AND size(Labels) > :zero", ExpressionAttributeValues = new Dictionary<string, object> { [":b"] = new { S = "dyn-scan" }, [":zero"] = new { N = "0" } } });
        var withLabels = all.Count(i => S(i["Bucket"]) == "dyn-scan" && i["Labels"]!["L"]!.AsArray().Count > 0);
        Assert.InRange(withLabels, 2, 3); // scream.jpg (a painting) may have no label the models are sure of
        Assert.Equal((withLabels, all.Count), (counted["Count"]!.GetValue<int>(), counted["ScannedCount"]!.GetValue<int>()));
        Assert.Null(counted["Items"]);
    }

    [Fact]
    public async Task ListTables_and_DescribeTable_show_the_key_schema_and_the_Label_index()
    {
        Assert.Equal("""{"TableNames":["ImageLabels"]}""", (await OkAsync("ListTables", new { })).ToJsonString());
        Assert.Equal("""{"TableNames":[]}""", (await OkAsync("ListTables", new { ExclusiveStartTableName = Table, Limit = 10 })).ToJsonString());
        var table = (await OkAsync("DescribeTable", new { TableName = "arn:aws:dynamodb:us-east-1:000000000000:table/ImageLabels" }))["Table"]!;
        Assert.Equal(("ImageLabels", "ACTIVE", "arn:aws:dynamodb:us-east-1:000000000000:table/ImageLabels"), (table["TableName"]!.GetValue<string>(), table["TableStatus"]!.GetValue<string>(), table["TableArn"]!.GetValue<string>()));
        Assert.Equal("""[{"AttributeName":"ImageId","KeyType":"HASH"}]""", table["KeySchema"]!.ToJsonString());
        var index = Assert.Single(table["GlobalSecondaryIndexes"]!.AsArray())!;
        Assert.Equal("Label", index["IndexName"]!.GetValue<string>());
        Assert.Equal("""[{"AttributeName":"Label","KeyType":"HASH"},{"AttributeName":"Confidence","KeyType":"RANGE"}]""", index["KeySchema"]!.ToJsonString());
        Assert.Equal("ALL", index["Projection"]!["ProjectionType"]!.GetValue<string>());
        Assert.Contains(table["AttributeDefinitions"]!.AsArray(), d => d!.ToJsonString() == """{"AttributeName":"Confidence","AttributeType":"N"}""");
        Assert.True(table["CreationDateTime"]!.GetValue<double>() > 1.6e9);
        await ErrorAsync("DescribeTable", new { TableName = "Photos" }, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "Table: Photos not found");
    }

    [Fact]
    public async Task A_video_item_carries_its_segments_and_the_index_finds_the_video()
    {
        var uploaded = await fixture.Server.UploadAsync("dyn-media", "clips/shots.mp4", await VideoTestData.ThreeShotsMp4(), "application/octet-stream");
        var details = await fixture.Server.WaitForImageAsync(uploaded.GetProperty("imageId").GetString()!, TimeSpan.FromMinutes(3));
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());

        var item = (await OkAsync("GetItem", new { TableName = Table, Key = Key("clips/shots.mp4") }))["Item"]!.AsObject();
        Assert.Equal("video", S(item["MediaType"]));
        var segments = item["Segments"]!["L"]!.AsArray().Select(s => s!["M"]!.AsObject()).ToList();
        Assert.Equal(["StartTimestampMillis", "EndTimestampMillis", "DurationMillis", "Label"], segments[0].Select(p => p.Key).ToArray());
        Assert.Equal(segments.Select(s => N(s["StartTimestampMillis"])).Order(), segments.Select(s => N(s["StartTimestampMillis"])));
        var dog = segments.First(s => S(s["Label"]!["M"]!["Name"]) == "Dog");
        var bird = segments.First(s => S(s["Label"]!["M"]!["Name"]) == "Bird");
        Assert.Equal(0, N(dog["StartTimestampMillis"]));
        Assert.InRange(N(bird["StartTimestampMillis"]), 2500, 3500);
        Assert.Equal(N(dog["EndTimestampMillis"]) - N(dog["StartTimestampMillis"]), N(dog["DurationMillis"]));

        var giraffes = await OkAsync("Query", new { TableName = Table, IndexName = "Label", KeyConditionExpression = "Label = :l", FilterExpression = "MediaType = :v", ExpressionAttributeValues = new Dictionary<string, object> { [":l"] = new { S = "Giraffe" }, [":v"] = new { S = "video" } } });
        Assert.Equal(["clips/shots.mp4"], giraffes["Items"]!.AsArray().Select(i => S(i!["ImageId"])).ToArray());
    }

    [Fact]
    public async Task Signatures_tables_expressions_keys_and_writes_get_DynamoDB_errors()
    {
        const string Validation = "com.amazon.coral.validate#ValidationException";
        var get = new { TableName = Table, Key = Key("dog.jpg") };

        // Signatures: the wrong secret, an unknown key, none, another service's signing name (what DynamoDB clients hit before).
        await ErrorAsync("GetItem", get, "com.amazon.coral.service#InvalidSignatureException", "signature", secretKey: "not-the-secret");
        await ErrorAsync("GetItem", get, "com.amazon.coral.service#UnrecognizedClientException", "security token", accessKey: "AKIDUNKNOWN0000000000");
        await ErrorAsync("GetItem", get, "com.amazon.coral.service#AccessDeniedException", sign: false);
        await ErrorAsync("GetItem", get, "com.amazon.coral.service#IncompleteSignatureException", "dynamodb", service: "rekognition");

        // Tables, operations, bodies.
        await ErrorAsync("GetItem", new { TableName = "Photos", Key = Key("dog.jpg") }, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "Requested resource not found");
        await ErrorAsync("Scan", new { TableName = "x" }, Validation, "tableName");
        await ErrorAsync("Scan", new { }, Validation, "tableName");
        await ErrorAsync("DescribeLimits", new { }, "com.amazon.coral.service#UnknownOperationException", "GetItem");
        await ErrorAsync("ExecuteStatement", new { Statement = "SELECT * FROM ImageLabels" }, "com.amazon.coral.service#UnknownOperationException");
        await ErrorAsync("Scan", "{not json", "com.amazon.coral.service#SerializationException");
        await ErrorAsync("Scan", "[]", "com.amazon.coral.service#SerializationException");
        await ErrorAsync("Scan", new { TableName = Table, Limit = "ten" }, "com.amazon.coral.service#SerializationException", "Limit");
        await ErrorAsync("Scan", new { TableName = Table }, "com.amazon.coral.service#SerializationException", "Content-Type", contentType: "text/plain");

        // Keys.
        await ErrorAsync("GetItem", new { TableName = Table, Key = new { Id = new { S = "dog.jpg" } } }, Validation, "does not match the schema");
        await ErrorAsync("GetItem", new { TableName = Table, Key = new { ImageId = new { N = "1" } } }, Validation, "does not match the schema");
        await ErrorAsync("GetItem", new { TableName = Table, Key = new { ImageId = new { S = "" } } }, Validation, "empty string");
        await ErrorAsync("GetItem", new { TableName = Table }, Validation, "key");
        await ErrorAsync("BatchGetItem", new { RequestItems = new Dictionary<string, object> { [Table] = new { Keys = new[] { Key("a"), Key("a") } } } }, Validation, "duplicates");
        await ErrorAsync("BatchGetItem", new { RequestItems = new Dictionary<string, object> { [Table] = new { Keys = Enumerable.Range(0, 101).Select(i => Key($"k{i}")).ToArray() } } }, Validation, "Too many items");
        await ErrorAsync("BatchGetItem", new { RequestItems = new Dictionary<string, object> { ["Other"] = new { Keys = new[] { Key("a") } } } }, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");

        // Expressions and query shapes.
        var label = new Dictionary<string, object> { [":l"] = new { S = "Dog" } };
        object Query(string keyCondition, object values, string? index = "Label", string? filter = null) => filter is null
            ? new { TableName = Table, IndexName = index, KeyConditionExpression = keyCondition, ExpressionAttributeValues = values }
            : new { TableName = Table, IndexName = index, KeyConditionExpression = keyCondition, ExpressionAttributeValues = values, FilterExpression = filter };
        await ErrorAsync("Query", new { TableName = Table, IndexName = "Label" }, Validation, "KeyConditionExpression");
        await ErrorAsync("Query", Query("Label = :l OR Label = :l", label), Validation, "OR");
        await ErrorAsync("Query", Query("Label = :l AND Label = :l", label), Validation, "one condition per key");
        await ErrorAsync("Query", Query("Confidence > :c", new Dictionary<string, object> { [":c"] = new { N = "1" } }), Validation, "missed key schema element: Label");
        await ErrorAsync("Query", Query("Label = :c", new Dictionary<string, object> { [":c"] = new { N = "1" } }), Validation, "type does not match");
        await ErrorAsync("Query", Query("Label = :l AND begins_with(Confidence, :c)", new Dictionary<string, object> { [":l"] = new { S = "Dog" }, [":c"] = new { N = "1" } }), Validation, "begins_with");
        await ErrorAsync("Query", Query("Label = :l", label, filter: "Confidence > :l"), Validation, "non-primary key attributes");
        await ErrorAsync("Query", Query("Label = :l", label, index: "Bucket"), Validation, "does not have the specified index");
        await ErrorAsync("Query", Query("Bucket = :l", label, index: null), Validation, "missed key schema element");
        await ErrorAsync("Query", Query("Label = :l", new Dictionary<string, object> { [":l"] = new { S = "Dog" }, [":x"] = new { S = "unused" } }), Validation, "unused in expressions: keys: {:x}");
        await ErrorAsync("Query", Query("Label = :m", label), Validation, "attribute value: :m");
        await ErrorAsync("Query", new { TableName = Table, IndexName = "Label", KeyConditionExpression = "Label = :l", ExpressionAttributeValues = label, ConsistentRead = true }, Validation, "global secondary indexes");
        await ErrorAsync("Query", new { TableName = Table, KeyConditions = new { } }, Validation, "legacy");
        await ErrorAsync("Scan", new { TableName = Table, FilterExpression = "Status = = :s", ExpressionAttributeValues = new Dictionary<string, object> { [":s"] = new { S = "labeled" } } }, Validation, "Syntax error");
        await ErrorAsync("Scan", new { TableName = Table, FilterExpression = "Status = :s", ExpressionAttributeValues = new Dictionary<string, object> { [":s"] = new { N = "NaN" } } }, Validation, "number");
        await ErrorAsync("Scan", new { TableName = Table, ExpressionAttributeValues = new Dictionary<string, object> { [":s"] = new { S = "x" } } }, Validation, "unused");
        await ErrorAsync("Scan", new { TableName = Table, ProjectionExpression = "Labels, Labels[0]" }, Validation, "overlap");
        await ErrorAsync("Scan", new { TableName = Table, Limit = 0 }, Validation, "greater than or equal to 1");
        await ErrorAsync("Scan", new { TableName = Table, Segment = 1 }, Validation, "TotalSegments");
        await ErrorAsync("Scan", new { TableName = Table, Segment = 2, TotalSegments = 2 }, Validation, "out of bounds");
        await ErrorAsync("Scan", new { TableName = Table, IndexName = "Label" }, Validation, "Query it");
        await ErrorAsync("Scan", new { TableName = Table, Select = "EVERYTHING" }, Validation, "enum value set");
        await ErrorAsync("Scan", new { TableName = Table, ExclusiveStartKey = Key("never-stored.jpg") }, Validation, "starting key");

        // Writes: the table is the pipeline's.
        foreach (var (operation, request) in new (string, object)[]
        {
            ("PutItem", new { TableName = Table, Item = Key("mine.jpg") }),
            ("UpdateItem", new { TableName = Table, Key = Key("dog.jpg"), UpdateExpression = "SET Reviewed = :t", ExpressionAttributeValues = new Dictionary<string, object> { [":t"] = new { BOOL = true } } }),
            ("DeleteItem", new { TableName = Table, Key = Key("dog.jpg") }),
            ("BatchWriteItem", new { RequestItems = new Dictionary<string, object> { [Table] = new[] { new { DeleteRequest = new { Key = Key("dog.jpg") } } } } }),
        })
        {
            await ErrorAsync(operation, request, "com.amazon.coral.service#AccessDeniedException", "read-only");
        }

        await ErrorAsync("CreateTable", new { TableName = "Mine" }, "com.amazon.coral.service#AccessDeniedException", "cannot be created");
        await ErrorAsync("DeleteTable", new { TableName = Table }, "com.amazon.coral.service#AccessDeniedException", "read-only");

        // The server keeps serving after all of that.
        Assert.Equal("""{"TableNames":["ImageLabels"]}""", (await OkAsync("ListTables", new { })).ToJsonString());
    }
}

/// <summary>DynamoDb:TableName renames the table; DynamoDb:Enabled=false leaves DynamoDB's targets to nothing but an unknown operation.</summary>
public sealed class DynamoDbOptionsTests
{
    private static async Task<JsonObject> PostAsync(ServerFixture server, string operation, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.0");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = content };
        request.Headers.Add("X-Amz-Target", "DynamoDB_20120810." + operation);
        using var response = await server.Client.SendAsync(request);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Fact]
    public async Task The_table_name_is_configurable_and_the_API_can_be_turned_off()
    {
        // No S3 keys and no API keys: unsigned requests are served, as for Rekognition.
        var renamed = new ServerFixture(new() { ["DynamoDb:TableName"] = "Photos-Results" });
        await renamed.InitializeAsync();
        try
        {
            Assert.Equal("""{"TableNames":["Photos-Results"]}""", (await PostAsync(renamed, "ListTables", new { })).ToJsonString());
            Assert.Equal("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", (await PostAsync(renamed, "Scan", new { TableName = "ImageLabels" }))["__type"]!.GetValue<string>());
            Assert.Equal(0, (await PostAsync(renamed, "Scan", new { TableName = "Photos-Results" }))["Count"]!.GetValue<int>());
        }
        finally
        {
            await renamed.DisposeAsync();
        }

        var off = new ServerFixture(new() { ["DynamoDb:Enabled"] = "false" });
        await off.InitializeAsync();
        try
        {
            // Rekognition's branch takes the request and knows no such operation.
            Assert.Equal("UnknownOperationException", (await PostAsync(off, "ListTables", new { }))["__type"]!.GetValue<string>());
        }
        finally
        {
            await off.DisposeAsync();
        }

        // A bad name stops the server at start, naming the setting.
        var data = Directory.CreateTempSubdirectory("labellens-dynamo-options-");
        try
        {
            var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => LabelLens.Server.LabelLensServer.Create(new Dictionary<string, string?>
            {
                ["Server:Port"] = "0",
                ["Server:S3Port"] = "-1",
                ["Server:DataFolder"] = data.FullName,
                ["Models:Folder"] = TestData.ModelsFolder,
                ["Models:AutoDownload"] = "false",
                ["DynamoDb:TableName"] = "no spaces allowed",
            }));
            Assert.Contains("DynamoDb:TableName", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }
}
