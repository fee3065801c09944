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
    }
}
