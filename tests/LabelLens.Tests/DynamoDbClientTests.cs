using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// Code that reads the tutorials' DynamoDB results table, pointed at `labellens serve` (a real child process)
/// by its endpoint URL only, after the photos were labeled through S3: Debian's boto3 (the resource API:
/// Table.get_item, query on the Label index with Key conditions, the scan paginator, Decimal numbers) and
/// Debian's `aws dynamodb`. The clients are required, never skipped (.ci/run installs awscli and python3-boto3).
/// </summary>
public sealed class DynamoDbClientTests(S3ClientServeFixture serve, ITestOutputHelper output) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private static readonly string[] Photos = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg"];

    private readonly string _work = Directory.CreateTempSubdirectory("labellens-dynamodb-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Endpoint => serve.Http.BaseAddress!.ToString().TrimEnd('/');

    [Fact]
    public async Task Boto3_reads_the_table_the_tutorial_way_after_an_S3_upload_with_only_the_endpoint_changed()
    {
        const string Script = """
            import json
            import os
            import sys
            import time
            from decimal import Decimal

            import boto3
            from boto3.dynamodb.conditions import Attr, Key
            from botocore.exceptions import ClientError

            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1")
            dynamodb = boto3.resource("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"], region_name="us-east-1")
            table = dynamodb.Table("ImageLabels")


            def labels_of(image_id):
                # The tutorial's read: the item by the object key, its labels.
                return table.get_item(Key={"ImageId": image_id})["Item"]


            def wait_labeled(image_id):
                deadline = time.time() + 90
                while time.time() < deadline:
                    item = table.get_item(Key={"ImageId": image_id}).get("Item")
                    if item and item["Status"] in ("labeled", "failed"):
                        return item
                    time.sleep(0.5)
                raise SystemExit(image_id + " was not labeled in 90 s")


            def error_code(call):
                try:
                    call()
                except ClientError as error:
                    return error.response["Error"]["Code"]
                return None


            bucket, folder = sys.argv[1], sys.argv[2]
            photos = sys.argv[3:]
            s3.create_bucket(Bucket=bucket)
            for photo in photos:
                s3.upload_file(os.path.join(folder, photo), bucket, photo)
            items = {photo: wait_labeled(photo) for photo in photos}

            dog = labels_of("dog.jpg")
            dogs = table.query(IndexName="Label", KeyConditionExpression=Key("Label").eq("Dog"), ScanIndexForward=False)
            animals = table.query(IndexName="Label", KeyConditionExpression=Key("Label").eq("Animal") & Key("Confidence").gte(Decimal("80")))
            pages = list(dynamodb.meta.client.get_paginator("scan").paginate(TableName="ImageLabels", PaginationConfig={"PageSize": 2}))
            # The documentation's own loop: scan with a filter until there is no LastEvaluatedKey.
            with_dog, arguments = [], {"FilterExpression": Attr("LabelNames").contains("Dog") & Attr("Bucket").eq(bucket), "Limit": 3}
            while True:
                response = table.scan(**arguments)
                with_dog += [item["ImageId"] for item in response["Items"]]
                if "LastEvaluatedKey" not in response:
                    break
                arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            wrong_secret = boto3.resource("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"], region_name="us-east-1",
                                          aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret")

            print(json.dumps({
                "status": {photo: item["Status"] for photo, item in items.items()},
                "dog": {
                    "bucket": dog["Bucket"], "key": dog["Key"], "modelVersion": dog["ModelVersion"],
                    "labels": [label["Name"] for label in dog["Labels"]],
                    "confidence": str(next(label["Confidence"] for label in dog["Labels"] if label["Name"] == "Dog")),
                    "numberTypes": sorted({type(label["Confidence"]).__name__ for label in dog["Labels"]}
                                          | {type(i["BoundingBox"]["Left"]).__name__ for label in dog["Labels"] for i in label["Instances"]}),
                    "labelNames": type(dog["LabelNames"]).__name__,
                },
                "dogs": [[item["ImageId"], str(item["Confidence"])] for item in dogs["Items"]],
                "animals": [[item["ImageId"], str(item["Confidence"])] for item in animals["Items"]],
                "pages": len(pages),
                "scanned": [item["ImageId"] for page in pages for item in page["Items"]],
                "withDog": with_dog,
                "errors": {
                    "putItem": error_code(lambda: table.put_item(Item={"ImageId": "mine.jpg", "Labels": []})),
                    "missingTable": error_code(lambda: dynamodb.Table("NoSuchTable").get_item(Key={"ImageId": "dog.jpg"})),
                    "badFilter": error_code(lambda: table.scan(FilterExpression="Status = = :s", ExpressionAttributeValues={":s": "labeled"})),
                    "badKey": error_code(lambda: table.get_item(Key={"Id": "dog.jpg"})),
                    "wrongSecret": error_code(lambda: wrong_secret.Table("ImageLabels").get_item(Key={"ImageId": "dog.jpg"})),
                },
            }))
            """;
        var environment = new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint, ["DYNAMODB_ENDPOINT"] = Endpoint };
        var stdout = await Boto3.RunAsync(_work, Script, environment, serve.LogTail, ["tutorial", TestData.ImagesFolder, .. Photos]);
        output.WriteLine(stdout);
        var result = JsonDocument.Parse(stdout).RootElement;

        Assert.All(Photos, p => Assert.Equal("labeled", result.GetProperty("status").GetProperty(p).GetString()));
        var dog = result.GetProperty("dog");
        Assert.Equal(("tutorial", "dog.jpg"), (dog.GetProperty("bucket").GetString(), dog.GetProperty("key").GetString()));
        Assert.StartsWith("yolox-nano:", dog.GetProperty("modelVersion").GetString(), StringComparison.Ordinal);
        Assert.Contains("Dog", dog.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["Decimal"], dog.GetProperty("numberTypes").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal("set", dog.GetProperty("labelNames").GetString());
        var image = await serve.WaitForLabeledAsync("tutorial", "dog.jpg");
        Assert.Equal(ServerFixture.Label(image, "Dog").GetProperty("confidence").GetDouble(), double.Parse(dog.GetProperty("confidence").GetString()!, CultureInfo.InvariantCulture));

        // "Every image with a Dog" is a Query on the index, best first; the filtered scan finds the same images.
        var dogs = result.GetProperty("dogs").EnumerateArray().Select(d => (Id: d[0].GetString()!, Confidence: decimal.Parse(d[1].GetString()!, CultureInfo.InvariantCulture))).ToList();
        Assert.Contains("dog.jpg", dogs.Select(d => d.Id));
        Assert.Equal(dogs.Select(d => d.Confidence).OrderDescending(), dogs.Select(d => d.Confidence));
        Assert.Equal(dogs.Select(d => d.Id).Where(Photos.Contains).Order(), result.GetProperty("withDog").EnumerateArray().Select(i => i.GetString()!).Order());
        var animals = result.GetProperty("animals").EnumerateArray().ToList();
        Assert.Contains(animals, a => a[0].GetString() == "giraffe.jpg");
        Assert.All(animals, a => Assert.True(decimal.Parse(a[1].GetString()!, CultureInfo.InvariantCulture) >= 80));

        // The paginator followed LastEvaluatedKey over more than one page, and saw every item once.
        var scanned = result.GetProperty("scanned").EnumerateArray().Select(i => i.GetString()!).ToList();
        Assert.True(result.GetProperty("pages").GetInt32() >= 4, result.GetProperty("pages").ToString());
        Assert.Equal(scanned.Count, scanned.Distinct().Count());
        Assert.Superset(Photos.ToHashSet(), scanned.ToHashSet());

        var errors = result.GetProperty("errors");
        Assert.Equal("AccessDeniedException", errors.GetProperty("putItem").GetString());
        Assert.Equal("ResourceNotFoundException", errors.GetProperty("missingTable").GetString());
        Assert.Equal("ValidationException", errors.GetProperty("badFilter").GetString());
        Assert.Equal("ValidationException", errors.GetProperty("badKey").GetString());
        Assert.Equal("InvalidSignatureException", errors.GetProperty("wrongSecret").GetString());
    }

    [Fact]
    public async Task Aws_cli_dynamodb_get_item_query_scan_list_and_describe_after_aws_s3_cp()
    {
        var s3 = await CliTool.AwsAsync(serve.S3Endpoint, _work, output, serve);
        await s3.RunAsync("s3", "mb", "s3://cli-photos");
        foreach (var photo in new[] { "dog.jpg", "eagle.jpg", "giraffe.jpg" })
        {
            await s3.RunAsync("s3", "cp", TestData.Image(photo), $"s3://cli-photos/cli/{photo}", "--no-progress");
            await serve.WaitForLabeledAsync("cli-photos", $"cli/{photo}");
        }

        var aws = await CliTool.AwsAsync(Endpoint, _work, output, serve);
        async Task<JsonElement> JsonAsync(params string[] args) => JsonDocument.Parse(await aws.RunAsync(["dynamodb", .. args, "--output", "json"])).RootElement;

        Assert.Equal(["ImageLabels"], (await JsonAsync("list-tables")).GetProperty("TableNames").EnumerateArray().Select(n => n.GetString()!).ToArray());
        var table = (await JsonAsync("describe-table", "--table-name", "ImageLabels")).GetProperty("Table");
        Assert.Equal("ImageId", table.GetProperty("KeySchema")[0].GetProperty("AttributeName").GetString());
        Assert.Equal("Label", table.GetProperty("GlobalSecondaryIndexes")[0].GetProperty("IndexName").GetString());
        Assert.True(table.GetProperty("ItemCount").GetInt64() >= 3);

        var item = (await JsonAsync("get-item", "--table-name", "ImageLabels", "--key", """{"ImageId": {"S": "cli/dog.jpg"}}""")).GetProperty("Item");
        Assert.Equal("cli-photos", item.GetProperty("Bucket").GetProperty("S").GetString());
        var dog = item.GetProperty("Labels").GetProperty("L").EnumerateArray().Select(l => l.GetProperty("M")).Single(l => l.GetProperty("Name").GetProperty("S").GetString() == "Dog");
        Assert.InRange(double.Parse(dog.GetProperty("Confidence").GetProperty("N").GetString()!, CultureInfo.InvariantCulture), 55, 100);

        var giraffes = await JsonAsync("query", "--table-name", "ImageLabels", "--index-name", "Label", "--key-condition-expression", "Label = :l",
            "--expression-attribute-values", """{":l": {"S": "Giraffe"}}""", "--no-scan-index-forward", "--projection-expression", "ImageId, Confidence");
        Assert.Contains("cli/giraffe.jpg", giraffes.GetProperty("Items").EnumerateArray().Select(i => i.GetProperty("ImageId").GetProperty("S").GetString()));

        // The CLI pages by itself (one item a request here) and merges the pages; --max-items hands out its own token.
        var scan = await JsonAsync("scan", "--table-name", "ImageLabels", "--page-size", "1", "--filter-expression", "Bucket = :b", "--expression-attribute-values", """{":b": {"S": "cli-photos"}}""");
        Assert.Equal(["cli/dog.jpg", "cli/eagle.jpg", "cli/giraffe.jpg"], scan.GetProperty("Items").EnumerateArray().Select(i => i.GetProperty("ImageId").GetProperty("S").GetString()!).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(3, scan.GetProperty("Count").GetInt32());
        Assert.Equal(table.GetProperty("ItemCount").GetInt64(), scan.GetProperty("ScannedCount").GetInt64());
        var first = await JsonAsync("scan", "--table-name", "ImageLabels", "--max-items", "1", "--projection-expression", "ImageId");
        var rest = await JsonAsync("scan", "--table-name", "ImageLabels", "--projection-expression", "ImageId", "--starting-token", first.GetProperty("NextToken").GetString()!);
        var ids = first.GetProperty("Items").EnumerateArray().Concat(rest.GetProperty("Items").EnumerateArray()).Select(i => i.GetProperty("ImageId").GetProperty("S").GetString()).ToList();
        Assert.Equal(table.GetProperty("ItemCount").GetInt64(), ids.Distinct().Count());

        // Errors as the CLI shows them (exit 254: the service said no).
        Assert.Contains("ResourceNotFoundException", await aws.RunForErrorAsync(254, "dynamodb", "get-item", "--table-name", "Photos", "--key", """{"ImageId": {"S": "cli/dog.jpg"}}"""), StringComparison.Ordinal);
        var put = await aws.RunForErrorAsync(254, "dynamodb", "put-item", "--table-name", "ImageLabels", "--item", """{"ImageId": {"S": "mine.jpg"}}""");
        Assert.Contains("AccessDeniedException", put, StringComparison.Ordinal);
        Assert.Contains("read-only", put, StringComparison.Ordinal);
        Assert.Contains("ValidationException", await aws.RunForErrorAsync(254, "dynamodb", "query", "--table-name", "ImageLabels", "--index-name", "Label", "--key-condition-expression", "Label = :l OR Label = :l", "--expression-attribute-values", """{":l": {"S": "Dog"}}"""), StringComparison.Ordinal);
    }
}
