using System.Globalization;
using System.Threading.Channels;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LabelLens.Tests;

/// <summary>
/// The PostgreSQL catalog's notifications across a restart of the database, on a server of the test's own
/// (<see cref="PostgresServer.StartPrivate"/>; the shared one serves tests running in parallel): the listener hears a
/// queued job, the server is stopped and started again on the same port, and the listener hears the next queued job
/// too, because it reconnected and LISTENs again. Then the same end to end: a `serve --role api` takes uploads and a
/// `serve --role worker`'s idle workers are woken by their notifications (its poll is set to the longest allowed,
/// 60 s, far past the 10 s a job is given to be taken, so nothing else wakes it in time); after the restart the api
/// node's first upload succeeds and the worker takes its job.
/// </summary>
public sealed class PostgresRestartTests
{
    /// <summary>How long a notification may take: far more than it needs, far less than any poll.</summary>
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Postgres_catalog_notifications_are_heard_again_after_the_database_restarts()
    {
        using var server = PostgresServer.StartPrivate();
        await using var catalog = new PostgresCatalog(server.CreateDatabase("listen"), TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
        var heard = Channel.CreateUnbounded<(string Channel, string Payload)>();
        using var stop = new CancellationTokenSource();
        var listening = catalog.ListenAsync((channel, payload) => heard.Writer.TryWrite((channel, payload)), stop.Token);

        // The empty channel says "(re)connected and listening": from then on nothing queued is missed.
        await ExpectAsync(heard, "", listening, server, "the first LISTEN");
        await catalog.RecordUploadAsync(Stored("before.jpg"), "image/jpeg", default);
        await ExpectAsync(heard, PostgresCatalog.JobsChannel, listening, server, "a job queued before the restart");

        // Down for a while (the listener fails to reconnect a few times and backs off), then up on the same port.
        server.StopServer();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(listening.IsCompleted, $"the listener ended when the database went away: {listening.Exception}");
        server.StartServer();

        await ExpectAsync(heard, "", listening, server, "the LISTEN after the restart");
        await catalog.RecordUploadAsync(Stored("after.jpg"), "image/jpeg", default);
        var job = await ExpectAsync(heard, PostgresCatalog.JobsChannel, listening, server, "a job queued after the restart");
        Assert.Equal("image", job);
        Assert.Equal(2, (await catalog.GetQueueCountsAsync(default)).Queued);

        await stop.CancelAsync();
        await listening.WaitAsync(Soon); // cancelling ends it, without an exception
    }

    [Fact]
    public async Task Postgres_restart_api_and_worker_processes_ride_it_out_an_upload_after_it_wakes_the_idle_worker()
    {
        using var server = PostgresServer.StartPrivate();
        var url = server.CreateDatabase("wake");
        var environment = new Dictionary<string, string?>
        {
            ["LABELLENS_CATALOG"] = url,
            ["LABELLENS_MODELS"] = null,
            ["LABELLENS_Server__S3AllowAnonymous"] = "true",
            // Idle workers look for jobs every 60 s on their own (the maximum): within 10 s only a NOTIFY wakes them.
            ["LABELLENS_Queue__PollSeconds"] = "60",
            ["LABELLENS_Queue__Workers"] = "1",
        };
        using var api = new ServeProcess("labellens-pgwake-api-") { ExtraArguments = ["--role", "api"] };
        using var worker = new ServeProcess("labellens-pgwake-w-") { ExtraArguments = ["--role", "worker"] };
        await api.StartAsync(environment);
        await worker.StartAsync(environment);
        // Unpooled: the test's own look into the catalog must not be what trips on a connection the restart killed.
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql(url)) { Pooling = false }.ConnectionString);

        // The api node's store is not the worker's, so the worker fails the attempt ("missing from the store"): that
        // is all this needs to see (attempts counts the claims), without labeling anything.
        await UploadAsync(api, "before.jpg", server);
        await AttemptedAsync(db, "before.jpg", worker, server, "before the restart");

        server.StopServer();
        await WaitForLogAsync(worker, "Lost the catalog's notifications", server);
        await Task.Delay(TimeSpan.FromSeconds(1)); // down a while: reconnect attempts fail and back off
        server.StartServer();
        await WaitForLogAsync(worker, "Listening to the catalog's notifications again", server);

        // The reconnect itself wakes the workers once (anything sent meanwhile was missed); they find nothing, go
        // idle for 60 s, and only the NOTIFY of this upload's job can bring them back within 10 s. The upload is the
        // api node's first request after the restart: it must not trip on a pooled connection the restart killed.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await UploadAsync(api, "after.jpg", server);
        await AttemptedAsync(db, "after.jpg", worker, server, "after the restart");
        Assert.False(worker.Process.HasExited, worker.LogTail());
        Assert.False(api.Process.HasExited, api.LogTail());
    }

    private static async Task UploadAsync(ServeProcess api, string key, PostgresServer server)
    {
        using var response = await api.Client.PutAsync($"/api/v1/buckets/photos/objects/{key}", new ByteArrayContent(TestData.ImageBytes("dog.jpg")));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{key}: {(int)response.StatusCode} {text}\n{api.LogTail()}\n{server.LogTail()}");
    }

    private static StoredObject Stored(string key) =>
        new("photos", key, 1000, key.GetHashCode(StringComparison.Ordinal).ToString("x8", CultureInfo.InvariantCulture), new string('a', 64), DateTimeOffset.UtcNow);

    /// <summary>The next notification on <paramref name="channel"/> (others are skipped); its payload.</summary>
    private static async Task<string> ExpectAsync(Channel<(string Channel, string Payload)> heard, string channel, Task listening, PostgresServer server, string what)
    {
        using var timeout = new CancellationTokenSource(Soon);
        try
        {
            while (true)
            {
                var (name, payload) = await heard.Reader.ReadAsync(timeout.Token);
                if (name == channel)
                {
                    return payload;
                }
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{what}: nothing on '{channel}' within {Soon.TotalSeconds} s (listener {(listening.IsCompleted ? $"ended: {listening.Exception}" : "still running")}).\n{server.LogTail()}");
            throw;
        }
    }

    /// <summary>Waits until the job of <paramref name="key"/> has been claimed by the worker at least once.</summary>
    private static async Task AttemptedAsync(NpgsqlDataSource db, string key, ServeProcess worker, PostgresServer server, string when)
    {
        var deadline = DateTime.UtcNow + Soon;
        while (true)
        {
            await using (var command = db.CreateCommand("SELECT COALESCE(MAX(j.attempts), 0) FROM jobs j JOIN images i ON i.id = j.image_id WHERE i.key = @key"))
            {
                command.Parameters.AddWithValue("key", key);
                if (Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) > 0)
                {
                    return;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"the idle worker did not take the job queued {when} within {Soon.TotalSeconds} s:\n{worker.LogTail()}\n{server.LogTail()}");
            await Task.Delay(100);
        }
    }

    private static async Task WaitForLogAsync(ServeProcess worker, string text, PostgresServer server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!worker.Output.Any(line => line.Contains(text, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the process never logged \"{text}\":\n{worker.LogTail()}\n{server.LogTail()}");
            await Task.Delay(100);
        }
    }
}
