using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>
/// `labellens serve` on a PostgreSQL catalog whose storage fills up for real: the catalog's database lives in a
/// tablespace on a 40 MiB tmpfs (the server's WAL stays on its data folder, as a full tablespace rather than a full
/// server), on a PostgreSQL server of the test's own. Filled with a file, uploads are refused as DiskFull (507, S3
/// InternalError), not a 500, while reads and /healthz keep working; freed, uploads work again and every acknowledged
/// one is labeled. Mounting needs root, as the tests run here and in CI; without it the test fails and says so.
/// </summary>
public sealed class PostgresDiskFullTests : IDisposable
{
    private const string Tablespace = "labellens_full";
    private readonly PostgresServer _postgres = PostgresServer.StartPrivate();
    private readonly ServeProcess _serve = new("labellens-pgfull-", ServeProcess.FreePort());
    private readonly string _space = Directory.CreateTempSubdirectory("labellens-pgfull-space-").FullName;
    private string? _database;
    private bool _mounted;

    private string Filler => Path.Combine(_space, "filler.bin");

    public void Dispose()
    {
        _serve.Stop();
        try
        {
            if (_database is not null)
            {
                _postgres.Execute("postgres", $"DROP DATABASE IF EXISTS \"{_database}\" WITH (FORCE)");
            }

            _postgres.Execute("postgres", $"DROP TABLESPACE IF EXISTS {Tablespace}");
        }
        finally
        {
            _postgres.Dispose();
            if (_mounted)
            {
                Run("umount", _space);
            }

            _serve.Dispose();
            Directory.Delete(_space, recursive: true);
        }
    }

