using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>Bad uploads through the API: a clear 4xx or a failed image with a clear error; the server keeps serving.</summary>
public sealed class BadInputApiTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new() { ["Server:MaxObjectBytes"] = "1000000" });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Theory]
    [InlineData("notes.jpg", "InvalidImageFormat: not an image")]
    [InlineData("empty.jpg", "InvalidImageFormat: empty file")]
    [InlineData("half.jpg", "InvalidImageFormat: corrupt or truncated jpeg")]
    public async Task Unusable_files_are_stored_and_fail_labeling_with_a_clear_error(string key, string error)
    {
        var dog = TestData.ImageBytes("dog.jpg");
        var content = key switch
        {
            "notes.jpg" => "just some text"u8.ToArray(),
            "empty.jpg" => [],
            _ => dog[..(dog.Length / 2)],
        };
        var id = (await _server.UploadAsync("bad", key, content)).GetProperty("imageId").GetString()!;

        var image = (await _server.WaitForImageAsync(id)).GetProperty("image");

        Assert.Equal("failed", image.GetProperty("status").GetString());
        Assert.StartsWith(error, image.GetProperty("error").GetString(), StringComparison.Ordinal);
        // Input errors are not retried: the same bytes would fail the same way.
        Assert.Equal(1, image.GetProperty("attempts").GetInt32());
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task An_oversized_upload_is_refused_and_nothing_is_kept()
    {
        using var body = new ByteArrayContent(new byte[1_500_000]);
        using var response = await _server.Client.PutAsync("/api/v1/buckets/bad/objects/huge.bin", body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.DataFolder, "tmp")));
        Assert.False(File.Exists(Path.Combine(_server.DataFolder, "objects", "bad", "=huge.bin")));
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("a/%2e%2e/%2e%2e/%2e%2e/escape.jpg")]
    [InlineData("a/../../../escape.jpg")]
    [InlineData("..%2F..%2Fescape.jpg")]
    [InlineData("%2Fetc%2Fescape.jpg")]
    [InlineData("nul%00byte.jpg")]
    public async Task Hostile_keys_are_refused_and_nothing_lands_outside_the_data_folder(string rawKey)
    {
        var outside = Directory.GetFileSystemEntries(Path.GetDirectoryName(_server.DataFolder)!).Length;
        // Send the path exactly as written: no client-side dot-segment removal or unescaping.
        var raw = new Uri(_server.Client.BaseAddress!.AbsoluteUri.TrimEnd('/') + "/api/v1/buckets/bad/objects/" + rawKey, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(HttpMethod.Put, raw) { Content = new ByteArrayContent(TestData.ImageBytes("dog.jpg")) };

        using var response = await _server.Client.SendAsync(request);

        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{rawKey}: {status} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(outside, Directory.GetFileSystemEntries(Path.GetDirectoryName(_server.DataFolder)!).Length);
        Assert.False(File.Exists("/etc/escape.jpg"));
        Assert.DoesNotContain(
            Directory.EnumerateFiles(Path.Combine(_server.DataFolder, "objects"), "*escape.jpg", SearchOption.AllDirectories),
            f => !f.StartsWith(Path.Combine(_server.DataFolder, "objects", "bad") + "/", StringComparison.Ordinal));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Invalid_names_get_problem_details()
    {
        using var longKey = await _server.Client.PutAsync("/api/v1/buckets/bad/objects/" + new string('k', 1100), new ByteArrayContent([1]));
        await AssertProblemAsync(longKey, HttpStatusCode.BadRequest, "InvalidKey");

        using var badBucket = await _server.Client.PutAsync("/api/v1/buckets/Bad_Bucket/objects/x.jpg", new ByteArrayContent([1]));
        await AssertProblemAsync(badBucket, HttpStatusCode.BadRequest, "InvalidBucketName");

        using var noForm = await _server.Client.PostAsync("/api/v1/buckets/bad/objects", new StringContent("x"));
        await AssertProblemAsync(noForm, HttpStatusCode.BadRequest, "InvalidRequest");

        using var missing = await _server.Client.GetAsync("/api/v1/images/0123");
        await AssertProblemAsync(missing, HttpStatusCode.NotFound, "NoSuchImage");
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
    }

    private async Task AssertStillServingAsync()
    {
        var id = (await _server.UploadAsync("good", $"{Guid.NewGuid():N}.jpg", TestData.ImageBytes("eagle.jpg"))).GetProperty("imageId").GetString()!;
        Assert.Contains("Bird", ServerFixture.LabelNames(await _server.WaitForImageAsync(id)));
    }
}
