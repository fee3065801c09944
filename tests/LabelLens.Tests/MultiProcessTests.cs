using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// LabelLens beyond one process, for real: one `serve --role api` and two `serve --role worker` processes sharing a
/// PostgreSQL catalog (<see cref="PostgresServer"/>) and an S3 store: s3rver, or another LabelLens. Photos go in
/// with `aws s3 sync` through the api node; one worker is SIGKILLed mid-batch; every acknowledged upload ends
/// labeled exactly once and search through the api node finds them.
/// </summary>
public sealed class MultiProcessTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("labellens-multi-");

    private const string AccessKey = "LLMULTIACCESSKEY01";
    private const string SecretKey = "multi/secret+key/0123456789abcdefghij";
    private const int Photos = 200;

    /// <param name="store">
    /// "s3rver": an S3 server that is not LabelLens; "labellens": another LabelLens's S3 endpoint (an api node with a
    /// catalog of its own, so it labels nothing).
    /// </param>
    [Theory]
    [InlineData("s3rver")]
    [InlineData("labellens")]
    public async Task Api_and_two_workers_on_postgres_and_an_s3_store_label_every_upload_exactly_once_when_a_worker_is_killed(string store)
    {
        using var s3rver = store == "s3rver" ? new S3rverProcess("media") : null;
        var storePort = ServeProcess.FreePort();
        using var storeNode = store == "labellens" ? new ServeProcess("labellens-multi-store-", storePort) { ExtraArguments = ["--role", "api"] } : null;
        var (endpoint, storeKey, storeSecret) = s3rver is not null
            ? (s3rver.Endpoint, S3rverProcess.AccessKey, S3rverProcess.AccessKey)
            : ($"http://127.0.0.1:{storePort}", "LLSTOREACCESSKEY01", "store/secret+key/0123456789abcdefghij");
        if (storeNode is not null)
        {
            await storeNode.StartAsync(new Dictionary<string, string?>
            {
                ["LABELLENS_CATALOG"] = PostgresServer.Instance.CreateDatabase("store"),
                ["LABELLENS_ACCESS_KEY"] = storeKey,
                ["LABELLENS_SECRET_KEY"] = storeSecret,
                ["LABELLENS_MODELS"] = null,
            });
            storeNode.Client.DefaultRequestHeaders.Add("X-Api-Key", storeSecret);
            (await storeNode.Client.PutAsync("/api/v1/buckets/media", null)).EnsureSuccessStatusCode();
        }

        var url = PostgresServer.Instance.CreateDatabase("multi");
        var shared = new Dictionary<string, string?>
        {
            ["LABELLENS_CATALOG"] = url,
            ["LABELLENS_STORAGE"] = "s3://media/labellens",
            ["LABELLENS_S3_ENDPOINT"] = endpoint,
            ["AWS_ACCESS_KEY_ID"] = storeKey,
            ["AWS_SECRET_ACCESS_KEY"] = storeSecret,
            ["LABELLENS_ACCESS_KEY"] = AccessKey,
            ["LABELLENS_SECRET_KEY"] = SecretKey,
            ["LABELLENS_MODELS"] = null,
            // A killed worker's jobs come back after 3 s, not the default 2 minutes.
            ["LABELLENS_Queue__LeaseSeconds"] = "3",
            ["LABELLENS_Queue__Workers"] = "2",
            ["LABELLENS_Analysis__Tasks"] = "objects,classes",
        };
        var s3Port = ServeProcess.FreePort();
        using var api = new ServeProcess("labellens-multi-api-", s3Port) { ExtraArguments = ["--role", "api"] };
        using var first = new ServeProcess("labellens-multi-w1-") { ExtraArguments = ["--role", "worker"] };
        using var second = new ServeProcess("labellens-multi-w2-") { ExtraArguments = ["--role", "worker"] };
        await api.StartAsync(shared);
        api.Client.DefaultRequestHeaders.Add("X-Api-Key", SecretKey);
        await first.StartAsync(shared);
        await second.StartAsync(shared);
        first.Client.DefaultRequestHeaders.Add("X-Api-Key", SecretKey);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await first.Client.GetAsync("/api/v1/buckets")).StatusCode); // a worker serves no API
        // ... and no web UI, whose every call would fail there; only health and metrics.
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await first.Client.GetAsync("/")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await first.Client.GetAsync("/js/api.js")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await first.Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await first.Client.GetAsync("/metrics")).StatusCode);

        // 200 photos: the shared ones under many names, as a folder `aws s3 sync` uploads.
        var folder = _work.CreateSubdirectory("photos");
        var sources = Directory.GetFiles(TestData.ImagesFolder, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        for (var i = 0; i < Photos; i++)
        {
            var source = sources[i % sources.Length];
            File.Copy(source, Path.Combine(folder.FullName, $"{i:D3}-{Path.GetFileName(source)}"));
        }

        (await api.Client.PutAsync("/api/v1/buckets/archive", null)).EnsureSuccessStatusCode();
        var sync = Aws(folder.FullName, $"http://127.0.0.1:{s3Port}", "s3", "sync", folder.FullName, "s3://archive/reel1/");

        // Kill the first worker once labeling is under way: whatever it holds is leased to a dead process.
        await using var catalog = NpgsqlDataSource.Create(LabelLens.Storage.Postgres.PostgresConnectionString.ToNpgsql(url));
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (await CountAsync(catalog, "SELECT COUNT(*) FROM jobs WHERE state = 'done'") < 20)
        {
            Assert.True(DateTime.UtcNow < deadline, "labeling did not start:\n" + first.LogTail());
            await Task.Delay(50);
        }

        var killed = first.Process.Id;
        await first.KillAsync();
        var heldWhenKilled = await IdsAsync(catalog, $"SELECT id FROM jobs WHERE state = 'running' AND lease_owner LIKE 'serve:{killed}:%'");
        Assert.Equal(0, await sync.ExitAsync());

        deadline = DateTime.UtcNow.AddSeconds(240);
        while (await CountAsync(catalog, "SELECT COUNT(*) FROM images WHERE status = 'labeled'") < Photos)
        {
            Assert.True(DateTime.UtcNow < deadline, $"not every upload was labeled: {await CountAsync(catalog, "SELECT COUNT(*) FROM images WHERE status = 'labeled'")}/{Photos}\n{second.LogTail()}");
            await Task.Delay(200);
        }

        // Exactly once: one image, one done job and one LabelsReady per upload; the killed worker's jobs were taken over.
        Assert.Equal(Photos, await CountAsync(catalog, "SELECT COUNT(*) FROM images"));
        Assert.Equal(Photos, await CountAsync(catalog, "SELECT COUNT(*) FROM jobs WHERE state = 'done'"));
        Assert.Equal(0, await CountAsync(catalog, "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'failed')"));
        Assert.Equal(Photos, await CountAsync(catalog, "SELECT COUNT(DISTINCT image_id) FROM events WHERE type = 'LabelsReady'"));
        Assert.Equal(Photos, await CountAsync(catalog, "SELECT COUNT(*) FROM events WHERE type = 'LabelsReady'"));
        Assert.Equal(0, await CountAsync(catalog, "SELECT COUNT(*) FROM (SELECT image_id FROM labels WHERE source = 'model' GROUP BY image_id, lower(name) HAVING COUNT(*) > 1) d"));
        Assert.NotEmpty(heldWhenKilled);
        var survivor = $"serve:{second.Process.Id}:%";
        Assert.Equal(heldWhenKilled, await IdsAsync(catalog, $"SELECT id FROM jobs WHERE state = 'done' AND attempts = 2 AND lease_owner LIKE '{survivor}' AND id = ANY('{{{string.Join(',', heldWhenKilled)}}}'::bigint[])"));
        output.WriteLine($"{heldWhenKilled.Count} job(s) held by the killed worker were finished by the survivor");

        // The bytes are in s3rver, not on any node; search through the api node finds them.
        var stored = await AwsAs(folder.FullName, endpoint, storeKey, storeSecret, "s3", "ls", "--recursive", "s3://media/labellens/archive/reel1/").OutputAsync();
        Assert.Equal(Photos, stored.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var dogs = await api.Client.GetFromJsonAsync<JsonElement>("/api/v1/images?label=Dog&limit=100");
        // YOLOX finds a dog in dog.jpg and in person.jpg (the man with his dog and horse; MODEL.md).
        Assert.Equal(Enumerable.Range(0, Photos).Count(i => Path.GetFileName(sources[i % sources.Length]) is "dog.jpg" or "person.jpg"), dogs.GetProperty("images").GetArrayLength());

        // A second api node answers for what the first stored: the bytes (the shared store) and the S3 user metadata (the catalog).
        var s3Port2 = ServeProcess.FreePort();
        using var api2 = new ServeProcess("labellens-multi-api2-", s3Port2) { ExtraArguments = ["--role", "api"] };
        await api2.StartAsync(shared);
        var note = Path.Combine(_work.FullName, $"note-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(note, "scene 42, take 3");
        await Aws(folder.FullName, $"http://127.0.0.1:{s3Port}", "s3api", "put-object", "--bucket", "archive", "--key", "notes/take3.txt", "--body", note, "--metadata", "scene=42,take=3").ExitAsync();
        var head = await Aws(folder.FullName, $"http://127.0.0.1:{s3Port2}", "s3api", "head-object", "--bucket", "archive", "--key", "notes/take3.txt").OutputAsync();
        Assert.Contains("\"scene\": \"42\"", head, StringComparison.Ordinal);
        var copy = Path.Combine(_work.FullName, $"copy-{Guid.NewGuid():N}.jpg");
        await Aws(folder.FullName, $"http://127.0.0.1:{s3Port2}", "s3", "cp", "s3://archive/reel1/000-" + Path.GetFileName(sources[0]), copy).ExitAsync();
        Assert.Equal(await File.ReadAllBytesAsync(sources[0]), await File.ReadAllBytesAsync(copy));
        File.Delete(note);
        File.Delete(copy);
    }

    private static async Task<List<long>> IdsAsync(NpgsqlDataSource catalog, string sql)
    {
        await using var command = catalog.CreateCommand(sql + " ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    private static async Task<long> CountAsync(NpgsqlDataSource catalog, string sql)
    {
        await using var command = catalog.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Debian's aws CLI with a clean environment: only these keys, path-style.</summary>
    private static RunningTool Aws(string work, string endpoint, params string[] args) => AwsAs(work, endpoint, AccessKey, SecretKey, args);

    private static RunningTool AwsAs(string work, string endpoint, string accessKey, string secretKey, params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/aws") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work };
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["AWS_ACCESS_KEY_ID"] = accessKey;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = secretKey;
        start.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        start.Environment["AWS_CONFIG_FILE"] = "/dev/null";
        start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        foreach (var arg in new[] { "--endpoint-url", endpoint }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        Assert.True(File.Exists(start.FileName), "/usr/bin/aws is missing: apt-get install awscli (.ci/run does).");
        return new RunningTool(Process.Start(start)!);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private sealed class RunningTool(Process process)
    {
        private readonly Task<string> _stdout = process.StandardOutput.ReadToEndAsync();
        private readonly Task<string> _stderr = process.StandardError.ReadToEndAsync();

        public async Task<int> ExitAsync()
        {
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"aws exited with {process.ExitCode}: {await _stderr}\n{await _stdout}");
            return process.ExitCode;
        }

        public async Task<string> OutputAsync()
        {
            await ExitAsync();
            return await _stdout;
        }
    }
}
