using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>Rekognition's DetectFaces over real HTTP on the DetectLabels endpoint (JSON 1.1, SigV4): the service's shape, only what UltraFace finds.</summary>
public sealed class DetectFacesApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private Task<(HttpStatusCode Status, JsonObject Body)> CallAsync(object request) => fixture.CallRekognitionAsync("RekognitionService.DetectFaces", request);

    private static object Bytes(string photo) => new { Bytes = Convert.ToBase64String(TestData.ImageBytes(photo)) };

    [Theory]
    [InlineData(null)]
    [InlineData("DEFAULT")]
    [InlineData("ALL")]
    public async Task The_astronaut_gives_one_face_with_box_confidence_and_quality_and_nothing_invented(string? attributes)
    {
        var (status, body) = await CallAsync(attributes is null ? new { Image = Bytes("extra/astronaut.png") } : new { Image = Bytes("extra/astronaut.png"), Attributes = new[] { attributes } });
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal(["FaceDetails"], body.Select(p => p.Key));
        var face = Assert.Single(body["FaceDetails"]!.AsArray())!.AsObject();
        Assert.Equal(["BoundingBox", "Confidence", "Quality"], face.Select(p => p.Key));
        Assert.Equal(["Width", "Height", "Left", "Top"], face["BoundingBox"]!.AsObject().Select(p => p.Key));
        Assert.InRange(face["BoundingBox"]!["Left"]!.GetValue<double>(), 0.32, 0.38);
        Assert.InRange(face["BoundingBox"]!["Top"]!.GetValue<double>(), 0.09, 0.15);
        Assert.InRange(face["Confidence"]!.GetValue<double>(), 99, 100);
        Assert.Equal(["Brightness", "Sharpness"], face["Quality"]!.AsObject().Select(p => p.Key));
        Assert.InRange(face["Quality"]!["Brightness"]!.GetValue<double>(), 20, 90);
    }

    [Fact]
    public async Task A_photo_without_a_face_gives_none_and_an_S3Object_is_read()
    {
        await fixture.S3.PutBucketAsync("faces");
        await fixture.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "faces", Key = "camera.png", FilePath = TestData.Image("extra/camera.png") });
        var (_, dog) = await CallAsync(new { Image = Bytes("dog.jpg") });
        Assert.Empty(dog["FaceDetails"]!.AsArray());
        var (status, camera) = await CallAsync(new { Image = new { S3Object = new { Bucket = "faces", Name = "camera.png" } } });
        Assert.True(status == HttpStatusCode.OK, camera.ToJsonString());
        Assert.Single(camera["FaceDetails"]!.AsArray());
    }

    [Fact]
    public async Task Bad_requests_get_the_service_errors()
    {
        await fixture.AssertImageErrorsAsync("RekognitionService.DetectFaces");
        await fixture.AssertRekognitionErrorAsync("RekognitionService.DetectFaces", new { Image = Bytes("dog.jpg"), Attributes = new[] { "LANDMARKS_PLEASE" } }, "InvalidParameterException");
        await fixture.AssertRekognitionErrorAsync("RekognitionService.DetectFaces", new { Image = Bytes("dog.jpg"), Attributes = "ALL" }, "InvalidParameterException");
    }
}

