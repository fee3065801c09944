using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LabelLens.Server.External;
using LabelLens.Storage;

namespace LabelLens.Tests;

/// <summary>
/// Bring your own bucket, end to end: objects put into another LabelLens' S3 listener with AWSSDK.S3, S3
/// event notifications (AWS and MinIO formats) and backfills on the server under test, which reads the
/// bytes from that external store, labels them into its own catalog, and tells a webhook.
/// </summary>
public sealed class ExternalEventTests(ExternalStoreFixture fixture) : IClassFixture<ExternalStoreFixture>
{
    private ServerFixture Main => fixture.Main;

    private static string Run() => Guid.NewGuid().ToString("N")[..10];

    private async Task<JsonElement> LabeledAsync(string bucket, string key)
    {
        var image = await Main.WaitForImageAsync(SqliteCatalog.ImageId(bucket, key));
        Assert.Equal("labeled", image.GetProperty("image").GetProperty("status").GetString());
        return image;
    }

    private async Task<List<string>> SearchIdsAsync(string query)
    {
        var result = await Main.GetJsonAsync("/api/v1/images?" + query);
        return result.GetProperty("images").EnumerateArray().Select(i => i.GetProperty("image").GetProperty("id").GetString()!).ToList();
    }

    private static List<string> Outcomes(JsonElement body) =>
        body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("outcome").GetString()!).ToList();

    [Fact]
    public async Task Aws_notification_with_several_records_and_encoded_keys_labels_every_object_from_the_external_store()
    {
        var run = Run();
        var dogKey = $"{run}/pets/my dog é 🐕.jpg";
        var plusKey = $"{run}/zoo/giraffe+1 (copy).jpg";
        var horseKey = $"{run}/horses.jpg";
        var dog = TestData.ImageBytes("dog.jpg");
        var giraffe = TestData.ImageBytes("giraffe.jpg");
        var horses = TestData.ImageBytes("horses.jpg");
        var dogTag = await fixture.PutExternalAsync("camera", dogKey, dog);
        var plusTag = await fixture.PutExternalAsync("camera", plusKey, giraffe);
        var horseTag = await fixture.PutExternalAsync("camera", horseKey, horses);

        var json = ExternalStoreFixture.AwsEvent(
            ("ObjectCreated:Put", "camera", dogKey, dogTag, dog.Length, "0055AED6DCD90281E5"),
            ("ObjectCreated:CompleteMultipartUpload", "camera", plusKey, plusTag, giraffe.Length, "0055AED6DCD90281E6"),
            ("ObjectCreated:Copy", "camera", horseKey, horseTag, horses.Length, "0055AED6DCD90281E7"));
        Assert.Contains("my+dog+%C3%A9", json, StringComparison.Ordinal);
        Assert.Contains("giraffe%2B1+", json, StringComparison.Ordinal);
        var (status, body) = await fixture.PostEventAsync(json);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("records").GetInt32());
        Assert.Equal(["queued", "queued", "queued"], Outcomes(body));
        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("camera", dogKey)));
        Assert.Contains("Giraffe", ServerFixture.LabelNames(await LabeledAsync("camera", plusKey)));
        Assert.Contains("Horse", ServerFixture.LabelNames(await LabeledAsync("camera", horseKey)));

        var dogs = await SearchIdsAsync($"label=Dog&bucket=camera&prefix={run}/");
        Assert.Equal([SqliteCatalog.ImageId("camera", dogKey)], dogs);
        // Nothing was copied into the main server's own store.
        Assert.False(Directory.Exists(Path.Combine(Main.DataFolder, "objects", "camera")));
    }

    [Fact]
    public async Task Minio_webhook_notification_is_accepted_and_labeled()
    {
        var run = Run();
        var dogKey = $"{run}/minio/über dog.jpg";
        var kiteKey = $"{run}/minio/kite.jpg";
        var dog = TestData.ImageBytes("dog.jpg");
        var kite = TestData.ImageBytes("kite.jpg");
        var dogTag = await fixture.PutExternalAsync("camera", dogKey, dog);
        var kiteTag = await fixture.PutExternalAsync("camera", kiteKey, kite);

        var json = ExternalStoreFixture.MinioEvent("s3:ObjectCreated:Put", ("camera", dogKey, dogTag, dog.Length, "17A9AB4FA93B7A4F"), ("camera", kiteKey, kiteTag, kite.Length, "17A9AB4FA93B7A50"));
        Assert.Contains("%2Fminio%2F%C3%BCber+dog.jpg", json, StringComparison.Ordinal);
        var (status, body) = await fixture.PostEventAsync(json);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["queued", "queued"], Outcomes(body));
        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("camera", dogKey)));
        Assert.Contains("Kite", ServerFixture.LabelNames(await LabeledAsync("camera", kiteKey)));
        Assert.Contains(SqliteCatalog.ImageId("camera", dogKey), await SearchIdsAsync($"label=Dog&prefix={run}/"));
    }

    [Fact]
    public async Task Duplicates_and_out_of_order_deliveries_are_harmless_and_removals_delete_the_labels()
    {
        var run = Run();
        var key = $"{run}/dup/dog.jpg";
        var dog = TestData.ImageBytes("dog.jpg");
        var tag = await fixture.PutExternalAsync("camera", key, dog);
        var id = SqliteCatalog.ImageId("camera", key);
        var created = ("ObjectCreated:Put", "camera", key, (string?)tag, (long)dog.Length, "0055AED6DCD90281E5");

        Assert.Equal(["queued"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(created))).Body));
        // The same notification again (at-least-once delivery), twice in one body and once more.
        Assert.Equal(["duplicate", "duplicate"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(created, created))).Body));
        // An older removal arriving late is ignored.
        var olderRemove = ("ObjectRemoved:Delete", "camera", key, (string?)null, 0L, "0055AED6DCD90281E4");
        Assert.Equal(["stale"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(olderRemove))).Body));
        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("camera", key)));
        Assert.Contains(id, await SearchIdsAsync($"label=Dog&prefix={run}/"));

        var jobs = (await Main.GetJsonAsync("/api/v1/queue")).GetProperty("jobs");
        var remove = ("ObjectRemoved:Delete", "camera", key, (string?)null, 0L, "0055AED6DCD90281E6");
        Assert.Equal(["deleted"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(remove))).Body));
        using (var gone = await Main.Client.GetAsync($"/api/v1/images/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.DoesNotContain(id, await SearchIdsAsync($"label=Dog&prefix={run}/"));

        // The create delivered after the (newer) removal must not bring the image back; neither may the removal again.
        Assert.Equal(["stale"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(created))).Body));
        Assert.Equal(["duplicate"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(remove))).Body));
        using (var still = await Main.Client.GetAsync($"/api/v1/images/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, still.StatusCode);
        }

        Assert.Equal(jobs.GetProperty("queued").GetInt64(), (await Main.GetJsonAsync("/api/v1/queue")).GetProperty("jobs").GetProperty("queued").GetInt64());

        // A later put (greater sequencer; shorter string, as AWS allows: compared left-padded) creates it again.
        var again = ("ObjectCreated:Put", "camera", key, (string?)tag, (long)dog.Length, "55AED6DCD90281E7");
        Assert.Equal(["queued"], Outcomes((await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(again))).Body));
        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("camera", key)));
    }

    [Fact]
    public async Task Records_for_unknown_buckets_and_other_events_are_reported_not_applied()
    {
        var json = ExternalStoreFixture.AwsEvent(
            ("ObjectCreated:Put", "not-mapped", "a.jpg", "abc", 3, "01"),
            ("ObjectRestore:Completed", "camera", "a.jpg", "abc", 3, "02"));
        var (status, body) = await fixture.PostEventAsync(json);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["noStore", "ignored"], Outcomes(body));

        // s3:TestEvent has no records.
        (status, body) = await fixture.PostEventAsync("""{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-05-01T12:00:00.000Z","Bucket":"camera","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("records").GetInt32());

        (status, body) = await fixture.PostEventAsync("{not json");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("MalformedEvent", body.GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_events_endpoint_needs_the_token_and_refuses_everything_when_none_is_configured()
    {
        var json = ExternalStoreFixture.AwsEvent();
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.PostEventAsync(json, token: null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.PostEventAsync(json, token: "wrong")).Status);
        Assert.Equal(HttpStatusCode.OK, (await fixture.PostEventAsync(json)).Status);

        // MinIO sends its auth_token as the whole Authorization header; other senders may use a header or the query.
        foreach (var (header, value, query) in new[] { ("Authorization", ExternalStoreFixture.EventsToken, ""), ("X-LabelLens-Token", ExternalStoreFixture.EventsToken, ""), ("X-Other", "x", "?token=" + Uri.EscapeDataString(ExternalStoreFixture.EventsToken)) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events/s3" + query) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation(header, value);
            using var response = await Main.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The external server has no Events:Token: it refuses all events, saying why.
        var (status, body) = await fixture.PostEventAsync(json, client: fixture.External.Server.Client);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("EventsDisabled", body.GetProperty("code").GetString());
        Assert.Contains("Events:Token", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backfill_labels_an_external_bucket_once_resumes_after_interruption_and_then_queues_nothing()
    {
        var run = Run();
        string[] names = ["dog.jpg", "eagle.jpg", "kite.jpg", "person.jpg"];
        foreach (var name in names)
        {
            await fixture.PutExternalAsync("archive", $"{run}/{name}", TestData.ImageBytes(name));
        }

        await fixture.PutExternalAsync("archive", $"{run}-other/dog.jpg", TestData.ImageBytes("dog.jpg"));

        // Interrupted after two objects (maxObjects), then resumed where it stopped.
        var first = await BackfillAsync(new { bucket = "archive", prefix = run + "/", maxObjects = 2 });
        Assert.Equal((2, 2, false), (first.GetProperty("listed").GetInt64(), first.GetProperty("queued").GetInt64(), first.GetProperty("complete").GetBoolean()));
        var second = await BackfillAsync(new { bucket = "archive", prefix = run + "/" });
        Assert.Equal($"{run}/eagle.jpg", second.GetProperty("resumedAfter").GetString());
        Assert.Equal((2, 2, true), (second.GetProperty("listed").GetInt64(), second.GetProperty("queued").GetInt64(), second.GetProperty("complete").GetBoolean()));

        foreach (var name in names)
        {
            await LabeledAsync("archive", $"{run}/{name}");
        }

        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("archive", $"{run}/dog.jpg")));
        Assert.Contains(SqliteCatalog.ImageId("archive", $"{run}/dog.jpg"), await SearchIdsAsync($"label=Dog&bucket=archive&prefix={run}/"));
        Assert.DoesNotContain(SqliteCatalog.ImageId("archive", $"{run}-other/dog.jpg"), await SearchIdsAsync("label=Dog&bucket=archive"));

        var third = await BackfillAsync(new { bucket = "archive", prefix = run + "/", store = "ext" });
        Assert.Equal((4, 0, 4, true), (third.GetProperty("listed").GetInt64(), third.GetProperty("queued").GetInt64(), third.GetProperty("skipped").GetInt64(), third.GetProperty("complete").GetBoolean()));

        using var unknown = await Main.Client.PostAsJsonAsync("/api/v1/backfill", new { bucket = "nobody-maps-this" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("NoExternalStore", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backfill_command_queues_what_is_not_labeled_and_a_second_run_queues_nothing()
    {
        var run = Run();
        await fixture.PutExternalAsync("archive", $"{run}/cli dog.jpg", TestData.ImageBytes("dog.jpg"));
        await fixture.PutExternalAsync("archive", $"{run}/horses.jpg", TestData.ImageBytes("horses.jpg"));

        var (exit, stdout, stderr) = await RunCliAsync("backfill", $"s3://archive/{run}/", "--data", Main.DataFolder, "--queue-only");
        Assert.True(exit == 0, $"exit {exit}: {stdout} {stderr}");
        Assert.Contains($"Listed 2 object(s) in s3://archive/{run}/ (store ext): 2 queued, 0 already labeled or queued.", stdout, StringComparison.Ordinal);
        // The running server's workers take the queued jobs.
        Assert.Contains("Dog", ServerFixture.LabelNames(await LabeledAsync("archive", $"{run}/cli dog.jpg")));
        await LabeledAsync("archive", $"{run}/horses.jpg");

        (exit, stdout, stderr) = await RunCliAsync("backfill", $"s3://archive/{run}/", "--data", Main.DataFolder, "--queue-only");
        Assert.True(exit == 0, $"exit {exit}: {stdout} {stderr}");
        Assert.Contains("0 queued, 2 already labeled or queued.", stdout, StringComparison.Ordinal);

        (exit, _, stderr) = await RunCliAsync("backfill", "s3://not-mapped/x", "--data", Main.DataFolder, "--queue-only");
        Assert.Equal(2, exit);
        Assert.Contains("belongs to no configured external store", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhooks_receive_signed_LabelsReady_and_LabelingFailed_and_a_failed_delivery_is_retried()
    {
        var run = Run();
        var key = $"{run}/hook dog.jpg";
        var badKey = $"{run}/notes.jpg";
        var dog = TestData.ImageBytes("dog.jpg");
        var bad = "this is not a photo"u8.ToArray();
        var tag = await fixture.PutExternalAsync("hooks", key, dog);
        var badTag = await fixture.PutExternalAsync("hooks", badKey, bad);
        var id = SqliteCatalog.ImageId("hooks", key);
        var badId = SqliteCatalog.ImageId("hooks", badKey);
        await fixture.PostEventAsync(ExternalStoreFixture.AwsEvent(
            ("ObjectCreated:Put", "hooks", key, tag, dog.Length, "0A"),
            ("ObjectCreated:Put", "hooks", badKey, badTag, bad.Length, "0B")));

        var ready = await WaitForHookAsync(h => h.Status == 200 && h.Json.GetProperty("imageId").GetString() == id);
        var failed = await WaitForHookAsync(h => h.Status == 200 && h.Json.GetProperty("imageId").GetString() == badId);

        Assert.Equal("LabelsReady", ready.Headers["X-LabelLens-Event"]);
        var payload = ready.Json;
        Assert.Equal("LabelsReady", payload.GetProperty("type").GetString());
        Assert.Equal(key, payload.GetProperty("key").GetString());
        Assert.Equal("labeled", payload.GetProperty("image").GetProperty("status").GetString());
        Assert.Contains("Dog", payload.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
        var dogLabel = payload.GetProperty("labels").EnumerateArray().First(l => l.GetProperty("name").GetString() == "Dog");
        Assert.True(dogLabel.GetProperty("confidence").GetDouble() > 55);
        Assert.NotEmpty(dogLabel.GetProperty("instances").EnumerateArray());

        // The signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body)).
        var timestamp = ready.Headers["X-LabelLens-Timestamp"];
        Assert.True(Math.Abs(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow.ToUnixTimeSeconds()) < 300);
        var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            Encoding.UTF8.GetBytes(ExternalStoreFixture.WebhookSecret), Encoding.UTF8.GetBytes(timestamp + ".").Concat(ready.Body).ToArray()));
        Assert.Equal(expected, ready.Headers["X-LabelLens-Signature"]);
        Assert.Equal(expected, WebhookDispatcher.Sign(ExternalStoreFixture.WebhookSecret, timestamp, ready.Body));

        Assert.Equal("LabelingFailed", failed.Json.GetProperty("type").GetString());
        Assert.Equal("failed", failed.Json.GetProperty("image").GetProperty("status").GetString());
        Assert.StartsWith("InvalidImageFormat", failed.Json.GetProperty("image").GetProperty("error").GetString(), StringComparison.Ordinal);

        // The receiver answered 500 to the very first delivery: the same delivery came again and succeeded.
        var all = fixture.Receiver.Requests.ToList();
        Assert.Equal(500, all[0].Status);
        var retried = all.Skip(1).First(h => h.Headers["X-LabelLens-Delivery"] == all[0].Headers["X-LabelLens-Delivery"]);
        Assert.Equal(200, retried.Status);
    }

    [Fact]
    public void Sequencers_compare_as_hex_numbers_of_any_length()
    {
        Assert.True(SqliteCatalog.CompareSequencers("0055AED6DCD90281E6", "0055AED6DCD90281E5") > 0);
        Assert.True(SqliteCatalog.CompareSequencers("55AED6DCD90281E7", "0055AED6DCD90281E6") > 0);
        Assert.True(SqliteCatalog.CompareSequencers("0055AED6DCD90281E60", "0055AED6DCD90281E6") > 0);
        Assert.Equal(0, SqliteCatalog.CompareSequencers("00ab", "AB"));
        Assert.True(SqliteCatalog.CompareSequencers("9", "A") < 0);
    }

    private async Task<JsonElement> BackfillAsync(object request)
    {
        using var response = await Main.Client.PostAsJsonAsync("/api/v1/backfill", request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"backfill: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<ReceivedHook> WaitForHookAsync(Func<ReceivedHook, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (fixture.Receiver.Requests.FirstOrDefault(match) is { } hook)
            {
                return hook;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no such webhook delivery; received {fixture.Receiver.Requests.Count}");
            await Task.Delay(100);
        }
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunCliAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(TestData.CliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in fixture.StoreSettings)
        {
            start.Environment["LABELLENS_" + name.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
