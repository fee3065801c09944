using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LabelLens.Server;
using LabelLens.Storage;
using Microsoft.Extensions.DependencyInjection;
using NetVips;

namespace LabelLens.Tests;

/// <summary>What the web UI needs from the server: the page itself, thumbnails, the live event stream.</summary>
public sealed class WebUiApiTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task The_page_and_its_modules_are_served_from_the_server_itself()
    {
        using var page = await _server.Client.GetAsync("/");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script type=\"module\" src=\"js/app.js\"></script>", html, StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());

        foreach (var (path, type) in new[] { ("/js/app.js", "text/javascript"), ("/js/api.js", "text/javascript"), ("/css/app.css", "text/css"), ("/icon.svg", "image/svg+xml") })
        {
            using var response = await _server.Client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        }

        // Every module the page imports is there (a missing one would leave a blank page).
        var app = await _server.Client.GetStringAsync("/js/app.js");
        foreach (System.Text.RegularExpressions.Match import in System.Text.RegularExpressions.Regex.Matches(app, @"from '\./([a-z]+\.js)'"))
        {
            using var module = await _server.Client.GetAsync($"/js/{import.Groups[1].Value}");
            Assert.True(module.IsSuccessStatusCode, $"{import.Groups[1].Value} is imported but not served");
        }
    }

    [Theory]
    [InlineData(null, 320)]
    [InlineData(160, 160)]
    [InlineData(200, 320)]
    [InlineData(640, 640)]
    public async Task Thumbnails_fit_the_served_size_rounded_up(int? size, int expectedEdge)
    {
        var id = await UploadAsync("thumbs", "dog.jpg");

        using var response = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail{(size is null ? "" : $"?size={size}")}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        using var thumbnail = Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(expectedEdge, Math.Max(thumbnail.Width, thumbnail.Height));
        // The picture keeps its proportions (dog.jpg is 4:3).
        Assert.InRange(thumbnail.Width / (double)thumbnail.Height, 1.3, 1.37);
    }

    [Fact]
    public async Task Thumbnails_are_never_enlarged()
    {
        var id = await UploadAsync("thumbs", "dog.jpg");
        // Width and height are known once the image is labeled.
        var image = (await _server.WaitForImageAsync(id)).GetProperty("image");

        using var response = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=5000");

        using var thumbnail = Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(Math.Min(1280, image.GetProperty("width").GetInt32()), thumbnail.Width);
    }

    [Fact]
    public async Task Thumbnails_carry_an_etag_revalidate_with_304_and_are_cached_on_disk()
    {
        var id = await UploadAsync("thumbs", "eagle.jpg");
        var sha = (await _server.GetJsonAsync($"/api/v1/images/{id}")).GetProperty("image").GetProperty("sha256").GetString();

        using var first = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=320");
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.True(first.Headers.CacheControl?.NoCache, $"Cache-Control: {first.Headers.CacheControl}");
        Assert.True(first.Headers.CacheControl?.Private);
        Assert.Single(Directory.GetFiles(Path.Combine(_server.DataFolder, "thumbnails", "320"), $"{id}.*.jpg", SearchOption.AllDirectories));

        using var revalidate = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{id}/thumbnail?size=320");
        revalidate.Headers.IfNoneMatch.Add(etag);
        using var notModified = await _server.Client.SendAsync(revalidate);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);

        // Another size is another entity.
        using var other = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{id}/thumbnail?size=160");
        other.Headers.IfNoneMatch.Add(etag);
        using var otherResponse = await _server.Client.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, otherResponse.StatusCode);
        Assert.NotEqual(etag, otherResponse.Headers.ETag);

        // A URL naming the content (v = sha256, as the page builds it) may be cached for good.
        using var versioned = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=320&v={sha}");
        Assert.Equal(TimeSpan.FromDays(365), versioned.Headers.CacheControl?.MaxAge);
        Assert.Contains("immutable", versioned.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_video_thumbnail_is_a_poster_frame_and_the_object_serves_ranges_for_seeking()
    {
        var uploaded = await _server.UploadAsync("clips", "shots.mp4", await VideoTestData.ThreeShotsMp4(), "video/mp4");
        var id = uploaded.GetProperty("imageId").GetString()!;
        var details = await _server.WaitForImageAsync(id, TimeSpan.FromSeconds(120));
        Assert.Equal("video", details.GetProperty("mediaType").GetString());
        var sha = details.GetProperty("image").GetProperty("sha256").GetString();

        // A JPEG of the frame 10% in (0.9 s: the dog shot), longest edge 320, not the "no preview" placeholder.
        using var response = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=320&v={sha}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains(ThumbnailEndpoints.PlaceholderHeader));
        Assert.Contains("immutable", response.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        using (var poster = Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync()))
        {
            Assert.Equal((320, 240), (poster.Width, poster.Height));
        }

        using var dogFrame = await _server.Client.GetAsync($"/api/v1/videos/{id}/frame?t=0.9&width=320");
        Assert.Equal(HttpStatusCode.OK, dogFrame.StatusCode);
        Assert.Single(Directory.GetFiles(Path.Combine(_server.DataFolder, "thumbnails", "320"), $"{id}.*.jpg", SearchOption.AllDirectories));

        // Revalidation works as for pictures.
        using var revalidate = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{id}/thumbnail?size=320");
        revalidate.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        using var notModified = await _server.Client.SendAsync(revalidate);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // <video> seeks with Range requests on the object download.
        using var range = new HttpRequestMessage(HttpMethod.Get, "/api/v1/buckets/clips/objects/shots.mp4");
        range.Headers.Range = new RangeHeaderValue(1000, 1999);
        using var partial = await _server.Client.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(1000, (await partial.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal("video/mp4", partial.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task New_bytes_at_the_same_key_get_a_new_thumbnail_and_etag()
    {
        var id = await UploadAsync("thumbs", "same-key.jpg", "dog.jpg");
        using var before = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=160");

        await _server.UploadAsync("thumbs", "same-key.jpg", TestData.ImageBytes("eagle.jpg"));
        using var after = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=160");

        Assert.NotEqual(before.Headers.ETag, after.Headers.ETag);
        Assert.NotEqual(await before.Content.ReadAsByteArrayAsync(), await after.Content.ReadAsByteArrayAsync());
        // The old file is gone: one image, one file per size.
        Assert.Single(Directory.GetFiles(Path.Combine(_server.DataFolder, "thumbnails", "160"), $"{id}.*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("text.jpg", "InvalidImageFormat")]
    [InlineData("half.jpg", "InvalidImageFormat")]
    [InlineData("drawing.svg", "InvalidImageFormat")]
    public async Task A_file_that_cannot_be_thumbnailed_gets_a_marked_placeholder_not_an_error(string key, string reason)
    {
        var dog = TestData.ImageBytes("dog.jpg");
        var content = key switch
        {
            "text.jpg" => "not a picture at all"u8.ToArray(),
            "half.jpg" => dog[..(dog.Length / 2)],
            _ => """<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"""u8.ToArray(),
        };
        var id = (await _server.UploadAsync("thumbs", key, content)).GetProperty("imageId").GetString()!;

        for (var attempt = 0; attempt < 2; attempt++)
        {
            // The second time comes from the cached failure, with the same answer.
            using var response = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=320");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/svg+xml", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(reason, response.Headers.GetValues(ThumbnailEndpoints.PlaceholderHeader).Single());
            Assert.True(response.Headers.CacheControl?.NoStore);
            Assert.StartsWith("<svg", (await response.Content.ReadAsStringAsync()).TrimStart(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Thumbnail_of_an_unknown_image_is_404()
    {
        using var response = await _server.Client.GetAsync("/api/v1/images/00000000000000000000000000000000/thumbnail");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Deleting_an_image_drops_its_cached_thumbnails()
    {
        var id = await UploadAsync("thumbs", "to-delete.jpg", "dog.jpg");
        (await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?size=160")).Dispose();
        var folder = Path.Combine(_server.DataFolder, "thumbnails", "160", id[..2]);
        Assert.NotEmpty(Directory.GetFiles(folder, $"{id}.*"));

        (await _server.Client.DeleteAsync("/api/v1/buckets/thumbs/objects/to-delete.jpg")).EnsureSuccessStatusCode();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Directory.GetFiles(folder, $"{id}.*").Length > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the thumbnail of a deleted image is still cached");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task The_event_stream_pushes_created_labeled_and_deleted()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/stream");
        using var response = await _server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        var id = await UploadAsync("live", "dog.jpg");
        var created = await NextEventAsync(reader, id, cts.Token);
        var labeled = await NextEventAsync(reader, id, cts.Token);
        (await _server.Client.DeleteAsync("/api/v1/buckets/live/objects/dog.jpg")).EnsureSuccessStatusCode();
        var deleted = await NextEventAsync(reader, id, cts.Token);

        Assert.Equal(("created", "created"), (created.Event, created.Data.GetProperty("type").GetString()));
        Assert.Equal("labeled", labeled.Event);
        Assert.Equal("deleted", deleted.Event);
        Assert.Equal("live", created.Data.GetProperty("bucket").GetString());
        Assert.Equal("dog.jpg", created.Data.GetProperty("key").GetString());
        Assert.True(created.Id < labeled.Id && labeled.Id < deleted.Id);
    }

    [Fact]
    public async Task A_reconnecting_stream_gets_what_it_missed_after_last_event_id()
    {
        var id = await UploadAsync("live", "eagle.jpg");
        await _server.WaitForImageAsync(id);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/stream");
        request.Headers.Add("Last-Event-ID", "0");
        using var response = await _server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        Assert.Equal("created", (await NextEventAsync(reader, id, cts.Token)).Event);
        Assert.Equal("labeled", (await NextEventAsync(reader, id, cts.Token)).Event);
    }

    [Fact]
    public async Task The_event_stream_says_when_a_worker_takes_an_image()
    {
        // No model, so this server's workers never start: the test plays the worker.
        var models = Directory.CreateTempSubdirectory("labellens-nomodel-");
        var server = new ServerFixture(new() { ["Models:Folder"] = models.FullName });
        await server.InitializeAsync();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/stream");
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            var id = (await server.UploadAsync("live", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
            Assert.Equal("created", (await NextEventAsync(reader, id, cts.Token)).Event);

            var catalog = server.App.Services.GetRequiredService<SqliteCatalog>();
            var job = Assert.Single(await catalog.ClaimJobsAsync("test", 1, new QueueOptions(), cts.Token));
            var labeling = await NextEventAsync(reader, id, cts.Token);
            await catalog.FailJobAsync(job, "InternalError: test", permanent: true, new QueueOptions(), cts.Token);
            var failed = await NextEventAsync(reader, id, cts.Token);

            Assert.Equal(("labeling", 0L), (labeling.Event, labeling.Id));
            Assert.Equal("failed", failed.Event);
            Assert.True(failed.Id > 0);
        }
        finally
        {
            await server.DisposeAsync();
            models.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Throughput_and_categories_answer()
    {
        var id = await UploadAsync("stats", "dog.jpg");
        await _server.WaitForImageAsync(id);

        var throughput = await _server.GetJsonAsync("/api/v1/queue/throughput");
        var categories = await _server.GetJsonAsync("/api/v1/categories");

        Assert.True(throughput.GetProperty("lastMinute").GetInt64() >= 1);
        Assert.True(throughput.GetProperty("meanLabelingMs").GetDouble() > 0);
        Assert.Contains("Animals and Pets", categories.GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
    }

    private async Task<string> UploadAsync(string bucket, string key, string? photo = null)
    {
        using var body = new ByteArrayContent(TestData.ImageBytes(photo ?? key));
        body.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var response = await _server.Client.PutAsync($"/api/v1/buckets/{bucket}/objects/{ServerFixture.Escape(key)}", body);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString()!;
    }

    /// <summary>Reads server-sent events until one about <paramref name="imageId"/>.</summary>
    private static async Task<(long Id, string Event, JsonElement Data)> NextEventAsync(StreamReader reader, string imageId, CancellationToken ct)
    {
        long id = 0;
        string? type = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                // End of an event: the next one starts without an id until it says otherwise.
                id = 0;
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonDocument.Parse(line[6..]).RootElement.Clone();
                if (data.GetProperty("imageId").GetString() == imageId)
                {
                    return (id, type!, data);
                }
            }
        }

        throw new EndOfStreamException("the event stream ended");
    }
}

/// <summary>With API keys on: the page loads without one; images, downloads and the stream use the session cookie, never a key in the URL.</summary>
public sealed class WebUiApiKeyTests : IAsyncLifetime
{
    private const string Key = "ui-s3cret";
    private readonly ServerFixture _server = new(new() { ["Server:ApiKeys:0"] = Key });

    /// <summary>Sends exactly the Cookie header a test sets: no cookie jar that would add the session by itself.</summary>
    private HttpClient _noCookies = null!;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _noCookies = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = _server.Client.BaseAddress };
    }

    public async Task DisposeAsync()
    {
        _noCookies.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task The_page_loads_without_a_key_and_reads_use_a_session_cookie_never_a_key_in_the_url()
    {
        using (var page = await _server.Client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        using var upload = new HttpRequestMessage(HttpMethod.Put, "/api/v1/buckets/keyed/objects/dog.jpg") { Content = new ByteArrayContent(TestData.ImageBytes("dog.jpg")) };
        upload.Headers.Add("X-Api-Key", Key);
        using var uploaded = await _server.Client.SendAsync(upload);
        var id = JsonDocument.Parse(await uploaded.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString();

        // A key in the URL ends up in logs, histories and Referers: it is not accepted anywhere.
        using var without = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail");
        using var inQuery = await _server.Client.GetAsync($"/api/v1/images/{id}/thumbnail?apiKey={Key}");
        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, inQuery.StatusCode);

        // The page trades its key for a cookie the browser sends with <img>, downloads and EventSource.
        using var noKey = await _server.Client.PostAsync("/api/v1/session", null);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        using var open = new HttpRequestMessage(HttpMethod.Post, "/api/v1/session");
        open.Headers.Add("X-Api-Key", Key);
        using var opened = await _noCookies.SendAsync(open);
        Assert.Equal(HttpStatusCode.NoContent, opened.StatusCode);
        var setCookie = Assert.Single(opened.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("labellens_session=", setCookie, StringComparison.Ordinal);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/api", setCookie, StringComparison.OrdinalIgnoreCase);
        var cookie = setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];

        Assert.Equal(HttpStatusCode.OK, await StatusWithCookieAsync($"/api/v1/images/{id}/thumbnail", cookie));
        Assert.Equal(HttpStatusCode.OK, await StatusWithCookieAsync("/api/v1/buckets/keyed/objects/dog.jpg", cookie));
        // A cookie whose signature was altered, or made up, opens nothing.
        var forged = cookie[..^2] + (cookie[^2] == 'A' ? "BB" : "AA");
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync($"/api/v1/images/{id}/thumbnail", forged));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithCookieAsync($"/api/v1/images/{id}/thumbnail", "labellens_session=v1.99999999999.x"));
    }

    private async Task<HttpStatusCode> StatusWithCookieAsync(string path, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", cookie);
        using var response = await _noCookies.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task An_open_event_stream_does_not_hold_up_shutdown()
    {
        var server = new ServerFixture();
        await server.InitializeAsync();
        // Its own client: disposing the fixture's would close the connection from this side.
        using var client = new HttpClient { BaseAddress = server.Client.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events/stream");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {watch.Elapsed}");
    }
}