    [Fact]
    public async Task Postgres_a_full_catalog_disk_is_a_507_disk_full_reads_keep_working_and_uploads_resume_when_freed()
    {
        var mount = Run("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", _space);
        Assert.True(mount.ExitCode == 0, $"mount -t tmpfs needs root (the tests and CI run as root): {mount.Output}");
        _mounted = true;
        // The tablespace's folder must be empty and the server's own (it runs as `postgres` under root).
        var location = Directory.CreateDirectory(Path.Combine(_space, "pg")).FullName;
        if (_postgres.RunAs is { } user)
        {
            PostgresServer.Run("chown", [$"{user}:{user}", location], null);
        }

        _postgres.Execute("postgres", $"CREATE TABLESPACE {Tablespace} LOCATION '{location}'");
        _database = $"pgfull_{Environment.ProcessId}";
        _postgres.Execute("postgres", $"CREATE DATABASE \"{_database}\" TABLESPACE {Tablespace}");
        await _serve.StartAsync(new Dictionary<string, string?>
        {
            ["LABELLENS_CATALOG"] = _postgres.Url(_database),
            ["LABELLENS_Server__S3AllowAnonymous"] = "true",
            ["LABELLENS_Queue__Workers"] = "1",
            ["LABELLENS_Queue__LeaseSeconds"] = "600",
            ["LABELLENS_Analysis__Tasks"] = "objects",
        });
        var client = _serve.Client;
        var accepted = new List<string> { await PutAsync("dog.jpg") };

        // Full. Rows still fit in the pages the tables already have; the upload that needs a new page is refused.
        FillUp();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 300 && refused is null; i++)
        {
            var response = await client.PutAsync($"/api/v1/buckets/full/objects/more/{i:D3}.jpg", new ByteArrayContent(TestData.ImageBytes("eagle.jpg")));
            if (response.StatusCode == HttpStatusCode.Created)
            {
                accepted.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString()!);
                response.Dispose();
            }
            else
            {
                refused = response;
            }
        }

        Assert.True(refused is not null, $"300 uploads fit on a full catalog disk: the catalog is not on the tablespace?\n{_serve.LogTail()}");
        using (refused)
        {
            var text = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)refused.StatusCode}: {text}\n{_serve.LogTail()}");
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal("DiskFull", problem.GetProperty("code").GetString());
            var detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains("catalog database server's disk is full", detail, StringComparison.Ordinal);
            Assert.Contains("No space left on device", detail, StringComparison.Ordinal);
            Assert.Contains("nothing was written", detail, StringComparison.Ordinal);
        }

        // The same over S3: a disk-full refusal (507 InternalError, as for a full local disk), not a bare 500.
        using (var s3 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_serve.S3Port}") })
        using (var put = await s3.PutAsync("/full/s3.jpg", new ByteArrayContent(TestData.ImageBytes("kite.jpg"))))
        {
            var xml = await put.Content.ReadAsStringAsync();
            Assert.True(put.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)put.StatusCode}: {xml}");
            Assert.Contains("<Code>InternalError</Code>", xml, StringComparison.Ordinal);
            Assert.Contains("disk is full", xml, StringComparison.Ordinal);
        }

        // Still serving: health, reads of what is there, and the refused upload left nothing behind. Still ready too:
        // this node's own disk is fine, and every node shares the full catalog, so sending traffic elsewhere would
        // not help (a full local disk does make /readyz fail, DiskFullTests).
        Assert.Equal("ok", await client.GetStringAsync("/healthz"));
        using (var ready = await client.GetAsync("/readyz"))
        {
            Assert.True(ready.IsSuccessStatusCode, $"/readyz {(int)ready.StatusCode}: {await ready.Content.ReadAsStringAsync()}");
        }

        Assert.Contains(_serve.Output, line => line.Contains("The catalog database server's disk is full", StringComparison.Ordinal));
        Assert.Equal(TestData.ImageBytes("dog.jpg"), await client.GetByteArrayAsync("/api/v1/buckets/full/objects/dog.jpg"));
        Assert.Equal(accepted[0], (await GetJsonAsync($"/api/v1/images/{accepted[0]}")).GetProperty("image").GetProperty("id").GetString());
        using (var missing = await client.GetAsync($"/api/v1/buckets/full/objects/more/{accepted.Count - 1:D3}.jpg"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var missing = await client.GetAsync("/api/v1/buckets/full/objects/s3.jpg"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // Space back: the next upload works with no restart, and every acknowledged upload ends labeled (labeling
        // that could not write its results meanwhile was released, not lost).
        File.Delete(Filler);
        accepted.Add(await PutAsync("horses.jpg"));
        var deadline = DateTime.UtcNow.AddSeconds(120);
        foreach (var id in accepted)
        {
            while (Status(await GetJsonAsync($"/api/v1/images/{id}")) is "queued" or "labeling")
            {
                Assert.True(DateTime.UtcNow < deadline, $"{id} is still not labeled 120 s after space returned:\n{_serve.LogTail()}");
                await Task.Delay(200);
            }

            var image = await GetJsonAsync($"/api/v1/images/{id}");
            Assert.True(Status(image) == "labeled", $"{id} ended {Status(image)}: {image}\n{_serve.LogTail()}");
        }

        Assert.False(_serve.Process.HasExited, _serve.LogTail());
    }

    private async Task<string> PutAsync(string photo)
    {
        using var response = await _serve.Client.PutAsync($"/api/v1/buckets/full/objects/{photo}", new ByteArrayContent(TestData.ImageBytes(photo)));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{photo}: {(int)response.StatusCode} {text}\n{_serve.LogTail()}");
        return JsonDocument.Parse(text).RootElement.GetProperty("imageId").GetString()!;
    }

    private async Task<JsonElement> GetJsonAsync(string path) => JsonDocument.Parse(await _serve.Client.GetStringAsync(path)).RootElement;

    private static string? Status(JsonElement image) => image.GetProperty("image").GetProperty("status").GetString();

    /// <summary>Writes a file on the tmpfs until the filesystem takes no more.</summary>
    private void FillUp()
    {
        using var file = new FileStream(Filler, FileMode.CreateNew, FileAccess.Write);
        var chunk = new byte[64 * 1024];
        try
        {
            while (true)
            {
                file.Write(chunk);
                file.Flush();
            }
        }
        catch (IOException)
        {
            // Full: the point.
        }

        Assert.True(new DriveInfo(_space).AvailableFreeSpace < 64 * 1024, $"{_space} is not full: {new DriveInfo(_space).AvailableFreeSpace} bytes free");
    }

    private static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
