using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// Rekognition's DetectText over real HTTP on the DetectLabels endpoint (JSON 1.1, SigV4), on cards made at test
/// time: LINE and WORD detections in the service's shape, WordFilter and RegionsOfInterest, and its errors.
/// </summary>
public sealed class DetectTextApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private Task<(HttpStatusCode Status, JsonObject Body)> CallAsync(object request) => fixture.CallRekognitionAsync("RekognitionService.DetectText", request);

    private Task<(HttpStatusCode Status, JsonObject Body)> CallAsync(string target, object request) => fixture.CallRekognitionAsync(target, request);

    [Fact]
    public async Task Video_operations_refuse_what_they_cannot_do_with_the_service_errors()
    {
        await fixture.S3.PutBucketAsync("video-errors");
        await fixture.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "video-errors", Key = "dog.jpg", FilePath = TestData.Image("dog.jpg") });
        async Task AssertError(string operation, object request, string type, string part)
        {
            var (status, body) = await CallAsync("RekognitionService." + operation, request);
            Assert.True(status == HttpStatusCode.BadRequest, body.ToJsonString());
            Assert.Equal(type, body["__type"]!.GetValue<string>());
            Assert.Contains(part, body["Message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var photo = new { Video = new { S3Object = new { Bucket = "video-errors", Name = "dog.jpg" } } };
        await AssertError("StartLabelDetection", photo, "InvalidParameterException", "is not a video");
        await AssertError("StartLabelDetection", new { Video = new { S3Object = new { Bucket = "video-errors", Name = "none.mp4" } } }, "InvalidS3ObjectException", "no object");
        await AssertError("StartLabelDetection", new { }, "InvalidParameterException", "Video.S3Object");
        await AssertError("StartLabelDetection", new { photo.Video, NotificationChannel = new { SNSTopicArn = "arn:aws:sns:us-east-1:1:t", RoleArn = "arn:aws:iam::1:role/r" } }, "InvalidParameterException", "webhook");
        await AssertError("GetLabelDetection", new { JobId = "labels-0123456789abcdef0123456789abcdef" }, "ResourceNotFoundException", "StartLabelDetection");
        await AssertError("GetTextDetection", new { JobId = "nonsense" }, "ResourceNotFoundException", "StartTextDetection");
        await AssertError("GetLabelDetection", new { }, "InvalidParameterException", "JobId");
    }

    private static async Task<object> CardAsync(string name) => new { Bytes = Convert.ToBase64String(await TextCards.Get(name)) };

    [Fact]
    public async Task Image_bytes_give_lines_then_words_with_parents_boxes_and_polygons()
    {
        var (status, body) = await CallAsync(new { Image = await CardAsync("slate.png") });
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.StartsWith("ppocr-v4:", body["TextModelVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        var detections = body["TextDetections"]!.AsArray().Select(d => d!.AsObject()).ToList();
        var lines = detections.Where(d => d["Type"]!.GetValue<string>() == "LINE").ToList();
        var words = detections.Where(d => d["Type"]!.GetValue<string>() == "WORD").ToList();
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], lines.Select(l => l["DetectedText"]!.GetValue<string>()));
        Assert.Equal(["SCENE", "42", "TAKE", "7", "Directed", "by", "Ada", "Lovelace"], words.Select(w => w["DetectedText"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(0, detections.Count), detections.Select(d => d["Id"]!.GetValue<int>()));
        Assert.All(lines, l => Assert.Null(l["ParentId"]));
        Assert.Equal([0, 0, 1, 1, 2, 2, 2, 2], words.Select(w => w["ParentId"]!.GetValue<int>()));
        foreach (var detection in detections)
        {
            Assert.InRange(detection["Confidence"]!.GetValue<double>(), 80, 100);
            var box = detection["Geometry"]!["BoundingBox"]!;
            Assert.InRange(box["Width"]!.GetValue<double>(), 0.005, 1);
            Assert.InRange(box["Left"]!.GetValue<double>(), 0, 1);
            var polygon = detection["Geometry"]!["Polygon"]!.AsArray();
            Assert.Equal(4, polygon.Count);
            Assert.All(polygon, p => Assert.InRange(p!["X"]!.GetValue<double>(), 0, 1));
        }
    }

    [Fact]
    public async Task WordFilter_and_RegionsOfInterest_select_words()
    {
        // The slate's second line is in 48-point type, the first in 72: a minimum height between them keeps the first.
        var (_, all) = await CallAsync(new { Image = await CardAsync("slate.png") });
        double Height(string word) => all["TextDetections"]!.AsArray().Single(d => d!["DetectedText"]!.GetValue<string>() == word)!["Geometry"]!["BoundingBox"]!["Height"]!.GetValue<double>();
        Assert.True(Height("SCENE") > Height("Directed") * 1.1, $"SCENE {Height("SCENE")}, Directed {Height("Directed")}");
        var (_, tall) = await CallAsync(new { Image = await CardAsync("slate.png"), Filters = new { WordFilter = new { MinBoundingBoxHeight = (Height("SCENE") + Height("Directed")) / 2 } } });
        Assert.Equal(["SCENE 42", "TAKE 7"], Lines(tall));

        // The right half of the card: TAKE 7 and the end of the credit.
        var region = new { BoundingBox = new { Left = 0.5, Top = 0.0, Width = 0.5, Height = 1.0 } };
        var (_, right) = await CallAsync(new { Image = await CardAsync("slate.png"), Filters = new { RegionsOfInterest = new[] { region } } });
        Assert.Equal(["TAKE 7", "Directed by Ada Lovelace"], Lines(right));
        Assert.Equal(["TAKE", "7", "Ada", "Lovelace"], Words(right));

        var (_, none) = await CallAsync(new { Image = await CardAsync("slate.png"), Filters = new { WordFilter = new { MinConfidence = 100 } } });
        Assert.Empty(none["TextDetections"]!.AsArray());

        var (_, photo) = await CallAsync(new { Image = new { Bytes = Convert.ToBase64String(TestData.ImageBytes("dog.jpg")) } });
        Assert.Empty(photo["TextDetections"]!.AsArray());
    }

    [Fact]
    public async Task Bad_requests_get_the_service_errors()
    {
        Task AssertError(object request, string type) => fixture.AssertRekognitionErrorAsync("RekognitionService.DetectText", request, type);
        await fixture.AssertImageErrorsAsync("RekognitionService.DetectText");
        await AssertError(new { Image = await CardAsync("slate.png"), Filters = new { WordFilter = new { MinConfidence = 101 } } }, "InvalidParameterException");
        await AssertError(new { Image = await CardAsync("slate.png"), Filters = new { RegionsOfInterest = new[] { new { Nothing = 1 } } } }, "InvalidParameterException");
    }

    private static List<string> Lines(JsonObject body) => Of(body, "LINE");

    private static List<string> Words(JsonObject body) => Of(body, "WORD");

    private static List<string> Of(JsonObject body, string type) =>
        body["TextDetections"]!.AsArray().Where(d => d!["Type"]!.GetValue<string>() == type).Select(d => d!["DetectedText"]!.GetValue<string>()).ToList();
}

/// <summary>`aws rekognition detect-text` and boto3's detect_text, unchanged but for the endpoint, against `labellens serve`.</summary>
public sealed class DetectTextClientTests(S3ClientServeFixture serve, ITestOutputHelper output) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-detect-text-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Api => serve.Http.BaseAddress!.ToString().TrimEnd('/');

    [Fact]
    public async Task Aws_cli_detect_text_with_image_bytes_and_on_an_S3Object()
    {
        var aws = await CliTool.AwsAsync(Api, _work, output, serve);
        var card = await TextCards.PathOfAsync("slate.png");
        var response = JsonDocument.Parse(await aws.RunAsync("rekognition", "detect-text", "--output", "json", "--image-bytes", $"fileb://{card}")).RootElement;
        var lines = response.GetProperty("TextDetections").EnumerateArray().Where(d => d.GetProperty("Type").GetString() == "LINE").Select(d => d.GetProperty("DetectedText").GetString()).ToList();
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], lines);

        var s3 = await CliTool.AwsAsync(serve.S3Endpoint, _work, output, serve);
        await s3.RunAsync("s3", "mb", "s3://detect-text-cli");
        await s3.RunAsync("s3", "cp", await TextCards.PathOfAsync("black-on-white.png"), "s3://detect-text-cli/signs/exit.png", "--no-progress");
        var filtered = JsonDocument.Parse(await aws.RunAsync(
            "rekognition", "detect-text", "--output", "json", "--image", """{"S3Object":{"Bucket":"detect-text-cli","Name":"signs/exit.png"}}""",
            "--filters", """{"WordFilter":{"MinConfidence":90,"MinBoundingBoxHeight":0.05}}""")).RootElement;
        Assert.Contains(filtered.GetProperty("TextDetections").EnumerateArray(), d => d.GetProperty("DetectedText").GetString() == "EXIT");

        var missing = await aws.RunAsync(254, "rekognition", "detect-text", "--image", """{"S3Object":{"Bucket":"detect-text-cli","Name":"none.png"}}""");
        Assert.Empty(missing);
    }

    [Fact]
    public async Task Boto3_detect_text_reads_the_slate()
    {
        var script = Path.Combine(_work, "detect_text.py");
        await File.WriteAllTextAsync(script, """
            import json
            import os
            import sys

            import boto3

            rekognition = boto3.client("rekognition", endpoint_url=os.environ["REKOGNITION_ENDPOINT"], region_name="us-east-1")
            with open(sys.argv[1], "rb") as image:
                response = rekognition.detect_text(Image={"Bytes": image.read()})
            print(json.dumps({
                "lines": [d["DetectedText"] for d in response["TextDetections"] if d["Type"] == "LINE"],
                "words": [[d["DetectedText"], d["ParentId"]] for d in response["TextDetections"] if d["Type"] == "WORD"],
                "version": response["TextModelVersion"],
            }))
            """);
        var text = await RekognitionClientTests.RunPythonAsync(script, [await TextCards.PathOfAsync("slate.png")], serve, _work, Api, output);
        var result = JsonDocument.Parse(text).RootElement;
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], result.GetProperty("lines").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("Lovelace", result.GetProperty("words")[7][0].GetString());
        Assert.Equal(2, result.GetProperty("words")[7][1].GetInt32());
    }
}