/// <summary>`aws rekognition detect-faces` and boto3's detect_faces, unchanged but for the endpoint, against `labellens serve`.</summary>
public sealed class DetectFacesClientTests(S3ClientServeFixture serve, ITestOutputHelper output) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-detect-faces-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Api => serve.Http.BaseAddress!.ToString().TrimEnd('/');

    [Fact]
    public async Task Aws_cli_detect_faces_with_image_bytes_and_on_an_S3Object()
    {
        var aws = await CliTool.AwsAsync(Api, _work, output, serve);
        var response = JsonDocument.Parse(await aws.RunAsync(
            "rekognition", "detect-faces", "--output", "json", "--attributes", "ALL", "--image-bytes", $"fileb://{TestData.Image("extra/astronaut.png")}")).RootElement;
        var face = Assert.Single(response.GetProperty("FaceDetails").EnumerateArray().ToList());
        Assert.True(face.GetProperty("Confidence").GetDouble() > 99);
        Assert.False(face.TryGetProperty("Landmarks", out _));

        var s3 = await CliTool.AwsAsync(serve.S3Endpoint, _work, output, serve);
        await s3.RunAsync("s3", "mb", "s3://detect-faces-cli");
        await s3.RunAsync("s3", "cp", TestData.Image("dog.jpg"), "s3://detect-faces-cli/dog.jpg", "--no-progress");
        var dog = JsonDocument.Parse(await aws.RunAsync(
            "rekognition", "detect-faces", "--output", "json", "--image", """{"S3Object":{"Bucket":"detect-faces-cli","Name":"dog.jpg"}}""")).RootElement;
        Assert.Empty(dog.GetProperty("FaceDetails").EnumerateArray());
    }

    [Fact]
    public async Task Boto3_detect_faces_finds_the_cameraman()
    {
        var script = Path.Combine(_work, "detect_faces.py");
        await File.WriteAllTextAsync(script, """
            import json
            import os
            import sys

            import boto3

            rekognition = boto3.client("rekognition", endpoint_url=os.environ["REKOGNITION_ENDPOINT"], region_name="us-east-1")
            with open(sys.argv[1], "rb") as image:
                response = rekognition.detect_faces(Image={"Bytes": image.read()}, Attributes=["DEFAULT"])
            print(json.dumps([[f["Confidence"], f["BoundingBox"]["Height"], f["Quality"]["Sharpness"], sorted(f.keys())] for f in response["FaceDetails"]]))
            """);
        var text = await RekognitionClientTests.RunPythonAsync(script, [TestData.Image("extra/camera.png")], serve, _work, Api, output);
        var face = Assert.Single(JsonDocument.Parse(text).RootElement.EnumerateArray().ToList());
        Assert.True(face[0].GetDouble() > 99);
        Assert.InRange(face[1].GetDouble(), 0.1, 0.25);
        Assert.Equal(["BoundingBox", "Confidence", "Quality"], face[3].EnumerateArray().Select(k => k.GetString()));
    }

    /// <summary>
    /// Uploads the astronaut / black / dog clip with boto3 to <paramref name="bucket"/>/<paramref name="key"/>, then runs
    /// <paramref name="body"/> (which has s3, rekognition, json, and wait(get, job): polls a Get* until it is not
    /// IN_PROGRESS); its printed JSON.
    /// </summary>
    private async Task<JsonElement> RunOnTheClipAsync(string bucket, string key, string body)
    {
        var video = Path.Combine(_work, "astronaut-black-dog.mp4");
        await File.WriteAllBytesAsync(video, await VideoTestData.AstronautBlackDogMp4());
        var script = Path.Combine(_work, $"{Path.GetFileNameWithoutExtension(key)}.py");
        await File.WriteAllTextAsync(script, $$"""
            import json
            import os
            import sys
            import time

            import boto3

            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1")
            rekognition = boto3.client("rekognition", endpoint_url=os.environ["REKOGNITION_ENDPOINT"], region_name="us-east-1")
            s3.create_bucket(Bucket="{{bucket}}")
            s3.upload_file(sys.argv[1], "{{bucket}}", "{{key}}")


            def wait(get, job):
                for _ in range(600):
                    response = get(JobId=job)
                    if response["JobStatus"] != "IN_PROGRESS":
                        return response
                    time.sleep(0.2)
                return response


            """ + body);
        return JsonDocument.Parse(await RekognitionClientTests.RunPythonAsync(script, [video], serve, _work, Api, output)).RootElement;
    }

    [Fact]
    public async Task Boto3_start_and_get_face_detection_find_the_face_on_the_first_shot_only()
    {
        var result = await RunOnTheClipAsync("cuts", "faces.mp4", """
            job = rekognition.start_face_detection(Video={"S3Object": {"Bucket": "cuts", "Name": "faces.mp4"}})["JobId"]
            response = wait(rekognition.get_face_detection, job)
            print(json.dumps({
                "status": response["JobStatus"],
                "faces": [[f["Timestamp"], f["Face"]["Confidence"], f["Face"]["BoundingBox"]["Height"], sorted(f["Face"].keys()), f["Face"]["BoundingBox"]["Left"], f["Face"]["BoundingBox"]["Top"]] for f in response["Faces"]],
            }))
            """);
        Assert.Equal("SUCCEEDED", result.GetProperty("status").GetString());
        var faces = result.GetProperty("faces").EnumerateArray().ToList();
        Assert.NotEmpty(faces);
        // The astronaut's 3 s only: nothing on the black second or the dog.
        Assert.All(faces, f => Assert.InRange(f[0].GetInt64(), 0, 3000));
        // Every sampled frame of the first shot has the astronaut's face, sure and about a fifth of the frame high.
        var byFrame = faces.GroupBy(f => f[0].GetInt64()).ToList();
        Assert.True(byFrame.Count >= 5, $"{byFrame.Count} frames with faces");
        Assert.All(byFrame, frame => Assert.Contains(frame, f => f[1].GetDouble() > 99 && f[2].GetDouble() is > 0.15 and < 0.3));
        Assert.All(faces, f => Assert.Equal(["BoundingBox", "Confidence"], f[3].EnumerateArray().Select(k => k.GetString())));
    }

    [Fact]
    public async Task Boto3_start_and_get_segment_detection_give_three_shots_and_the_black_second()
    {
        var result = await RunOnTheClipAsync("edits", "cut.mp4", """
            job = rekognition.start_segment_detection(
                Video={"S3Object": {"Bucket": "edits", "Name": "cut.mp4"}},
                SegmentTypes=["TECHNICAL_CUE", "SHOT"],
                Filters={"ShotFilter": {"MinSegmentConfidence": 50}, "TechnicalCueFilter": {"MinSegmentConfidence": 60}})["JobId"]
            response = wait(rekognition.get_segment_detection, job)
            shots_only = rekognition.start_segment_detection(Video={"S3Object": {"Bucket": "edits", "Name": "cut.mp4"}}, SegmentTypes=["SHOT"])["JobId"]
            first = rekognition.get_segment_detection(JobId=shots_only, MaxResults=1)
            try:
                rekognition.start_segment_detection(Video={"S3Object": {"Bucket": "edits", "Name": "cut.mp4"}}, SegmentTypes=["CREDITS"])
                refused = None
            except rekognition.exceptions.InvalidParameterException as error:
                refused = error.response["Error"]["Code"]
            print(json.dumps({
                "status": response["JobStatus"],
                "segments": response["Segments"],
                "types": response["SelectedSegmentTypes"],
                "metadata": response["VideoMetadata"],
                "first": [s["Type"] for s in first["Segments"]],
                "more": "NextToken" in first,
                "refused": refused,
            }))
            """);
        Assert.Equal("SUCCEEDED", result.GetProperty("status").GetString());
        var segments = result.GetProperty("segments").EnumerateArray().ToList();
        var shots = segments.Where(s => s.GetProperty("Type").GetString() == "SHOT").ToList();
        // Cut on frames 75 and 100 (3 s and 4 s at 25 fps), the end at frame 175 (7 s).
        Assert.Equal(
            [(0L, 3000L, 0L, 74L, 75L, "00:00:00:00", "00:00:03:00", 0), (3000L, 4000L, 75L, 99L, 25L, "00:00:03:00", "00:00:04:00", 1), (4000L, 7000L, 100L, 174L, 75L, "00:00:04:00", "00:00:07:00", 2)],
            shots.Select(s => (s.GetProperty("StartTimestampMillis").GetInt64(), s.GetProperty("EndTimestampMillis").GetInt64(), s.GetProperty("StartFrameNumber").GetInt64(),
                s.GetProperty("EndFrameNumber").GetInt64(), s.GetProperty("DurationFrames").GetInt64(), s.GetProperty("StartTimecodeSMPTE").GetString()!,
                s.GetProperty("EndTimecodeSMPTE").GetString()!, s.GetProperty("ShotSegment").GetProperty("Index").GetInt32())));
        Assert.All(shots, s => Assert.False(s.TryGetProperty("TechnicalCueSegment", out _)));
        var cue = Assert.Single(segments, s => s.GetProperty("Type").GetString() == "TECHNICAL_CUE");
        Assert.Equal("BlackFrames", cue.GetProperty("TechnicalCueSegment").GetProperty("Type").GetString());
        Assert.Equal((3000L, 4000L, 1000L, "00:00:01:00"), (cue.GetProperty("StartTimestampMillis").GetInt64(), cue.GetProperty("EndTimestampMillis").GetInt64(), cue.GetProperty("DurationMillis").GetInt64(), cue.GetProperty("DurationSMPTE").GetString()!));
        // In time order, as the service pages them.
        Assert.Equal(segments.Select(s => s.GetProperty("StartTimestampMillis").GetInt64()).Order(), segments.Select(s => s.GetProperty("StartTimestampMillis").GetInt64()));
        Assert.Equal(["SHOT", "TECHNICAL_CUE"], result.GetProperty("types").EnumerateArray().Select(t => t.GetProperty("Type").GetString()).Order());
        Assert.Equal(7000, result.GetProperty("metadata")[0].GetProperty("DurationMillis").GetInt64());
        Assert.Equal(["SHOT"], result.GetProperty("first").EnumerateArray().Select(t => t.GetString()));
        Assert.True(result.GetProperty("more").GetBoolean());
        Assert.Equal("InvalidParameterException", result.GetProperty("refused").GetString());
    }
}

