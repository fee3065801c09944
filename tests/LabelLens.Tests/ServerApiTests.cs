using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>The upload → trigger → label → catalog pipeline over real HTTP, with the real model.</summary>
public sealed class ServerApiTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task An_uploaded_photo_is_labeled_with_boxes()
    {
        var upload = await _server.UploadAsync("photos", "pets/dog.jpg", TestData.ImageBytes("dog.jpg"));
        Assert.Equal("queued", upload.GetProperty("status").GetString());
        Assert.True(upload.GetProperty("enqueued").GetBoolean());
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(TestData.ImageBytes("dog.jpg"))), upload.GetProperty("eTag").GetString());
        var id = upload.GetProperty("imageId").GetString()!;

        var image = await _server.WaitForImageAsync(id);

        var record = image.GetProperty("image");
        Assert.Equal("labeled", record.GetProperty("status").GetString());
        Assert.Equal((768, 576), (record.GetProperty("width").GetInt32(), record.GetProperty("height").GetInt32()));
        Assert.StartsWith("yolox-nano:", record.GetProperty("modelVersion").GetString(), StringComparison.Ordinal);
        var names = ServerFixture.LabelNames(image);
        Assert.Contains("Dog", names);
        Assert.Contains("Bicycle", names);
        Assert.Contains("Animal", names);
        var dog = ServerFixture.Label(image, "Dog");
        var box = dog.GetProperty("instances")[0].GetProperty("boundingBox");
        Assert.InRange(box.GetProperty("left").GetDouble() + (box.GetProperty("width").GetDouble() / 2), 0.15, 0.45);
        Assert.Equal("model", dog.GetProperty("source").GetString());
        Assert.Equal(55, dog.GetProperty("minConfidence").GetDouble());
        // The detected label comes before its equally confident ancestors.
        Assert.True(names.IndexOf("Dog") < names.IndexOf("Animal"));
    }

    [Fact]
    public async Task The_image_id_is_deterministic_same_bytes_are_a_no_op_and_new_bytes_relabel()
    {
        var first = await _server.UploadAsync("photos", "shot.jpg", TestData.ImageBytes("dog.jpg"));
        var id = first.GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(id);

        var again = await _server.UploadAsync("photos", "shot.jpg", TestData.ImageBytes("dog.jpg"), expected: HttpStatusCode.OK);
        Assert.Equal(id, again.GetProperty("imageId").GetString());
        Assert.False(again.GetProperty("enqueued").GetBoolean());
        Assert.Equal("labeled", again.GetProperty("status").GetString());

        var replaced = await _server.UploadAsync("photos", "shot.jpg", TestData.ImageBytes("eagle.jpg"));
        Assert.Equal(id, replaced.GetProperty("imageId").GetString());
        var image = await _server.WaitForImageAsync(id);
        var names = ServerFixture.LabelNames(image);
        Assert.Contains("Bird", names);
        Assert.DoesNotContain("Dog", names);

        var queue = await _server.GetJsonAsync("/api/v1/queue");
        Assert.Equal(2, queue.GetProperty("jobs").GetProperty("done").GetInt64());
    }

    [Fact]
    public async Task Download_supports_range_and_head_gives_size_and_etag()
    {
        var bytes = TestData.ImageBytes("giraffe.jpg");
        var upload = await _server.UploadAsync("photos", "zoo/giraffe 1 ü.jpg", bytes);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/buckets/photos/objects/" + ServerFixture.Escape("zoo/giraffe 1 ü.jpg"));
        request.Headers.Range = new RangeHeaderValue(100, 199);
        using var partial = await _server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(bytes[100..200], await partial.Content.ReadAsByteArrayAsync());

        using var whole = await _server.Client.GetAsync("/api/v1/buckets/photos/objects/" + ServerFixture.Escape("zoo/giraffe 1 ü.jpg"));
        Assert.Equal(bytes, await whole.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/jpeg", whole.Content.Headers.ContentType?.MediaType);

        using var head = await _server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/v1/buckets/photos/objects/" + ServerFixture.Escape("zoo/giraffe 1 ü.jpg")));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
        Assert.Equal($"\"{upload.GetProperty("eTag").GetString()}\"", head.Headers.ETag?.Tag);
        Assert.Equal(upload.GetProperty("imageId").GetString(), head.Headers.GetValues("X-LabelLens-Image-Id").Single());

        // The key maps to a readable path inside the bucket folder.
        Assert.True(File.Exists(Path.Combine(_server.DataFolder, "objects", "photos", "@zoo", "=giraffe 1 ü.jpg")));
    }

    [Fact]
    public async Task Delete_removes_the_object_and_its_labels()
    {
        var upload = await _server.UploadAsync("photos", "to-delete.jpg", TestData.ImageBytes("dog.jpg"));
        var id = upload.GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(id);

        using var delete = await _server.Client.DeleteAsync("/api/v1/buckets/photos/objects/to-delete.jpg");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);

        using var image = await _server.Client.GetAsync($"/api/v1/images/{id}");
        Assert.Equal(HttpStatusCode.NotFound, image.StatusCode);
        Assert.Equal("application/problem+json", image.Content.Headers.ContentType?.MediaType);
        using var download = await _server.Client.GetAsync("/api/v1/buckets/photos/objects/to-delete.jpg");
        Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        Assert.False(File.Exists(Path.Combine(_server.DataFolder, "objects", "photos", "=to-delete.jpg")));
        using var again = await _server.Client.DeleteAsync("/api/v1/buckets/photos/objects/to-delete.jpg");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Deleting_while_queued_is_safe()
    {
        // Upload many, delete them straight away: whatever the workers were doing, nothing comes back.
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add((await _server.UploadAsync("photos", $"burst/{i}.jpg", TestData.ImageBytes("kite.jpg"))).GetProperty("imageId").GetString()!);
        }

        for (var i = 0; i < 6; i++)
        {
            using var delete = await _server.Client.DeleteAsync($"/api/v1/buckets/photos/objects/burst/{i}.jpg");
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        await Task.Delay(1500);
        foreach (var id in ids)
        {
            using var image = await _server.Client.GetAsync($"/api/v1/images/{id}");
            Assert.Equal(HttpStatusCode.NotFound, image.StatusCode);
        }

        var queue = await _server.GetJsonAsync("/api/v1/queue");
        Assert.Equal(0, queue.GetProperty("jobs").GetProperty("depth").GetInt64());
        Assert.Equal(0, queue.GetProperty("images").GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Multipart_upload_stores_several_files_and_list_pages_with_a_prefix()
    {
        using var form = new MultipartFormDataContent();
        foreach (var name in new[] { "eagle.jpg", "horses.jpg", "person.jpg" })
        {
            var file = new ByteArrayContent(TestData.ImageBytes(name));
            file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            form.Add(file, "files", name);
        }

        using var response = await _server.Client.PostAsync("/api/v1/buckets/album/objects?prefix=2026/", form);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var files = body.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(3, files.Count);
        foreach (var file in files)
        {
            await _server.WaitForImageAsync(file.GetProperty("object").GetProperty("imageId").GetString()!);
        }

        await _server.UploadAsync("album", "other/x.jpg", TestData.ImageBytes("scream.jpg"));
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await _server.GetJsonAsync($"/api/v1/buckets/album/objects?prefix=2026/&maxKeys=2{(token is null ? "" : "&continuationToken=" + token)}");
            keys.AddRange(page.GetProperty("objects").EnumerateArray().Select(o => o.GetProperty("key").GetString()!));
            token = page.GetProperty("nextContinuationToken").GetString();
        }
        while (token is not null);

        Assert.Equal(["2026/eagle.jpg", "2026/horses.jpg", "2026/person.jpg"], keys);

        // Out-of-range page sizes and tokens this server never gave are refused, not quietly clamped or read.
        foreach (var query in new[] { "maxKeys=-1", "maxKeys=0", "maxKeys=100000", "continuationToken=garbage", "continuationToken=Z2FyYmFnZQ" })
        {
            using var refused = await _server.Client.GetAsync($"/api/v1/buckets/album/objects?{query}");
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)refused.StatusCode}");
        }
    }

    [Fact]
    public async Task Manual_edits_survive_a_relabel()
    {
        var id = (await _server.UploadAsync("photos", "edit.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(id);

        using (var remove = await _server.Client.DeleteAsync($"/api/v1/images/{id}/labels/Bicycle"))
        {
            Assert.Equal(HttpStatusCode.OK, remove.StatusCode);
        }

        using (var add = await _server.Client.PostAsJsonAsync($"/api/v1/images/{id}/labels", new { name = "Good Boy" }))
        {
            Assert.Equal(HttpStatusCode.OK, add.StatusCode);
        }

        using (var relabel = await _server.Client.PostAsync($"/api/v1/images/{id}/relabel", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, relabel.StatusCode);
        }

        await Task.Delay(200);
        var image = await _server.WaitForImageAsync(id);
        var names = ServerFixture.LabelNames(image);
        Assert.Contains("Dog", names);
        Assert.DoesNotContain("Bicycle", names);
        Assert.Equal("manual", ServerFixture.Label(image, "Good Boy").GetProperty("source").GetString());
        var queue = await _server.GetJsonAsync("/api/v1/queue");
        Assert.Equal(2, queue.GetProperty("jobs").GetProperty("done").GetInt64());
    }

    [Fact]
    public async Task Health_metrics_and_openapi_are_served()
    {
        Assert.Equal("ok", await _server.Client.GetStringAsync("/healthz"));
        Assert.Equal("ready", await _server.Client.GetStringAsync("/readyz"));
        var id = (await _server.UploadAsync("photos", "m.jpg", TestData.ImageBytes("eagle.jpg"))).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(id);

        var metrics = await _server.Client.GetStringAsync("/metrics");
        Assert.Contains("labellens_uploads_total{result=\"stored\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("labellens_jobs{state=\"done\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("labellens_queue_depth 0", metrics, StringComparison.Ordinal);
        Assert.Contains("labellens_labeling_seconds_count 1", metrics, StringComparison.Ordinal);

        var openApi = await _server.GetJsonAsync("/openapi/v1.json");
        var paths = openApi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/images/{id}", paths);
        Assert.Contains("/api/v1/buckets/{bucket}/objects/{key}", paths);
    }
}

/// <summary>API keys: when configured, every /api call needs one; health stays open.</summary>
public sealed class ApiKeyTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new() { ["Server:ApiKeys:0"] = "s3cret-key" });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Calls_without_a_valid_key_are_refused()
    {
        using var anonymous = await _server.Client.GetAsync("/api/v1/queue");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("API key", await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/v1/queue");
        wrong.Headers.Add("X-Api-Key", "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.Client.SendAsync(wrong)).StatusCode);

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/v1/queue");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await _server.Client.SendAsync(bearer)).StatusCode);

        using var header = new HttpRequestMessage(HttpMethod.Get, "/api/v1/queue");
        header.Headers.Add("X-Api-Key", "s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await _server.Client.SendAsync(header)).StatusCode);

        Assert.Equal("ok", await _server.Client.GetStringAsync("/healthz"));
    }
}

/// <summary>Search and facets over the HTTP API after uploading every sample photo.</summary>
public sealed class SearchApiTests : IAsyncLifetime
{
    private static readonly string[] Photos = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg"];
    private readonly ServerFixture _server = new();

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        foreach (var photo in Photos)
        {
            var id = (await _server.UploadAsync("samples", photo, TestData.ImageBytes(photo))).GetProperty("imageId").GetString()!;
            await _server.WaitForImageAsync(id);
        }
    }

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task A_parent_label_finds_its_children()
    {
        var keys = await SearchKeysAsync("label=Animal");
        Assert.Equal(["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "person.jpg"], keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Several_labels_must_all_match()
    {
        Assert.Equal(["person.jpg"], await SearchKeysAsync("label=Dog&label=Horse"));
        Assert.Equal(["dog.jpg", "person.jpg"], (await SearchKeysAsync("label=dog")).Order(StringComparer.Ordinal));
        Assert.Equal(["dog.jpg"], await SearchKeysAsync("label=Dog&notLabel=Person"));
        Assert.Equal(["giraffe.jpg", "kite.jpg"], (await SearchKeysAsync("anyLabel=Zebra&anyLabel=Kite")).Order(StringComparer.Ordinal));
        Assert.Equal(["horses.jpg"], await SearchKeysAsync("count=Horse:3"));
        Assert.Empty(await SearchKeysAsync("label=Zebra&minConfidence=90"));
    }

    [Fact]
    public async Task Label_facets_count_images_per_label()
    {
        var facets = (await _server.GetJsonAsync("/api/v1/labels")).GetProperty("labels").EnumerateArray()
            .ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("images").GetInt64());

        Assert.Equal(5, facets["Animal"]);
        Assert.Equal(2, facets["Dog"]);
        Assert.Equal(2, facets["Horse"]);
        Assert.Equal(2, facets["Person"]);
        Assert.Equal(1, facets["Giraffe"]);
        Assert.Equal(1, facets["Bird"]);
        Assert.Equal(1, facets["Kite"]);

        var completions = (await _server.GetJsonAsync("/api/v1/labels?prefix=gi")).GetProperty("labels").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.Equal(["Giraffe"], completions);
    }

    private async Task<List<string>> SearchKeysAsync(string query)
    {
        var result = await _server.GetJsonAsync("/api/v1/images?" + query);
        return result.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("key").GetString()!).ToList();
    }
}
