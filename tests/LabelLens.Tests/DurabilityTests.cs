using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace LabelLens.Tests;

/// <summary>
/// `labellens serve` as a real child process, killed with SIGKILL while jobs are in flight and started
/// again on the same data: every acknowledged upload must end labeled exactly once.
/// </summary>
public sealed class DurabilityTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("labellens-durable-").FullName;
    private Process? _server;

    public void Dispose()
    {
        Stop();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task Uploads_acknowledged_before_a_SIGKILL_are_all_labeled_exactly_once_after_restart()
    {
        var port = FreePort();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        await StartAsync(port, client);

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
        _server!.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
        await _server.WaitForExitAsync();

        await StartAsync(port, client);
        // Well inside the 120 s lease: the new server must take the dead one's jobs back at once.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (JsonDocument.Parse(await client.GetStringAsync("/api/v1/queue")).RootElement.GetProperty("images").GetProperty("labeled").GetInt64() < acknowledged.Count)
        {
            Assert.True(DateTime.UtcNow < deadline, "not everything was labeled after the restart");
            await Task.Delay(200);
        }

        Stop();
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_data, "catalog.db")};Mode=ReadOnly");
        await db.OpenAsync();
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

    private async Task StartAsync(int port, HttpClient client)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { TestData.CliDll, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--s3-port", "0", "--data", _data, "--models", TestData.ModelsFolder })
        {
            start.ArgumentList.Add(arg);
        }

        // One worker, so a batch of uploads is still being worked through when the kill comes.
        start.Environment["LABELLENS_Queue__Workers"] = "1";
        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                if ((await client.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            Assert.False(_server.HasExited, $"serve exited with {(_server.HasExited ? _server.ExitCode : 0)}");
            Assert.True(DateTime.UtcNow < deadline, "serve did not become ready in 30 s");
            await Task.Delay(100);
        }
    }

    private void Stop()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit();
        }

        _server?.Dispose();
        _server = null;
    }

    private static long Count(SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