/// <summary>StartSegmentDetection / GetSegmentDetection refuse what the service refuses, over real HTTP.</summary>
public sealed class SegmentDetectionApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private const string Start = "RekognitionService.StartSegmentDetection";
    private const string Get = "RekognitionService.GetSegmentDetection";

    [Fact]
    public async Task Bad_segment_requests_get_the_service_errors()
    {
        await fixture.S3.PutBucketAsync("segments");
        await fixture.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "segments", Key = "still.mp4", InputStream = new MemoryStream(await VideoTestData.Still("dog.jpg", 1)) });
        var video = new { S3Object = new { Bucket = "segments", Name = "still.mp4" } };
        await fixture.AssertRekognitionErrorAsync(Start, new { Video = video }, "InvalidParameterException");
        await fixture.AssertRekognitionErrorAsync(Start, new { Video = video, SegmentTypes = new[] { "SHOT", "CREDITS" } }, "InvalidParameterException");
        await fixture.AssertRekognitionErrorAsync(Start, new { Video = video, SegmentTypes = new[] { "SHOT" }, Filters = new { ShotFilter = new { MinSegmentConfidence = 20 } } }, "InvalidParameterException");
        await fixture.AssertRekognitionErrorAsync(Start, new { Video = new { S3Object = new { Bucket = "segments", Name = "none.mp4" } }, SegmentTypes = new[] { "SHOT" } }, "InvalidS3ObjectException");
        await fixture.AssertRekognitionErrorAsync(Start, new { Video = video, SegmentTypes = new[] { "SHOT" }, NotificationChannel = new { SNSTopicArn = "arn:aws:sns:us-east-1:1:t", RoleArn = "arn:aws:iam::1:role/r" } }, "InvalidParameterException");
        await fixture.AssertRekognitionErrorAsync(Get, new { JobId = "segments-s-0-0-00000000000000000000000000000000" }, "ResourceNotFoundException");
        await fixture.AssertRekognitionErrorAsync(Get, new { JobId = "labels-" + ImageIdOf("segments", "still.mp4") }, "ResourceNotFoundException");

        var (status, started) = await fixture.CallRekognitionAsync(Start, new { Video = video, SegmentTypes = new[] { "TECHNICAL_CUE" }, Filters = new { TechnicalCueFilter = new { MinSegmentConfidence = 75.5 } } });
        Assert.True(status == HttpStatusCode.OK, started.ToJsonString());
        Assert.Equal($"segments-t-0-75-{ImageIdOf("segments", "still.mp4")}", started["JobId"]!.GetValue<string>());
        await fixture.AssertRekognitionErrorAsync(Get, new { JobId = started["JobId"]!.GetValue<string>(), NextToken = "not-a-token" }, "InvalidPaginationTokenException");
    }

    private static string ImageIdOf(string bucket, string key) => LabelLens.Storage.ImageIds.For(bucket, key);
}
