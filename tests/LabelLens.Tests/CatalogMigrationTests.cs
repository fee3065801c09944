using System.Net.Http.Json;
using System.Text.Json;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// `labellens catalog migrate --to postgresql://...` on a catalog a real server filled (labeled photos, a labeled video,
/// manual edits): afterwards every CLI command reads the same catalog from PostgreSQL (LABELLENS_CATALOG).
/// </summary>
public sealed class CatalogMigrationTests
{
    [Fact]
    public async Task Migration_keeps_every_image_label_manual_edit_and_video_result()
    {
        using var serve = new ServeProcess("labellens-migrate-");
        await serve.StartAsync();
        var ids = new List<string>();
        foreach (var photo in new[] { "dog.jpg", "eagle.jpg", "kite.jpg" })
        {
            using var body = new ByteArrayContent(TestData.ImageBytes(photo));
            var created = await (await serve.Client.PutAsync($"/api/v1/buckets/films/objects/stills/{photo}", body)).Content.ReadFromJsonAsync<JsonElement>();
            ids.Add(created.GetProperty("imageId").GetString()!);
        }

        using (var clip = new ByteArrayContent(await VideoTestData.CatThenCoffeeMp4()))
        {
            var created = await (await serve.Client.PutAsync("/api/v1/buckets/films/objects/clips/cat-coffee.mp4", clip)).Content.ReadFromJsonAsync<JsonElement>();
            ids.Add(created.GetProperty("imageId").GetString()!);
        }

        foreach (var id in ids)
        {
            await WaitLabeledAsync(serve, id);
        }

        // A person's word on the dog photo: one label added, one removed.
        (await serve.Client.PostAsJsonAsync($"/api/v1/images/{ids[0]}/labels", new { name = "Good Boy" })).EnsureSuccessStatusCode();
        (await serve.Client.DeleteAsync($"/api/v1/images/{ids[0]}/labels/Bicycle")).EnsureSuccessStatusCode();
        var (exit, fromSqlite, stderr) = await CliTests.RunAsync("export", "--data", serve.DataFolder);
        Assert.True(exit == 0, stderr);
        serve.Stop();

        var url = PostgresServer.Instance.CreateDatabase("migrate");
        (exit, var stdout, stderr) = await CliTests.RunAsync("catalog", "migrate", "--to", url, "--data", serve.DataFolder);
        Assert.True(exit == 0, stderr);
        Assert.Contains("Copied", stdout, StringComparison.Ordinal);
        Assert.Matches(@"images\s+4 rows", stderr);

        var onPostgres = new Dictionary<string, string> { ["LABELLENS_CATALOG"] = url };
        (exit, var fromPostgres, stderr) = await CliTests.RunAsync(["export", "--data", serve.DataFolder], onPostgres);
        Assert.True(exit == 0, stderr);
        Assert.Equal(4, fromSqlite.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(fromSqlite, fromPostgres);
        Assert.Contains("Good Boy", fromPostgres, StringComparison.Ordinal);
        (exit, stdout, _) = await CliTests.RunAsync(["search", "--label", "Bicycle", "--format", "jsonl", "--data", serve.DataFolder], onPostgres);
        Assert.Equal(0, exit);
        Assert.DoesNotContain("dog.jpg", stdout, StringComparison.Ordinal); // the removal stayed removed

        // The video's segments and frame results, read through the contracts of both catalogs.
        var sqlite = new SqliteCatalog(serve.DataFolder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
        await using var postgres = new PostgresCatalog(url, TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
        var video = ids[3];
        var segments = await sqlite.GetVideoSegmentsAsync(video, null, false, 0, 1000, default);
        Assert.Contains(segments, s => s.Name == "Cat");
        Assert.Equal(JsonSerializer.Serialize(segments), JsonSerializer.Serialize(await postgres.GetVideoSegmentsAsync(video, null, false, 0, 1000, default)));
        Assert.Equal(JsonSerializer.Serialize(await sqlite.GetVideoAsync(video, default)), JsonSerializer.Serialize(await postgres.GetVideoAsync(video, default)));
        Assert.Equal(JsonSerializer.Serialize(await sqlite.GetDetailsAsync(ids[0], default)), JsonSerializer.Serialize(await postgres.GetDetailsAsync(ids[0], default)));

        // New rows continue after the copied ones; a second migration into a filled catalog is refused.
        Assert.Equal(await sqlite.LastChangeIdAsync(default), await postgres.LastChangeIdAsync(default));
        // Label counts (facets, autocomplete) are rebuilt in one aggregate after the copy: the same as SQLite's.
        foreach (var labeledOnly in new[] { false, true })
        {
            var facets = JsonSerializer.Serialize(await sqlite.LabelFacetsAsync(null, 1000, labeledOnly, default));
            Assert.Contains("Good Boy", facets, StringComparison.Ordinal);
            Assert.Equal(facets, JsonSerializer.Serialize(await postgres.LabelFacetsAsync(null, 1000, labeledOnly, default)));
        }
        (exit, _, stderr) = await CliTests.RunAsync("catalog", "migrate", "--to", url, "--data", serve.DataFolder);
        Assert.NotEqual(0, exit);
        Assert.Contains("already holds images", stderr, StringComparison.Ordinal);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    private static async Task WaitLabeledAsync(ServeProcess serve, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var image = await serve.Client.GetFromJsonAsync<JsonElement>($"/api/v1/images/{id}");
            var status = image.GetProperty("image").GetProperty("status").GetString();
            if (status is "labeled" or "failed")
            {
                Assert.Equal("labeled", status);
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{id} still {status}:\n{serve.LogTail()}");
            await Task.Delay(200);
        }
    }
}
