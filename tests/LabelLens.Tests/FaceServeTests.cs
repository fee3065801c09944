using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>`serve` with the default analyses (faces included): uploads get their faces, the Face label, and face and shot-size search.</summary>
public sealed class FaceServeTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    private async Task<List<string>> SearchAsync(string query) =>
        (await _server.GetJsonAsync($"/api/v1/images?{query}")).GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("key").GetString()!).Order().ToList();

    [Fact]
    public async Task Uploads_are_searchable_by_face_count_shot_size_and_the_Face_label()
    {
        await _server.WaitForReadyAsync();
        var ids = new Dictionary<string, string>();
        foreach (var (key, bytes, type) in new[]
        {
            ("astronaut.png", TestData.ImageBytes("extra/astronaut.png"), "image/png"),
            ("close-up.png", FacePictures.AstronautCloseUp(), "image/png"),
            ("four.png", FacePictures.AstronautTiled(), "image/png"),
            ("dog.jpg", TestData.ImageBytes("dog.jpg"), "image/jpeg"),
        })
        {
            ids[key] = (await _server.UploadAsync("people", key, bytes, type)).GetProperty("imageId").GetString()!;
        }

        foreach (var id in ids.Values)
        {
            await _server.WaitForImageAsync(id);
        }

        var astronaut = await _server.GetJsonAsync($"/api/v1/images/{ids["astronaut.png"]}");
        var faces = astronaut.GetProperty("faces");
        Assert.Equal(1, faces.GetProperty("count").GetInt32());
        Assert.Equal("medium", faces.GetProperty("shot").GetString());
        var face = faces.GetProperty("faces")[0];
        Assert.InRange(face.GetProperty("boundingBox").GetProperty("left").GetDouble(), 0.32, 0.38);
        Assert.True(face.GetProperty("confidence").GetDouble() > 99);
        Assert.InRange(face.GetProperty("quality").GetProperty("sharpness").GetDouble(), 1, 100);
        Assert.Contains(astronaut.GetProperty("analyses").EnumerateArray(), a => a.GetProperty("analysis").GetString() == "faces");
        Assert.Equal(0, (await _server.GetJsonAsync($"/api/v1/images/{ids["dog.jpg"]}")).GetProperty("faces").GetProperty("count").GetInt32());

        Assert.Equal(["dog.jpg"], await SearchAsync("faces=0"));
        Assert.Equal(["close-up.png"], await SearchAsync("shot=close-up"));
        Assert.Equal(["astronaut.png", "close-up.png"], await SearchAsync("maxFaces=1&minFaces=1"));
        Assert.Equal(["astronaut.png", "close-up.png", "four.png"], await SearchAsync("label=Face"));
        // The 320 model (the default) finds the four smaller faces of the tile too, at 0.11 of the picture's height: medium.
        Assert.Equal(["four.png"], await SearchAsync("minFaces=2"));
        Assert.Equal(["four.png"], await SearchAsync("count=Face:4&shot=medium"));
        var hit = (await _server.GetJsonAsync("/api/v1/images?minFaces=2")).GetProperty("images")[0];
        Assert.Equal(4, hit.GetProperty("faces").GetProperty("count").GetInt32());

        using var bad = await _server.Client.GetAsync("/api/v1/images?shot=extreme-close-up");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("InvalidShot", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var negative = await _server.Client.GetAsync("/api/v1/images?minFaces=-1");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, negative.StatusCode);

        // The export carries every picture's faces.
        var (exit, stdout, stderr) = await CliTests.RunAsync("export", "--data", _server.DataFolder);
        Assert.True(exit == 0, stderr);
        var exported = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var closeUp = exported.Single(e => e.GetProperty("image").GetProperty("key").GetString() == "close-up.png").GetProperty("faces");
        Assert.Equal("close-up", closeUp.GetProperty("shot").GetString());
        Assert.True(closeUp.GetProperty("faces")[0].GetProperty("boundingBox").GetProperty("height").GetDouble() >= 0.25);
    }

    [Fact]
    public async Task A_video_gets_the_Face_label_as_a_segment_while_the_face_is_on_screen()
    {
        await _server.WaitForReadyAsync();
        var id = (await _server.UploadAsync("media", "astronaut-black-dog.mp4", await VideoTestData.AstronautBlackDogMp4(), "video/mp4")).GetProperty("imageId").GetString()!;
        var details = await _server.WaitForImageAsync(id, TimeSpan.FromSeconds(120));
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());
        var result = await _server.GetJsonAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS");
        var faces = result.GetProperty("Labels").EnumerateArray()
            .Where(s => s.GetProperty("Label").GetProperty("Name").GetString() == "Face")
            .Select(s => (Start: s.GetProperty("StartTimestampMillis").GetInt64(), End: s.GetProperty("EndTimestampMillis").GetInt64()))
            .ToList();
        // One run of samples with the face: the astronaut's 3 s, within a sampling interval (500 ms); none on black or the dog.
        var face = Assert.Single(faces);
        Assert.InRange(face.Start, 0, 500);
        Assert.InRange(face.End, 2500, 3500);
        Assert.Equal(["astronaut-black-dog.mp4"], await SearchAsync("label=Face&prefix=astronaut-black"));

        // The video's record: three shots cut where ffmpeg sees the scene change (frames 75 and 100 at 25 fps), the black second as a cue.
        var video = details.GetProperty("video");
        var shots = video.GetProperty("shots").EnumerateArray().ToList();
        Assert.Equal(
            [(0L, 3000L, 0L, 74L, "00:00:00:00", "00:00:03:00"), (3000L, 4000L, 75L, 99L, "00:00:03:00", "00:00:04:00"), (4000L, 7000L, 100L, 174L, "00:00:04:00", "00:00:07:00")],
            shots.Select(s => (s.GetProperty("startTimestampMillis").GetInt64(), s.GetProperty("endTimestampMillis").GetInt64(), s.GetProperty("startFrameNumber").GetInt64(),
                s.GetProperty("endFrameNumber").GetInt64(), s.GetProperty("startTimecodeSMPTE").GetString()!, s.GetProperty("endTimecodeSMPTE").GetString()!)));
        var cue = Assert.Single(video.GetProperty("technicalCues").EnumerateArray().ToList());
        Assert.Equal(("BlackFrames", 3000L, 4000L, "00:00:01:00"), (cue.GetProperty("type").GetString()!, cue.GetProperty("startTimestampMillis").GetInt64(), cue.GetProperty("endTimestampMillis").GetInt64(), cue.GetProperty("durationSMPTE").GetString()!));

        // Face tracks (runs of overlapping boxes, no identity) over the astronaut's shot only: hers (99.99, 0.22 of the frame high:
        // medium, on all 6 samples), and a weaker small box UltraFace also finds on the letterboxed frame (80.6, 0.08 high: wide).
        var tracks = video.GetProperty("faceTracks").EnumerateArray().ToList();
        Assert.Equal(2, tracks.Count);
        Assert.All(tracks, t =>
        {
            Assert.InRange(t.GetProperty("startTimestampMillis").GetInt64(), 0, 500);
            Assert.InRange(t.GetProperty("endTimestampMillis").GetInt64(), 2500, 3500);
            Assert.Equal(0, t.GetProperty("shot").GetProperty("index").GetInt32());
        });
        var astronaut = tracks.MaxBy(t => t.GetProperty("confidence").GetDouble());
        Assert.True(astronaut.GetProperty("confidence").GetDouble() > 99);
        Assert.Equal(("medium", 6), (astronaut.GetProperty("shotSize").GetString(), astronaut.GetProperty("samples").GetInt32()));
        Assert.All(video.GetProperty("segments").EnumerateArray(), s => Assert.True(s.TryGetProperty("shot", out _), s.ToString()));
        var dogSegment = video.GetProperty("segments").EnumerateArray().First(s => s.GetProperty("name").GetString() == "Dog");
        Assert.Equal(2, dogSegment.GetProperty("shot").GetProperty("index").GetInt32());

        // "Medium shots with a face" finds the video and says when: the astronaut's stretch, nothing on black or the dog.
        var hit = Assert.Single((await _server.GetJsonAsync("/api/v1/images?prefix=astronaut-black&minFaces=1&shot=medium")).GetProperty("images").EnumerateArray().ToList());
        var span = Assert.Single(hit.GetProperty("video").GetProperty("faceSpans").EnumerateArray().ToList());
        Assert.Equal((2, "medium", 0), (span.GetProperty("faces").GetInt32(), span.GetProperty("shotSize").GetString(), span.GetProperty("shot").GetProperty("index").GetInt32()));
        Assert.InRange(span.GetProperty("startTimestampMillis").GetInt64(), 0, 500);
        Assert.InRange(span.GetProperty("endTimestampMillis").GetInt64(), 2500, 3500);
        var empty = (await _server.GetJsonAsync("/api/v1/images?prefix=astronaut-black&faces=0")).GetProperty("images")[0].GetProperty("video").GetProperty("faceSpans");
        Assert.True(empty.GetArrayLength() >= 1);
        Assert.All(empty.EnumerateArray(), s => Assert.True(s.GetProperty("startTimestampMillis").GetInt64() >= 2500, s.ToString()));
        Assert.Empty(await SearchAsync("prefix=astronaut-black&shot=close-up"));
    }
}
