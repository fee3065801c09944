using System.Net;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>Videos through a real in-process `serve`: upload, segments, timestamps, search, frames, bad videos, limits, cancel.</summary>
public sealed class VideoApiTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new Dictionary<string, string?>
    {
        // Low enough that a test video can be too long or too large without being big.
        ["Video:MaxDurationSeconds"] = "3600",
        ["Video:CheckpointFrames"] = "5",
    });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Video_upload_gets_segments_per_shot_within_one_interval()
    {
        var uploaded = await _server.UploadAsync("media", "films/shots.mp4", await VideoTestData.ThreeShotsMp4(), "application/octet-stream");
        var id = uploaded.GetProperty("imageId").GetString()!;
        var details = await WaitForVideoAsync(id);
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());
        Assert.Equal("video", details.GetProperty("mediaType").GetString());
        var video = details.GetProperty("video");
        Assert.Equal(9000, video.GetProperty("durationMillis").GetInt64());
        Assert.Equal("SUCCEEDED", video.GetProperty("jobStatus").GetString());
        Assert.Equal(100, video.GetProperty("progress").GetProperty("percent").GetDouble());
        Assert.Equal(640, details.GetProperty("image").GetProperty("width").GetInt32());
        Assert.Equal("mp4", details.GetProperty("image").GetProperty("format").GetString());
        Assert.Equal("mp4", details.GetProperty("video").GetProperty("format").GetString());
        // Video-level labels (best confidence) land with the image's labels, so search finds the video.
        Assert.Superset(new HashSet<string> { "Dog", "Bird", "Giraffe", "Animal" }, ServerFixture.LabelNames(details).ToHashSet());

        var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS");
        Assert.Equal("SUCCEEDED", result.GetProperty("JobStatus").GetString());
        Assert.Equal("SEGMENTS", result.GetProperty("GetRequestMetadata").GetProperty("AggregateBy").GetString());
        Assert.StartsWith("yolox-nano:", result.GetProperty("LabelModelVersion").GetString(), StringComparison.Ordinal);
        var metadata = result.GetProperty("VideoMetadata");
        Assert.Equal("h264", metadata.GetProperty("Codec").GetString());
        Assert.Equal(9000, metadata.GetProperty("DurationMillis").GetInt64());
        Assert.Equal(25, metadata.GetProperty("FrameRate").GetDouble());
        Assert.Equal((640, 480), (metadata.GetProperty("FrameWidth").GetInt32(), metadata.GetProperty("FrameHeight").GetInt32()));

        var segments = result.GetProperty("Labels").EnumerateArray()
            .Select(s => (Name: s.GetProperty("Label").GetProperty("Name").GetString()!, Start: s.GetProperty("StartTimestampMillis").GetInt64(), End: s.GetProperty("EndTimestampMillis").GetInt64(), Duration: s.GetProperty("DurationMillis").GetInt64()))
            .ToList();
        AssertSegment(segments, "Dog", 0, 3000);
        AssertSegment(segments, "Bicycle", 0, 3000);
        AssertSegment(segments, "Bird", 3000, 6000);
        AssertSegment(segments, "Giraffe", 6000, 9000);
        Assert.All(segments, s => Assert.Equal(s.End - s.Start, s.Duration));
        // Animal runs through all three shots: one segment, not three.
        AssertSegment(segments, "Animal", 0, 9000);

        // By timestamp: every sampled frame's labels, with boxes relative to the frame (0-1).
        var frames = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=TIMESTAMPS");
        var detections = frames.GetProperty("Labels").EnumerateArray().ToList();
        var dogs = detections.Where(d => d.GetProperty("Label").GetProperty("Name").GetString() == "Dog").ToList();
        Assert.InRange(dogs.Count, 5, 7);
        Assert.All(dogs, d => Assert.InRange(d.GetProperty("Timestamp").GetInt64(), 0, 2999));
        var box = dogs[0].GetProperty("Label").GetProperty("Instances")[0].GetProperty("BoundingBox");
        Assert.InRange(box.GetProperty("Left").GetDouble(), 0.05, 0.4);
        Assert.InRange(box.GetProperty("Left").GetDouble() + box.GetProperty("Width").GetDouble(), 0.2, 1);
        Assert.InRange(box.GetProperty("Top").GetDouble() + box.GetProperty("Height").GetDouble(), 0.3, 1);
        Assert.Equal(detections.Select(d => d.GetProperty("Timestamp").GetInt64()).Order(), detections.Select(d => d.GetProperty("Timestamp").GetInt64()));

        // Pages: maxResults and nextToken walk the same list.
        var paged = new List<string>();
        string? token = null;
        do
        {
            var page = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS&sortBy=NAME&maxResults=3" + (token is null ? "" : $"&nextToken={token}"));
            paged.AddRange(page.GetProperty("Labels").EnumerateArray().Select(s => s.GetProperty("Label").GetProperty("Name").GetString()!));
            token = page.GetProperty("NextToken").GetString();
        }
        while (token is not null);
        Assert.Equal(segments.Count, paged.Count);
        Assert.Equal(paged.Order(StringComparer.OrdinalIgnoreCase), paged);

        // Search by label finds the video with its matching segments.
        var search = await _server.GetJsonAsync("/api/v1/images?label=Bird");
        var hit = Assert.Single(search.GetProperty("images").EnumerateArray());
        Assert.Equal("video", hit.GetProperty("mediaType").GetString());
        var birdSegment = Assert.Single(hit.GetProperty("video").GetProperty("segments").EnumerateArray());
        Assert.Equal("Bird", birdSegment.GetProperty("name").GetString());

        // A frame at any time, as a JPEG.
        using var frame = await _server.Client.GetAsync($"/api/v1/videos/{id}/frame?t=3.5&width=320");
        Assert.Equal(HttpStatusCode.OK, frame.StatusCode);
        Assert.Equal("image/jpeg", frame.Content.Headers.ContentType?.MediaType);
        var jpeg = await frame.Content.ReadAsByteArrayAsync();
        Assert.Equal([0xFF, 0xD8], jpeg[..2]);
        using var past = await _server.Client.GetAsync($"/api/v1/videos/{id}/frame?t=99");
        Assert.Equal(HttpStatusCode.BadRequest, past.StatusCode);
        using var bad = await _server.Client.GetAsync($"/api/v1/videos/{id}/labels?aggregateBy=SHOTS");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Video_frames_go_through_the_classifier_too_Cat_then_Coffee()
    {
        var id = (await _server.UploadAsync("media", "cat-coffee.mp4", await VideoTestData.CatThenCoffeeMp4(), "video/mp4")).GetProperty("imageId").GetString()!;
        var details = await WaitForVideoAsync(id);
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());
        var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS");
        Assert.Equal("yolox-nano:695e750a5d57+mobilenetv2-int8:cc028fe6cae7+ultraface-320:34cd7e60aeff", result.GetProperty("LabelModelVersion").GetString());
        var segments = result.GetProperty("Labels").EnumerateArray()
            .Select(s => (Name: s.GetProperty("Label").GetProperty("Name").GetString()!, Start: s.GetProperty("StartTimestampMillis").GetInt64(), End: s.GetProperty("EndTimestampMillis").GetInt64(), Duration: s.GetProperty("DurationMillis").GetInt64()))
            .ToList();
        // Cat while the cat is on screen (detector and classifier agree), Coffee (a classifier-only label) after it.
        AssertSegment(segments, "Cat", 0, 3000);
        AssertSegment(segments, "Coffee", 3000, 6000);

        var found = await _server.GetJsonAsync("/api/v1/images?label=Espresso");
        var hit = Assert.Single(found.GetProperty("images").EnumerateArray());
        Assert.Equal(id, hit.GetProperty("image").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Video_webm_and_images_are_labeled_side_by_side()
    {
        var webm = await _server.UploadAsync("media", "clip.webm", await VideoTestData.ThreeShotsWebm(), "video/webm");
        var photo = await _server.UploadAsync("media", "dog.jpg", TestData.ImageBytes("dog.jpg"));
        var image = await _server.WaitForImageAsync(photo.GetProperty("imageId").GetString()!);
        Assert.Equal("image", image.GetProperty("mediaType").GetString());
        Assert.False(image.TryGetProperty("video", out _));
        Assert.Contains("Dog", ServerFixture.LabelNames(image));

        var video = await WaitForVideoAsync(webm.GetProperty("imageId").GetString()!);
        Assert.Equal("labeled", video.GetProperty("image").GetProperty("status").GetString());
        Assert.Equal("webm", video.GetProperty("image").GetProperty("format").GetString());
        Assert.Contains("Giraffe", ServerFixture.LabelNames(video));

        // label=Dog finds the photo and the video.
        var search = await _server.GetJsonAsync("/api/v1/images?label=Dog");
        Assert.Equal(["image", "video"], search.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("mediaType").GetString()).Order());
    }

    [Fact]
    public async Task Video_corrupt_truncated_and_audio_only_uploads_fail_with_a_clear_reason()
    {
        var mkv = await VideoTestData.ThreeShotsMkv();
        var mp4 = await VideoTestData.ThreeShotsMp4();
        var garbage = new byte[200_000];
        new Random(7).NextBytes(garbage);
        mp4.AsSpan(0, 64).CopyTo(garbage); // a real MP4 head, then noise

        var cases = new (string Key, byte[] Bytes, string Expected)[]
        {
            ("corrupt.mp4", garbage, "InvalidVideoFormat"),
            ("truncated.mkv", mkv[..(mkv.Length / 2)], "truncated"),
            ("truncated.mp4", mp4[..(mp4.Length / 2)], "InvalidVideoFormat"),
            ("tone.m4a", await VideoTestData.AudioOnly(), "no video stream"),
        };
        foreach (var (key, bytes, expected) in cases)
        {
            var id = (await _server.UploadAsync("bad", key, bytes, "application/octet-stream")).GetProperty("imageId").GetString()!;
            var details = await WaitForVideoAsync(id);
            var image = details.GetProperty("image");
            Assert.True(image.GetProperty("status").GetString() == "failed", $"{key}: {image}");
            Assert.Contains(expected, image.GetProperty("error").GetString(), StringComparison.Ordinal);
            // Permanent: failed on the first attempt, not retried.
            Assert.Equal(1, image.GetProperty("attempts").GetInt32());
            var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels");
            Assert.Equal("FAILED", result.GetProperty("JobStatus").GetString());
            Assert.Contains(expected, result.GetProperty("StatusMessage").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Video_over_the_duration_limit_fails_permanently_with_the_reason()
    {
        var id = (await _server.UploadAsync("long", "grey-2h.mp4", await VideoTestData.TwoHours(), "video/mp4")).GetProperty("imageId").GetString()!;
        var image = (await WaitForVideoAsync(id)).GetProperty("image");
        Assert.Equal("failed", image.GetProperty("status").GetString());
        Assert.StartsWith("VideoTooLong:", image.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("Video:MaxDurationSeconds", image.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, image.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Video_cancel_stops_a_running_job_and_relabel_starts_it_again()
    {
        var id = (await _server.UploadAsync("media", "long-dog.mp4", await VideoTestData.Still("dog.jpg", 600), "video/mp4")).GetProperty("imageId").GetString()!;
        // Wait until it is running with some progress, visible in the details and the queue.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var details = await _server.GetJsonAsync($"/api/v1/images/{id}");
            var progress = details.GetProperty("video").GetProperty("progress");
            if (progress.GetProperty("framesDone").GetInt32() >= 5)
            {
                Assert.InRange(progress.GetProperty("percent").GetDouble(), 0.1, 99);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no progress: {details}");
            await Task.Delay(50);
        }

        var queue = await _server.GetJsonAsync("/api/v1/queue");
        var entry = Assert.Single(queue.GetProperty("videos").EnumerateArray());
        Assert.Equal(id, entry.GetProperty("imageId").GetString());
        Assert.Equal("running", entry.GetProperty("state").GetString());
        Assert.True(entry.GetProperty("framesDone").GetInt32() >= 5);

        using var cancel = await _server.Client.PostAsync($"/api/v1/videos/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var image = (await WaitForVideoAsync(id)).GetProperty("image");
        Assert.Equal("failed", image.GetProperty("status").GetString());
        Assert.Equal("cancelled", image.GetProperty("error").GetString());
        var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels");
        Assert.Equal(("FAILED", "cancelled"), (result.GetProperty("JobStatus").GetString(), result.GetProperty("StatusMessage").GetString()));
        using var again = await _server.Client.PostAsync($"/api/v1/videos/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        // The worker is free again: the queue holds no video and a short video is labeled.
        var next = (await _server.UploadAsync("media", "after-cancel.mp4", await VideoTestData.ThreeShotsMp4(), "video/mp4")).GetProperty("imageId").GetString()!;
        Assert.Equal("labeled", (await WaitForVideoAsync(next)).GetProperty("image").GetProperty("status").GetString());
        Assert.Equal(0, (await _server.GetJsonAsync("/api/v1/queue")).GetProperty("videos").GetArrayLength());
    }

    [Fact]
    public async Task Video_deleted_or_replaced_while_running_drops_the_old_result()
    {
        var id = (await _server.UploadAsync("media", "replace.mp4", await VideoTestData.Still("dog.jpg", 600), "video/mp4")).GetProperty("imageId").GetString()!;
        await WaitForFramesAsync(id, 5);
        // New bytes under the same key supersede the running job; the giraffe video is what ends up labeled.
        await _server.UploadAsync("media", "replace.mp4", await VideoTestData.Still("giraffe.jpg", 4), "video/mp4");
        var details = await WaitForVideoAsync(id);
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());
        Assert.Contains("Giraffe", ServerFixture.LabelNames(details));
        Assert.DoesNotContain("Dog", ServerFixture.LabelNames(details));
        Assert.Equal(4000, details.GetProperty("video").GetProperty("durationMillis").GetInt64());

        var deleted = (await _server.UploadAsync("media", "delete-me.mp4", await VideoTestData.Still("dog.jpg", 600), "video/mp4")).GetProperty("imageId").GetString()!;
        await WaitForFramesAsync(deleted, 5);
        using var delete = await _server.Client.DeleteAsync("/api/v1/buckets/media/objects/delete-me.mp4");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await _server.Client.GetAsync($"/api/v1/videos/{deleted}/labels");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        // The worker notices at its next checkpoint and moves on to the next video.
        var next = (await _server.UploadAsync("media", "after-delete.mp4", await VideoTestData.Still("giraffe.jpg", 4), "video/mp4")).GetProperty("imageId").GetString()!;
        Assert.Equal("labeled", (await WaitForVideoAsync(next)).GetProperty("image").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Video_labels_have_the_GetLabelDetection_shape_and_search_frames_and_cli_show_the_right_segments()
    {
        var id = (await _server.UploadAsync("media", "shape/shots.mp4", await VideoTestData.ThreeShotsMp4(), "video/mp4")).GetProperty("imageId").GetString()!;
        Assert.Equal("labeled", (await WaitForVideoAsync(id)).GetProperty("image").GetProperty("status").GetString());

        // Rekognition: the request's sort and aggregation under GetRequestMetadata (defaults TIMESTAMP and TIMESTAMPS),
        // VideoMetadata.Format the container (MP4, MOV, AVI), ColorRange FULL or LIMITED.
        var byDefault = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels");
        Assert.Equal(("TIMESTAMP", "TIMESTAMPS"), (byDefault.GetProperty("GetRequestMetadata").GetProperty("SortBy").GetString(), byDefault.GetProperty("GetRequestMetadata").GetProperty("AggregateBy").GetString()));
        Assert.False(byDefault.TryGetProperty("AggregateBy", out _));
        var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS&sortBy=NAME&maxResults=5000");
        Assert.Equal(("NAME", "SEGMENTS"), (result.GetProperty("GetRequestMetadata").GetProperty("SortBy").GetString(), result.GetProperty("GetRequestMetadata").GetProperty("AggregateBy").GetString()));
        Assert.Equal("MP4", result.GetProperty("VideoMetadata").GetProperty("Format").GetString());
        Assert.Equal("LIMITED", result.GetProperty("VideoMetadata").GetProperty("ColorRange").GetString());
        // maxResults above 1000 is not an error in Rekognition: a page holds at most 1000.
        Assert.Equal(JsonValueKind.Null, result.GetProperty("NextToken").ValueKind);
        var mammals = result.GetProperty("Labels").EnumerateArray()
            .Where(l => l.GetProperty("Label").GetProperty("Name").GetString() == "Mammal")
            .Select(l => (Start: l.GetProperty("StartTimestampMillis").GetInt64(), Confidence: l.GetProperty("Label").GetProperty("Confidence").GetDouble()))
            .ToList();
        Assert.Equal(2, mammals.Count); // the dog shot and the giraffe shot, not the bird between them
        Assert.NotEqual(mammals[0].Confidence, mammals[1].Confidence);

        // Search with minConfidence: the video's segments shown are only those at least that confident.
        var threshold = (mammals[0].Confidence + mammals[1].Confidence) / 2;
        var strong = mammals.Single(m => m.Confidence > threshold);
        var search = await _server.GetJsonAsync(FormattableString.Invariant($"/api/v1/images?label=Mammal&minConfidence={threshold:0.###}"));
        var hit = Assert.Single(search.GetProperty("images").EnumerateArray());
        var segment = Assert.Single(hit.GetProperty("video").GetProperty("segments").EnumerateArray());
        Assert.Equal(strong.Start, segment.GetProperty("startTimestampMillis").GetInt64());

        // The frame at a segment's end, which is the video's end, is the last frame (not "InvalidVideoFormat").
        var end = result.GetProperty("Labels").EnumerateArray().Max(l => l.GetProperty("EndTimestampMillis").GetInt64());
        Assert.Equal(9000, end);
        foreach (var t in new[] { "9", "8.99" })
        {
            using var frame = await _server.Client.GetAsync($"/api/v1/videos/{id}/frame?t={t}");
            Assert.True(frame.StatusCode == HttpStatusCode.OK, $"t={t}: {await frame.Content.ReadAsStringAsync()}");
            Assert.Equal([0xFF, 0xD8], (await frame.Content.ReadAsByteArrayAsync())[..2]);
        }

        // `labellens search` on the same catalog: the video says it is one, with its Bird segment.
        var (exit, stdout, stderr) = await RunCliAsync("search", "Bird", "--data", _server.DataFolder, "--format", "jsonl");
        Assert.True(exit == 0, stderr);
        var line = JsonDocument.Parse(Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("video", line.GetProperty("mediaType").GetString());
        var bird = Assert.Single(line.GetProperty("video").GetProperty("segments").EnumerateArray());
        Assert.Equal("Bird", bird.GetProperty("name").GetString());
        Assert.InRange(bird.GetProperty("startTimestampMillis").GetInt64(), 2500, 3500);
        (exit, stdout, stderr) = await RunCliAsync("search", "Bird", "--data", _server.DataFolder, "--format", "table");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Bird 0:03.0-0:06.0", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Video_bad_input_errors_name_the_problem_not_the_server_path()
    {
        var mp4 = await VideoTestData.ThreeShotsMp4();
        // The MP4's ftyp box, then an mdat of zeros and no moov: ffprobe cannot read it.
        var noise = new byte[100_000];
        var ftyp = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(mp4);
        mp4.AsSpan(0, ftyp).CopyTo(noise);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(noise.AsSpan(ftyp), noise.Length - ftyp);
        "mdat"u8.CopyTo(noise.AsSpan(ftyp + 4));
        var id = (await _server.UploadAsync("bad", "noise.mp4", noise, "video/mp4")).GetProperty("imageId").GetString()!;
        var error = (await WaitForVideoAsync(id)).GetProperty("image").GetProperty("error").GetString()!;
        Assert.StartsWith("InvalidVideoFormat: not a readable video (", error, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.DataFolder, error, StringComparison.Ordinal);
        Assert.DoesNotContain("noise.mp4", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunCliAsync(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(TestData.CliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("LABELLENS_DATA");
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static void AssertSegment(List<(string Name, long Start, long End, long Duration)> segments, string name, long start, long end)
    {
        var found = segments.Where(s => s.Name == name).ToList();
        Assert.True(found.Count == 1, $"{name}: expected one segment, got [{string.Join(", ", found)}]");
        // Within one sampling interval (500 ms) of the shot's real bounds.
        Assert.InRange(found[0].Start, start - 500, start + 500);
        Assert.InRange(found[0].End, end - 500, end + 500);
    }

    private async Task WaitForFramesAsync(string id, int frames)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await _server.GetJsonAsync($"/api/v1/images/{id}")).GetProperty("video").GetProperty("progress").GetProperty("framesDone").GetInt32() < frames)
        {
            Assert.True(DateTime.UtcNow < deadline, $"video {id} made no progress");
            await Task.Delay(50);
        }
    }

    private async Task<JsonElement> WaitForVideoAsync(string id) => await _server.WaitForImageAsync(id, TimeSpan.FromSeconds(120));
}
