using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace LabelLens.Tests;

/// <summary>What the configured analyses can find, over HTTP and in the web UI, and searching by alias.</summary>
public sealed class VocabularyTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Vocabulary_lists_every_label_the_configured_models_find_with_parents_aliases_and_analyses()
    {
        var vocabulary = await VocabularyAsync(_server, "");
        Assert.Equal(["objects", "classes", "faces"], vocabulary.GetProperty("analyses").EnumerateArray().Select(a => a.GetProperty("task").GetString()));
        Assert.Equal(1000, vocabulary.GetProperty("analyses")[1].GetProperty("classes").GetInt32());
        var labels = vocabulary.GetProperty("labels").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        Assert.True(labels.Count > 500, $"{labels.Count} labels");
        Assert.Equal(["classes", "objects"], Strings(labels["Dog"], "analyses"));
        Assert.Equal(["classes"], Strings(labels["Beach"], "analyses"));
        Assert.Equal(["objects"], Strings(labels["Giraffe"], "analyses")); // ImageNet has no giraffe
        Assert.Equal(["faces"], Strings(labels["Face"], "analyses"));
        Assert.Contains("Alaskan Malamute", Strings(labels["Dog"], "aliases"));
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], Strings(labels["Dog"], "parents"));

        // One name or alias: the label it means, or 404 saying no configured model finds it.
        var seashore = await VocabularyAsync(_server, "?q=seashore");
        Assert.Equal("Beach", seashore.GetProperty("labels")[0].GetProperty("name").GetString());
        using var unicorn = await _server.Client.GetAsync("/api/v1/labels/vocabulary?q=Unicorn");
        Assert.Equal(HttpStatusCode.NotFound, unicorn.StatusCode);
        Assert.Contains("No configured model finds 'Unicorn'", await unicorn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using (var misspelt = await _server.Client.GetAsync("/api/v1/labels/vocabulary?query=Beach"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, misspelt.StatusCode);
        }

        var prefix = await VocabularyAsync(_server, "?prefix=mounta");
        Assert.Contains("Mountain", prefix.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Aliases_are_searchable_Puppy_and_the_breed_find_the_dog()
    {
        var dog = (await _server.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        var eagle = (await _server.UploadAsync("photos", "eagle.jpg", TestData.ImageBytes("eagle.jpg"))).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(dog);
        await _server.WaitForImageAsync(eagle);

        foreach (var term in new[] { "Puppy", "alaskan malamute", "Dog" })
        {
            var found = await _server.GetJsonAsync($"/api/v1/images?label={Uri.EscapeDataString(term)}");
            Assert.Equal([dog], found.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("id").GetString()));
        }

        var raptors = await _server.GetJsonAsync("/api/v1/images?label=Raptor");
        Assert.Equal([eagle], raptors.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("id").GetString()));

        // The image record says which analyses and models produced its labels.
        var analyses = (await _server.GetJsonAsync($"/api/v1/images/{dog}")).GetProperty("analyses").EnumerateArray().ToList();
        Assert.Equal(["classes", "faces", "objects"], analyses.Select(a => a.GetProperty("analysis").GetString()));
        Assert.Equal("cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f", analyses[0].GetProperty("modelSha256").GetString());
        Assert.Equal(55, analyses[2].GetProperty("minConfidence").GetDouble());
    }

    [Fact]
    public async Task With_the_detector_alone_Beach_is_not_findable_and_the_page_says_so()
    {
        var detectorOnly = new ServerFixture(new() { ["Analysis:Tasks"] = "objects" });
        await detectorOnly.InitializeAsync();
        await using var browser = await Browser.LaunchAsync();
        try
        {
            Assert.Equal(["objects"], (await VocabularyAsync(detectorOnly, "")).GetProperty("analyses").EnumerateArray().Select(a => a.GetProperty("task").GetString()));
            using (var beach = await detectorOnly.Client.GetAsync("/api/v1/labels/vocabulary?q=Beach"))
            {
                Assert.Equal(HttpStatusCode.NotFound, beach.StatusCode);
            }

            var dog = (await detectorOnly.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
            await detectorOnly.WaitForImageAsync(dog);

            await browser.RunAsync(nameof(With_the_detector_alone_Beach_is_not_findable_and_the_page_says_so), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
            {
                await page.GotoAsync(detectorOnly.Client.BaseAddress + "?label=Beach");
                await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "No configured model finds “Beach”" })).ToBeVisibleAsync();

                // A label the models can find but no image has yet is an ordinary empty search.
                await page.GotoAsync(detectorOnly.Client.BaseAddress + "?label=Giraffe");
                await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Nothing matches this search" })).ToBeVisibleAsync();

                // Autocomplete offers vocabulary labels that no image has yet.
                await page.Locator("#search-input").FillAsync("Zeb");
                await Assertions.Expect(page.GetByRole(AriaRole.Option, new() { Name = "Zebra" })).ToBeVisibleAsync();

                // The picture's details name the analyses and models that labeled it.
                await page.GotoAsync(detectorOnly.Client.BaseAddress + $"?image={dog}");
                await Assertions.Expect(page.Locator("#detail dl.meta")).ToContainTextAsync("objects: yolox-nano");
            });
        }
        finally
        {
            await detectorOnly.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_missing_classifier_says_which_analysis_needs_it_and_the_page_says_nothing_is_labeled()
    {
        // A models folder with the detector only, while the default tasks want the classifier too.
        var models = Directory.CreateTempSubdirectory("labellens-models-").FullName;
        Directory.CreateSymbolicLink(Path.Combine(models, "yolox-nano"), Path.Combine(TestData.ModelsFolder, "yolox-nano"));
        var server = new ServerFixture(new() { ["Models:Folder"] = models });
        await server.InitializeAsync();
        await using var browser = await Browser.LaunchAsync();
        try
        {
            string ready;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            do
            {
                await Task.Delay(100);
                ready = await (await server.Client.GetAsync("/readyz")).Content.ReadAsStringAsync();
            }
            while (ready == "loading models" && DateTime.UtcNow < deadline);
            Assert.StartsWith("not labeling: The classes analysis needs its model: Model 'mobilenetv2-int8' is not in", ready, StringComparison.Ordinal);
            Assert.Contains("Analysis:Tasks=objects", ready, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(models, "mobilenetv2-int8"))); // no empty folder left by the failed lookup

            await browser.RunAsync(nameof(A_missing_classifier_says_which_analysis_needs_it_and_the_page_says_nothing_is_labeled), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
            {
                await page.GotoAsync(server.Client.BaseAddress!.ToString());
                var banner = page.Locator("#health");
                await Assertions.Expect(banner).ToBeVisibleAsync();
                await Assertions.Expect(banner).ToContainTextAsync("Nothing is being labeled: The classes analysis needs its model");
            });
        }
        finally
        {
            await server.DisposeAsync();
            Directory.Delete(models, recursive: true);
        }
    }

    [Fact]
    public async Task An_alias_search_keeps_its_tiles_when_they_are_labeled_again_live()
    {
        var dog = (await _server.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(dog);
        await using var browser = await Browser.LaunchAsync();
        await browser.RunAsync(nameof(An_alias_search_keeps_its_tiles_when_they_are_labeled_again_live), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(_server.Client.BaseAddress + "?label=Puppy");
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
            using (var relabel = await _server.Client.PostAsync($"/api/v1/images/{dog}/relabel", null))
            {
                relabel.EnsureSuccessStatusCode();
            }

            // The relabel's LabelsReady reaches the page, which checks the tile against the search again: Puppy is
            // Dog's alias, so the tile stays (it was dropped when only label names were compared).
            await _server.WaitForImageAsync(dog);
            await page.WaitForTimeoutAsync(1500);
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
        });
    }

    private static async Task<JsonElement> VocabularyAsync(ServerFixture server, string query)
    {
        // The models load in the background: the vocabulary answers 503 until they have.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await server.Client.GetAsync("/api/v1/labels/vocabulary" + query);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline)
            {
                response.EnsureSuccessStatusCode();
                return JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
            }

            await Task.Delay(200);
        }
    }

    private static List<string> Strings(JsonElement label, string property) =>
        label.GetProperty(property).EnumerateArray().Select(e => e.GetString()!).ToList();
}
