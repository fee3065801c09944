using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>`serve` with the text analysis on: uploads get their labels, then their text, searchable with labels; the CLI reads the same catalog.</summary>
public sealed class TextServeTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new Dictionary<string, string?> { ["Analysis:Tasks"] = "objects,classes,text" });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    /// <summary>Until the image's text analysis has stored its result.</summary>
    private async Task<JsonElement> WaitForTextAsync(string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var image = await _server.WaitForImageAsync(id);
            if (image.GetProperty("analyses").EnumerateArray().Any(a => a.GetProperty("analysis").GetString() == "text"))
            {
                return image;
            }

            Assert.True(DateTime.UtcNow < deadline, $"image {id} has no text after 90 s");
            await Task.Delay(100);
        }
    }

    private async Task<List<string>> SearchAsync(string query) =>
        (await _server.GetJsonAsync($"/api/v1/images?{query}")).GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("key").GetString()!).Order().ToList();

    [Fact]
    public async Task Uploads_get_labels_then_text_searchable_by_word_phrase_and_label_and_the_cli_finds_them()
    {
        await _server.WaitForReadyAsync();
        var ids = new Dictionary<string, string>();
        foreach (var (key, bytes, type) in new[]
        {
            ("cards/slate.png", await TextCards.Get("slate.png"), "image/png"),
            ("cards/hotel.jpg", await TextCards.Get("on-photo.jpg"), "image/jpeg"),
            ("photos/dog.jpg", TestData.ImageBytes("dog.jpg"), "image/jpeg"),
        })
        {
            ids[key] = (await _server.UploadAsync("media", key, bytes, type)).GetProperty("imageId").GetString()!;
        }

        foreach (var id in ids.Values)
        {
            await WaitForTextAsync(id);
        }

        var slate = await _server.GetJsonAsync($"/api/v1/images/{ids["cards/slate.png"]}");
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], slate.GetProperty("text").EnumerateArray().Select(l => l.GetProperty("text").GetString()));
        Assert.Equal(4, slate.GetProperty("text")[2].GetProperty("words").GetArrayLength());
        Assert.Empty((await _server.GetJsonAsync($"/api/v1/images/{ids["photos/dog.jpg"]}")).GetProperty("text").EnumerateArray());

        Assert.Equal(["cards/slate.png"], await SearchAsync("text=lovelace"));
        Assert.Equal(["cards/slate.png"], await SearchAsync("text=%22scene%2042%22"));
        Assert.Equal(["cards/hotel.jpg"], await SearchAsync("text=PARADISO"));
        Assert.Equal(["cards/hotel.jpg"], await SearchAsync("text=paradiso&label=Bird"));
        Assert.Empty(await SearchAsync("text=paradiso&label=Dog"));
        var hit = (await _server.GetJsonAsync("/api/v1/images?text=take%207")).GetProperty("images")[0];
        Assert.Contains(hit.GetProperty("text").EnumerateArray(), l => l.GetProperty("text").GetString() == "TAKE 7");
        using var bad = await _server.Client.GetAsync("/api/v1/images?text=%22%22");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);

        var (exit, stdout, stderr) = await CliTests.RunAsync("search", "--text", "scene 42", "--data", _server.DataFolder, "--format", "jsonl");
        Assert.True(exit == 0, stderr);
        var line = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal("cards/slate.png", line.GetProperty("image").GetProperty("key").GetString());

        // The export carries every image's text.
        (exit, stdout, stderr) = await CliTests.RunAsync("export", "--data", _server.DataFolder);
        Assert.True(exit == 0, stderr);
        var exported = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var hotel = exported.Single(e => e.GetProperty("image").GetProperty("key").GetString() == "cards/hotel.jpg");
        Assert.Equal(["Hotel Paradiso", "Rome 1952"], hotel.GetProperty("text").EnumerateArray().Select(l => l.GetProperty("text").GetString()));
    }

    [Fact]
    public async Task A_title_card_between_two_photos_is_one_text_occurrence_with_its_start_and_end()
    {
        await _server.WaitForReadyAsync();
        var video = await VideoTestData.TitleCardBetweenPhotosMp4(await TextCards.PathOfAsync("slate.png"));
        var id = (await _server.UploadAsync("media", "film/slate.mp4", video, "video/mp4")).GetProperty("imageId").GetString()!;
        var details = await WaitForTextAsync(id);
        Assert.Equal("video", details.GetProperty("mediaType").GetString());
        var text = details.GetProperty("text").EnumerateArray().ToList();
        // One occurrence per line of the card, from where the card starts (3 s) to where the eagle starts (6 s), give or take a sample.
        Assert.Equal(["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], text.Select(l => l.GetProperty("text").GetString()));
        foreach (var line in text)
        {
            Assert.InRange(line.GetProperty("startTimestampMillis").GetInt64(), 2900, 3600);
            Assert.InRange(line.GetProperty("endTimestampMillis").GetInt64(), 5900, 6600);
        }

        // A search hit on the video says where the words are.
        var hit = Assert.Single((await _server.GetJsonAsync("/api/v1/images?text=take%207")).GetProperty("images").EnumerateArray());
        var where = Assert.Single(hit.GetProperty("text").EnumerateArray());
        Assert.Equal("TAKE 7", where.GetProperty("text").GetString());
        Assert.InRange(where.GetProperty("startTimestampMillis").GetInt64(), 2900, 3600);
        // The video's labels are there too (they landed first).
        Assert.Contains("Dog", ServerFixture.LabelNames(details));
    }

    [Fact]
    public async Task Cli_label_with_the_TEXT_feature_prints_DetectText_shaped_text()
    {
        var card = await TextCards.PathOfAsync("black-on-white.png");
        var (exit, stdout, stderr) = await CliTests.RunAsync("label", card, "--features", "TEXT", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        var file = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Empty(file.GetProperty("Labels").EnumerateArray());
        var lines = file.GetProperty("TextDetections").EnumerateArray().Where(d => d.GetProperty("Type").GetString() == "LINE").Select(d => d.GetProperty("DetectedText").GetString());
        Assert.Equal(["EMERGENCY EXIT", "Keep this door closed"], lines);
        Assert.StartsWith("ppocr-v4:", file.GetProperty("TextModelVersion").GetString(), StringComparison.Ordinal);

        (exit, stdout, stderr) = await CliTests.RunAsync("label", TestData.Image("dog.jpg"), "--features", "GENERAL_LABELS", "TEXT", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        file = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Contains(file.GetProperty("Labels").EnumerateArray(), l => l.GetProperty("Name").GetString() == "Dog");
        Assert.Empty(file.GetProperty("TextDetections").EnumerateArray());
    }
}
