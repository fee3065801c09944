using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>
/// Image properties computed once by the server's labeling, stored in the catalog, returned with the image and
/// searchable over the REST API by colour and quality.
/// </summary>
public sealed class PropertySearchTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    private async Task<Dictionary<string, JsonElement>> UploadSetAsync()
    {
        var dog = TestData.ImageBytes("dog.jpg");
        var files = new Dictionary<string, byte[]>
        {
            ["red.jpg"] = ImagePropertiesTests.SolidJpeg(230, 15, 25),
            ["blue.jpg"] = ImagePropertiesTests.SolidJpeg(20, 40, 220),
            ["dog.jpg"] = dog,
            ["dog-dark.jpg"] = ImagePropertiesTests.Darkened(dog, 0.35),
            ["dog-blurred.jpg"] = ImagePropertiesTests.Blurred(dog, 5),
        };
        var images = new Dictionary<string, JsonElement>();
        foreach (var (name, bytes) in files)
        {
            var uploaded = await _server.UploadAsync("props", name, bytes);
            images[name] = await _server.WaitForImageAsync(uploaded.GetProperty("imageId").GetString()!);
        }

        return images;
    }

    private async Task<List<string>> KeysAsync(string query)
    {
        var page = await _server.GetJsonAsync($"/api/v1/images?bucket=props&{query}");
        return page.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("key").GetString()!).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task Properties_are_stored_with_the_image_and_searchable_by_colour_and_quality()
    {
        var images = await UploadSetAsync();
        var dog = images["dog.jpg"];
        var properties = dog.GetProperty("imageProperties");
        Assert.InRange(properties.GetProperty("quality").GetProperty("brightness").GetDouble(), 20, 80);
        Assert.True(properties.GetProperty("dominantColors").GetArrayLength() > 1);
        Assert.True(properties.TryGetProperty("foreground", out _));
        // Instances keep their own colours in the catalog.
        var dogLabel = ServerFixture.Label(dog, "Dog");
        Assert.True(dogLabel.GetProperty("instances")[0].GetProperty("dominantColors").GetArrayLength() > 0);
        Assert.Equal("red", images["red.jpg"].GetProperty("imageProperties").GetProperty("dominantColors")[0].GetProperty("simplifiedColor").GetString());

        Assert.Equal(["red.jpg"], await KeysAsync("color=red"));
        Assert.Equal(["blue.jpg"], await KeysAsync("color=Blue"));
        Assert.Empty(await KeysAsync("color=red&color=blue"));
        Assert.Equal(["dog-blurred.jpg", "dog-dark.jpg", "dog.jpg"], await KeysAsync("prefix=dog"));
        Assert.Contains("dog.jpg", await KeysAsync("label=Dog"));
        // The dark copy is the only dim dog; the blurred copy the only soft one.
        Assert.Equal(["dog-dark.jpg"], await KeysAsync("prefix=dog&maxBrightness=30"));
        Assert.Equal(["dog-blurred.jpg", "dog.jpg"], await KeysAsync("prefix=dog&minBrightness=40"));
        Assert.Equal(["dog-blurred.jpg"], await KeysAsync("prefix=dog&maxSharpness=50"));
        Assert.DoesNotContain("red.jpg", await KeysAsync("minContrast=10"));
        // Search results carry the properties too (for galleries).
        var page = await _server.GetJsonAsync("/api/v1/images?bucket=props&color=red");
        Assert.True(page.GetProperty("images")[0].TryGetProperty("imageProperties", out _));

        using var bad = await _server.Client.GetAsync("/api/v1/images?color=chartreuse-ish");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("InvalidColor", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var range = await _server.Client.GetAsync("/api/v1/images?minBrightness=120");
        Assert.Equal(HttpStatusCode.BadRequest, range.StatusCode);
        Assert.Contains("InvalidProperty", await range.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_search_has_the_same_property_and_category_filters()
    {
        await UploadSetAsync();
        async Task<List<string>> Cli(params string[] args)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { TestData.CliDll, "search", "--data", _server.DataFolder, "--bucket", "props", "--format", "jsonl" }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, stderr);
            return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("image").GetProperty("key").GetString()!)
                .Order(StringComparer.Ordinal).ToList();
        }

        Assert.Equal(await KeysAsync("color=red"), await Cli("--color", "red"));
        Assert.Equal(await KeysAsync("category=Animals and Pets"), await Cli("--category", "Animals and Pets"));
        Assert.Equal(["dog-dark.jpg"], await Cli("--prefix", "dog", "--max-brightness", "30"));
        Assert.Equal(["dog-blurred.jpg", "dog.jpg"], await Cli("--prefix", "dog", "--min-brightness", "40"));
        // --max-sharpness and --max-contrast were missing from the CLI although the REST API has them.
        Assert.Equal(await KeysAsync("prefix=dog&maxSharpness=50"), await Cli("--prefix", "dog", "--max-sharpness", "50"));
        Assert.Equal(["dog-blurred.jpg"], await Cli("--prefix", "dog", "--max-sharpness", "50"));
        Assert.Equal(await KeysAsync("maxContrast=5"), await Cli("--max-contrast", "5"));
        Assert.Contains("red.jpg", await Cli("--max-contrast", "5"));
    }
}
