using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using static LabelLens.Tests.ServeProcess;

namespace LabelLens.Tests;

/// <summary>
/// `labellens serve` as a real child process, killed with SIGKILL while jobs are in flight and started
/// again on the same data: every acknowledged upload must end labeled exactly once.
/// </summary>
public sealed class DurabilityTests : IDisposable
{
    private readonly ServeProcess _serve = new("labellens-durable-");

    public void Dispose() => _serve.Dispose();

    [Fact]
    public async Task Uploads_acknowledged_before_a_SIGKILL_are_all_labeled_exactly_once_after_restart()
    {
        var client = _serve.Client;
        await _serve.StartAsync(OneWorker);

        string[] photos = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg"];
        var acknowledged = new List<(string Key, string Photo)>();
        for (var i = 0; i < 42; i++)
        {
            var photo = photos[i % photos.Length];
            var key = $"batch/{i:D3}-{photo}";
            using var body = new ByteArrayContent(TestData.ImageBytes(photo));
            body.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            using var response = await client.PutAsync($"/api/v1/buckets/durable/objects/{key}", body);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            acknowledged.Add((key, photo));
        }

        var queue = JsonDocument.Parse(await client.GetStringAsync("/api/v1/queue")).RootElement;
        var inFlight = queue.GetProperty("jobs").GetProperty("depth").GetInt64();
        Assert.True(inFlight > 0, "the kill must happen while jobs are still queued or running");
        await _serve.KillAsync();

        await _serve.StartAsync(OneWorker);
        // Well inside the 120 s lease: the new server must take the dead one's jobs back at once.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (JsonDocument.Parse(await client.GetStringAsync("/api/v1/queue")).RootElement.GetProperty("images").GetProperty("labeled").GetInt64() < acknowledged.Count)
        {
            Assert.True(DateTime.UtcNow < deadline, "not everything was labeled after the restart");
            await Task.Delay(200);
        }

        _serve.Stop();
        await using var db = _serve.OpenCatalog();
        Assert.Equal(acknowledged.Count, Count(db, "SELECT COUNT(*) FROM images WHERE status = 'labeled'"));
        Assert.Equal(acknowledged.Count, Count(db, "SELECT COUNT(*) FROM images"));
        // Exactly one finished job per image: nothing lost, nothing labeled twice.
        Assert.Equal(0, Count(db, "SELECT COUNT(*) FROM (SELECT image_id FROM jobs WHERE state = 'done' GROUP BY image_id HAVING COUNT(*) <> 1)"));
        Assert.Equal(acknowledged.Count, Count(db, "SELECT COUNT(DISTINCT image_id) FROM jobs WHERE state = 'done'"));
        Assert.Equal(0, Count(db, "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"));
        // No duplicated rows: each dog photo has exactly one Dog box, each giraffe photo one Giraffe box.
        foreach (var (photo, label) in new[] { ("dog.jpg", "Dog"), ("giraffe.jpg", "Giraffe") })
        {
            var expected = acknowledged.Count(a => a.Photo == photo);
            Assert.Equal(expected, Count(db, $"SELECT COUNT(*) FROM instances n JOIN images i ON i.id = n.image_id WHERE n.name = '{label}' AND i.key LIKE '%{photo}'"));
        }
    }

    /// <summary>
    /// The crash window between the store and the catalog, made for real: another process holds the catalog's
    /// write lock, so two uploads (a new key, and new bytes for a recorded key) have their bytes in place and
    /// wait for the catalog when serve is killed. Neither client got a 2xx. At the next start the new key's file
    /// is removed (no orphan stays for ever) and the replaced key's catalog row is brought up to its bytes.
    /// </summary>
    [Fact]
    public async Task Bytes_stored_but_never_recorded_before_a_SIGKILL_are_reconciled_at_the_next_start()
    {
        var client = _serve.Client;
        await _serve.StartAsync(OneWorker);
        using (var first = await client.PutAsync("/api/v1/buckets/crash/objects/kept.jpg", new ByteArrayContent(TestData.ImageBytes("dog.jpg"))))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var objects = Path.Combine(_serve.DataFolder, "objects", "crash");
        var replacement = TestData.ImageBytes("eagle.jpg");
        await using (var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_serve.DataFolder, "catalog.db")};Pooling=False"))
        {
            await blocker.OpenAsync();
            await using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                await begin.ExecuteNonQueryAsync();
            }

            var orphan = client.PutAsync("/api/v1/buckets/crash/objects/orphan.jpg", new ByteArrayContent(TestData.ImageBytes("giraffe.jpg")));
            var overwrite = client.PutAsync("/api/v1/buckets/crash/objects/kept.jpg", new ByteArrayContent(replacement));
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!File.Exists(Path.Combine(objects, "=orphan.jpg")) || !(await File.ReadAllBytesAsync(Path.Combine(objects, "=kept.jpg"))).SequenceEqual(replacement))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the uploads' bytes never reached objects/:\n{_serve.LogTail()}");
                await Task.Delay(50);
            }

            Assert.Equal(2, Directory.GetFiles(Path.Combine(_serve.DataFolder, "pending")).Length);
            await _serve.KillAsync();
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => orphan);
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => overwrite);
        }

        await _serve.StartAsync(OneWorker);

        Assert.False(File.Exists(Path.Combine(objects, "=orphan.jpg")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_serve.DataFolder, "pending")));
        Assert.Contains(_serve.Output, line => line.Contains("1 object file(s) that never got a reply removed, 1 replaced object(s) recorded", StringComparison.Ordinal));
        using (var missing = await client.GetAsync("/api/v1/buckets/crash/objects/orphan.jpg"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // The catalog describes the bytes that are there, and labels them: the eagle, not the dog.
        Assert.Equal(replacement, await client.GetByteArrayAsync("/api/v1/buckets/crash/objects/kept.jpg"));
        var id = S3ClientServeFixture.ImageId("crash", "kept.jpg");
        var deadline2 = DateTime.UtcNow.AddSeconds(60);
        JsonElement image;
        while ((image = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/images/{id}")).RootElement).GetProperty("image").GetProperty("status").GetString() != "labeled")
        {
            Assert.True(DateTime.UtcNow < deadline2, $"kept.jpg was not relabeled:\n{_serve.LogTail()}");
            await Task.Delay(200);
        }

        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(replacement)), image.GetProperty("image").GetProperty("sha256").GetString());
        Assert.Contains("Bird", ServerFixture.LabelNames(image));
    }

    /// <summary>One worker, so a batch of uploads is still being worked through when the kill comes.</summary>
    private static Dictionary<string, string?> OneWorker => new() { ["LABELLENS_Queue__Workers"] = "1" };
}
