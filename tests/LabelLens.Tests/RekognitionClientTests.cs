using System.Text.Json;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// Code written for Amazon Rekognition, pointed at `labellens serve` (a real child process) by its endpoint URL
/// only: Debian's `aws rekognition detect-labels` and Debian's boto3 running the AWS tutorial's Lambda handler.
/// The clients are required, never skipped (.ci/run installs awscli and python3-boto3).
/// </summary>
public sealed class RekognitionClientTests(S3ClientServeFixture serve, ITestOutputHelper output) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-rekognition-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Api => serve.Http.BaseAddress!.ToString().TrimEnd('/');

    private static async Task<JsonElement> DetectAsync(CliTool aws, params string[] args) =>
        JsonDocument.Parse(await aws.RunAsync(["rekognition", "detect-labels", "--output", "json", .. args])).RootElement;

    private static List<string> Names(JsonElement response) =>
        response.GetProperty("Labels").EnumerateArray().Select(l => l.GetProperty("Name").GetString()!).ToList();

    [Fact]
    public async Task Aws_cli_detect_labels_with_image_bytes_returns_Dog_with_instances_and_parents()
    {
        var aws = await CliTool.AwsAsync(Api, _work, output, serve);
        var response = await DetectAsync(aws, "--image-bytes", $"fileb://{TestData.Image("dog.jpg")}");
        var dog = response.GetProperty("Labels").EnumerateArray().Single(l => l.GetProperty("Name").GetString() == "Dog");
        var box = Assert.Single(dog.GetProperty("Instances").EnumerateArray()).GetProperty("BoundingBox");
        Assert.InRange(box.GetProperty("Left").GetDouble() + (box.GetProperty("Width").GetDouble() / 2), 0.15, 0.45);
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], dog.GetProperty("Parents").EnumerateArray().Select(p => p.GetProperty("Name").GetString()!).ToArray());
        Assert.Contains("Bicycle", Names(response));
    }

    [Fact]
    public async Task Aws_cli_detect_labels_on_an_S3Object_after_aws_s3_cp()
    {
        var s3 = await CliTool.AwsAsync(serve.S3Endpoint, _work, output, serve);
        await s3.RunAsync("s3", "mb", "s3://rekognition-cli");
        await s3.RunAsync("s3", "cp", TestData.Image("giraffe.jpg"), "s3://rekognition-cli/zoo/giraffe.jpg", "--no-progress");
        var aws = await CliTool.AwsAsync(Api, _work, output, serve);
        var response = await DetectAsync(aws, "--image", """{"S3Object":{"Bucket":"rekognition-cli","Name":"zoo/giraffe.jpg"}}""", "--max-labels", "10", "--min-confidence", "60");
        var names = Names(response);
        Assert.Contains("Giraffe", names);
        Assert.True(names.Count <= 10);
        Assert.All(response.GetProperty("Labels").EnumerateArray(), l => Assert.True(l.GetProperty("Confidence").GetDouble() >= 60));

        var missing = await aws.RunAsync(254, "rekognition", "detect-labels", "--image", """{"S3Object":{"Bucket":"rekognition-cli","Name":"zoo/none.jpg"}}""");
        Assert.Empty(missing);
    }

    [Fact]
    public async Task Aws_cli_image_properties_are_plausible()
    {
        var aws = await CliTool.AwsAsync(Api, _work, output, serve);
        var original = TestData.ImageBytes("dog.jpg");
        var files = new Dictionary<string, byte[]>
        {
            ["red.jpg"] = ImagePropertiesTests.SolidJpeg(230, 10, 20),
            ["dog.jpg"] = original,
            ["blurred.jpg"] = ImagePropertiesTests.Blurred(original, 4),
            ["dark.jpg"] = ImagePropertiesTests.Darkened(original, 0.4),
        };
        var properties = new Dictionary<string, JsonElement>();
        foreach (var (name, bytes) in files)
        {
            var path = Path.Combine(_work, name);
            await File.WriteAllBytesAsync(path, bytes);
            var response = await DetectAsync(aws, "--image-bytes", $"fileb://{path}", "--features", "GENERAL_LABELS", "IMAGE_PROPERTIES");
            properties[name] = response.GetProperty("ImageProperties");
        }

        var red = properties["red.jpg"].GetProperty("DominantColors")[0];
        Assert.Equal("red", red.GetProperty("SimplifiedColor").GetString());
        Assert.True(red.GetProperty("PixelPercent").GetDouble() > 90);
        double Quality(string file, string name) => properties[file].GetProperty("Quality").GetProperty(name).GetDouble();
        Assert.True(Quality("blurred.jpg", "Sharpness") < Quality("dog.jpg", "Sharpness"));
        Assert.True(Quality("dark.jpg", "Brightness") < Quality("dog.jpg", "Brightness"));
        Assert.True(properties["dog.jpg"].TryGetProperty("Foreground", out _));
    }

    [Fact]
    public async Task Boto3_runs_the_tutorial_lambda_handler_unchanged_and_gets_real_labels()
    {
        // The handler is the AWS tutorial's logic (S3 event in, detect_labels on the S3 object with MaxLabels=10 and
        // MinConfidence=70, label names out). Only the clients' endpoint_url differs from the code that runs on AWS.
        const string script = """
            import json
            import os
            import sys
            import urllib.parse

            import boto3

            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1")
            rekognition = boto3.client("rekognition", endpoint_url=os.environ["REKOGNITION_ENDPOINT"], region_name="us-east-1")


            def detect_labels(photo, bucket):
                return rekognition.detect_labels(Image={"S3Object": {"Bucket": bucket, "Name": photo}}, MaxLabels=10, MinConfidence=70)


            def lambda_handler(event, context):
                bucket = event["Records"][0]["s3"]["bucket"]["name"]
                key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"], encoding="utf-8")
                response = detect_labels(key, bucket)
                labels = [label["Name"] for label in response["Labels"]]
                return {
                    "statusCode": 200,
                    "labels": labels,
                    "confidences": [label["Confidence"] for label in response["Labels"]],
                    "requestId": response["ResponseMetadata"]["RequestId"],
                }


            if __name__ == "__main__":
                bucket, key, photo = sys.argv[1], sys.argv[2], sys.argv[3]
                s3.create_bucket(Bucket=bucket)
                s3.upload_file(photo, bucket, key)
                # The event S3 would send: the key URL-encoded with '+' for spaces.
                event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                      "s3": {"bucket": {"name": bucket}, "object": {"key": urllib.parse.quote_plus(key, safe="/")}}}]}
                print(json.dumps(lambda_handler(event, None)))
            """;
        var text = await Boto3.RunAsync(
            _work,
            script,
            new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint, ["REKOGNITION_ENDPOINT"] = Api },
            serve.LogTail,
            "tutorial-bucket",
            "uploads/my dog.jpg",
            TestData.Image("dog.jpg"));
        output.WriteLine(text);

        var result = JsonDocument.Parse(text).RootElement;
        var labels = result.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.Contains("Dog", labels);
        Assert.InRange(labels.Count, 1, 10);
        Assert.All(result.GetProperty("confidences").EnumerateArray(), c => Assert.True(c.GetDouble() >= 70));
        Assert.True(Guid.TryParse(result.GetProperty("requestId").GetString(), out _));
    }

    /// <summary>Runs a boto3 script file (<see cref="Boto3.RunAsync"/>) with the S3 and Rekognition endpoints in its environment; its stdout.</summary>
    public static async Task<string> RunPythonAsync(string script, string[] args, S3ClientServeFixture serve, string work, string api, ITestOutputHelper output)
    {
        var text = await Boto3.RunAsync(
            work,
            await File.ReadAllTextAsync(script),
            new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint, ["REKOGNITION_ENDPOINT"] = api },
            serve.LogTail,
            args);
        output.WriteLine(text);
        return text;
    }
}