/// <summary>The server the AWS clients talk to, with the text analysis on (videos get their text read too).</summary>
public sealed class TextS3ServeFixture : S3ClientServeFixture
{
    protected override IReadOnlyDictionary<string, string?> ExtraEnvironment { get; } = new Dictionary<string, string?> { ["LABELLENS_Analysis__Tasks"] = "objects,classes,text" };
}

/// <summary>Rekognition Video's Start/Get label and text detection from boto3, unchanged but for the endpoint, on a video uploaded through S3.</summary>
public sealed class RekognitionVideoClientTests(TextS3ServeFixture serve, ITestOutputHelper output) : IClassFixture<TextS3ServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-rekognition-video-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Boto3_starts_and_polls_label_and_text_detection_on_a_slate_video()
    {
        var video = Path.Combine(_work, "slate.mp4");
        await File.WriteAllBytesAsync(video, await VideoTestData.TitleCardBetweenPhotosMp4(await TextCards.PathOfAsync("slate.png")));
        var script = Path.Combine(_work, "video.py");
        // The polling loop of AWS's Rekognition Video examples, without SNS: start, then get until the status changes.
        await File.WriteAllTextAsync(script, """
            import json
            import os
            import sys
            import time

            import boto3
            from botocore.exceptions import ClientError

            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1")
            rekognition = boto3.client("rekognition", endpoint_url=os.environ["REKOGNITION_ENDPOINT"], region_name="us-east-1")
            s3.create_bucket(Bucket="films")
            s3.upload_file(sys.argv[1], "films", "day1/slate.mp4")
            video = {"S3Object": {"Bucket": "films", "Name": "day1/slate.mp4"}}


            def wait(get, job_id, **args):
                for _ in range(600):
                    response = get(JobId=job_id, **args)
                    if response["JobStatus"] != "IN_PROGRESS":
                        return response
                    time.sleep(0.2)
                raise TimeoutError(job_id)


            labels_job = rekognition.start_label_detection(Video=video, MinConfidence=50)["JobId"]
            labels = wait(rekognition.get_label_detection, labels_job, SortBy="TIMESTAMP", MaxResults=1000)
            text_job = rekognition.start_text_detection(Video=video)["JobId"]
            text = wait(rekognition.get_text_detection, text_job, MaxResults=1000)
            try:
                rekognition.start_label_detection(Video=video, NotificationChannel={"SNSTopicArn": "arn:aws:sns:us-east-1:1:t", "RoleArn": "arn:aws:iam::1:role/r"})
                refused = None
            except ClientError as error:
                refused = error.response["Error"]["Code"]
            print(json.dumps({
                "labelsStatus": labels["JobStatus"],
                "labels": [[l["Label"]["Name"], l["Timestamp"]] for l in labels["Labels"]],
                "format": labels["VideoMetadata"]["Format"],
                "textStatus": text["JobStatus"],
                "text": [[d["Timestamp"], d["TextDetection"]["Type"], d["TextDetection"]["DetectedText"], d["TextDetection"].get("ParentId")] for d in text["TextDetections"]],
                "version": text["TextModelVersion"],
                "refused": refused,
            }))
            """);
        var api = serve.Http.BaseAddress!.ToString().TrimEnd('/');
        var result = JsonDocument.Parse(await RekognitionClientTests.RunPythonAsync(script, [video], serve, _work, api, output)).RootElement;
        Assert.Equal("SUCCEEDED", result.GetProperty("labelsStatus").GetString());
        Assert.Equal("MP4", result.GetProperty("format").GetString());
        // Debian's botocore predates AggregateBy: labels by timestamp, the dog on the first shot (0-3 s).
        var dog = result.GetProperty("labels").EnumerateArray().Where(l => l[0].GetString() == "Dog").Select(l => l[1].GetInt64()).ToList();
        Assert.NotEmpty(dog);
        Assert.All(dog, t => Assert.InRange(t, 0, 3100));
        Assert.Equal("SUCCEEDED", result.GetProperty("textStatus").GetString());
        var lines = result.GetProperty("text").EnumerateArray().Where(d => d[1].GetString() == "LINE").ToList();
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], lines.Select(l => l[2].GetString()));
        Assert.All(lines, l => Assert.InRange(l[0].GetInt64(), 2900, 3600));
        Assert.Contains(result.GetProperty("text").EnumerateArray(), d => d[1].GetString() == "WORD" && d[2].GetString() == "Lovelace");
        Assert.StartsWith("ppocr-v4:", result.GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.Equal("InvalidParameterException", result.GetProperty("refused").GetString());
    }
}
