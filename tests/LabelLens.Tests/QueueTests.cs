using LabelLens.Labels;
using LabelLens.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LabelLens.Tests;

/// <summary>The SQLite queue's leases, retries and supersession, with a clock the test controls.</summary>
public sealed class QueueTests : IDisposable
{
    private static readonly QueueOptions Options = new() { MaxAttempts = 3, RetryBaseSeconds = 2, RetryMaxSeconds = 60, LeaseSeconds = 30 };

    private readonly string _folder = Directory.CreateTempSubdirectory("labellens-queue-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly SqliteCatalog _catalog;

    public QueueTests() => _catalog = new SqliteCatalog(_folder, _time, NullLogger<SqliteCatalog>.Instance);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Transient_failures_back_off_exponentially_then_fail_with_the_error_kept()
    {
        await UploadAsync("a.jpg", "sha-a");

        var job = Assert.Single(await ClaimAsync("w1"));
        Assert.Equal(1, job.Attempt);
        await _catalog.FailJobAsync(job, "InternalError: disk hiccup", permanent: false, Options, default);
        Assert.Equal(ImageStatus.Queued, (await _catalog.GetImageAsync(job.ImageId, default))!.Status);

        // First retry waits 2 s.
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Empty(await ClaimAsync("w1"));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        job = Assert.Single(await ClaimAsync("w1"));
        Assert.Equal(2, job.Attempt);
        await _catalog.FailJobAsync(job, "InternalError: disk hiccup again", permanent: false, Options, default);

        // Second retry waits 4 s.
        _time.Advance(TimeSpan.FromSeconds(3.9));
        Assert.Empty(await ClaimAsync("w1"));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        job = Assert.Single(await ClaimAsync("w1"));
        Assert.Equal(3, job.Attempt);

        // The third failure is the last allowed attempt.
        await _catalog.FailJobAsync(job, "InternalError: still broken", permanent: false, Options, default);
        var image = await _catalog.GetImageAsync(job.ImageId, default);
        Assert.Equal(ImageStatus.Failed, image!.Status);
        Assert.Equal("InternalError: still broken", image.Error);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Empty(await ClaimAsync("w1"));
        Assert.Equal(1, (await _catalog.GetQueueCountsAsync(default)).Failed);
    }

    [Fact]
    public async Task A_permanent_failure_fails_at_once()
    {
        await UploadAsync("text.jpg", "sha-t");
        var job = Assert.Single(await ClaimAsync("w1"));

        await _catalog.FailJobAsync(job, "InvalidImageFormat: not an image", permanent: true, Options, default);

        Assert.Equal("InvalidImageFormat: not an image", (await _catalog.GetImageAsync(job.ImageId, default))!.Error);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Empty(await ClaimAsync("w1"));
    }

    [Fact]
    public async Task An_expired_lease_makes_the_job_claimable_and_the_late_result_is_dropped()
    {
        await UploadAsync("b.jpg", "sha-b");
        var lost = Assert.Single(await ClaimAsync("crashed-worker"));

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Empty(await ClaimAsync("w2"));
        _time.Advance(TimeSpan.FromSeconds(1));
        var retaken = Assert.Single(await ClaimAsync("w2"));
        Assert.Equal(lost.Id, retaken.Id);
        Assert.Equal(2, retaken.Attempt);

        Assert.False(await _catalog.CompleteJobAsync(lost, Result("Dog"), 55, default));
        Assert.True(await _catalog.CompleteJobAsync(retaken, Result("Cat"), 55, default));
        var details = await _catalog.GetDetailsAsync(retaken.ImageId, default);
        Assert.Equal(["Cat"], details!.Labels.Select(l => l.Name));
        Assert.Equal(1, (await _catalog.GetQueueCountsAsync(default)).Done);
    }

    [Fact]
    public async Task A_job_abandoned_on_every_attempt_ends_failed_instead_of_looping()
    {
        await UploadAsync("poison.jpg", "sha-p");
        for (var attempt = 1; attempt <= Options.MaxAttempts; attempt++)
        {
            Assert.Equal(attempt, Assert.Single(await ClaimAsync($"worker-{attempt}")).Attempt);
            _time.Advance(Options.Lease);
        }

        Assert.Empty(await ClaimAsync("w"));
        var image = await _catalog.GetImageAsync(SqliteCatalog.ImageId("b", "poison.jpg"), default);
        Assert.Equal(ImageStatus.Failed, image!.Status);
        Assert.Contains("did not finish in 3 attempt(s)", image.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task New_bytes_supersede_the_running_job_and_deletes_cancel_queued_ones()
    {
        await UploadAsync("c.jpg", "sha-old");
        var old = Assert.Single(await ClaimAsync("w1"));
        var outcome = await UploadAsync("c.jpg", "sha-new");
        Assert.True(outcome.Enqueued);

        Assert.False(await _catalog.CompleteJobAsync(old, Result("Dog"), 55, default));
        var current = Assert.Single(await ClaimAsync("w1"));
        Assert.Equal("sha-new", current.Sha256);
        Assert.True(await _catalog.CompleteJobAsync(current, Result("Horse"), 55, default));

        Assert.False((await UploadAsync("c.jpg", "sha-new")).Enqueued);

        await UploadAsync("d.jpg", "sha-d");
        Assert.True(await _catalog.DeleteImageAsync("b", "d.jpg", default));
        Assert.Empty(await ClaimAsync("w1"));
        var counts = await _catalog.GetQueueCountsAsync(default);
        Assert.Equal((0, 0, 1, 2), (counts.Queued, counts.Running, counts.Done, counts.Superseded));
    }

    [Fact]
    public async Task A_restarted_server_takes_back_its_predecessors_jobs_at_once()
    {
        await UploadAsync("e.jpg", "sha-e");
        await UploadAsync("f.jpg", "sha-f");
        Assert.Equal(2, (await ClaimAsync("serve:111:dead")).Count);
        Assert.Equal(2, (await _catalog.GetQueueCountsAsync(default)).Running);

        Assert.Equal(2, await _catalog.ReleaseJobsAsync("serve:", default));

        Assert.Equal(2, (await ClaimAsync("serve:222:new")).Count);
        Assert.Equal(0, await _catalog.ReleaseJobsAsync("cli:", default));
    }

    [Fact]
    public async Task Every_upload_records_an_event_and_a_job_in_the_same_transaction()
    {
        await UploadAsync("g.jpg", "sha-g");
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_catalog.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM jobs WHERE state = 'queued'), (SELECT COUNT(*) FROM events WHERE type = 'ObjectCreated')";
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((1L, 1L, 1L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
    }

    private Task<UploadOutcome> UploadAsync(string key, string sha) =>
        _catalog.RecordUploadAsync(new StoredObject("b", key, 10, "etag-" + sha, sha, _time.GetUtcNow()), "image/jpeg", default);

    private Task<IReadOnlyList<ClaimedJob>> ClaimAsync(string owner) => _catalog.ClaimJobsAsync(owner, 10, Options, default);

    private static LabelsResult Result(string label) => new(
        [new Label(label, 90, [new LabelInstance(new BoundingBox(0.5, 0.5, 0.1, 0.1), 90)], [], [], [new NamedItem("Animals and Pets")])],
        "test-model:000000000000",
        new ImageInfo(100, 100, "jpeg", 10),
        new StageTimings(1, 1, 1, 1));
}
