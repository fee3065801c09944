using LabelLens.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LabelLens.Tests;

/// <summary>The catalog side of external stores: sequencer order, ETag dedup, backfill cursors and the webhook outbox.</summary>
public sealed class ExternalCatalogTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("labellens-external-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly SqliteCatalog _catalog;

    public ExternalCatalogTests() => _catalog = new SqliteCatalog(_folder, _time, NullLogger<SqliteCatalog>.Instance);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task External_objects_are_recorded_with_their_source_and_deduplicated_by_sequencer_and_etag()
    {
        var id = SqliteCatalog.ImageId("cam", "a.jpg");
        Assert.Equal(ExternalOutcome.Queued, await RecordAsync("a.jpg", "e1", "10"));
        Assert.Equal("ext", await _catalog.GetImageSourceAsync(id, default));
        Assert.Equal(ExternalOutcome.Duplicate, await RecordAsync("a.jpg", "e1", "10"));
        Assert.Equal(ExternalOutcome.Stale, await RecordAsync("a.jpg", "e0", "0F"));
        // A newer event with the same ETag (the same bytes put again): nothing to relabel.
        Assert.Equal(ExternalOutcome.Unchanged, await RecordAsync("a.jpg", "e1", "11"));
        // Without a sequencer (a listing) the ETag decides.
        Assert.Equal(ExternalOutcome.Unchanged, await RecordAsync("a.jpg", "e1", null));
        Assert.Equal(ExternalOutcome.Queued, await RecordAsync("a.jpg", "e2", "12"));
        Assert.Equal(1, (await _catalog.GetQueueCountsAsync(default)).Queued);

        Assert.Equal(ExternalOutcome.Stale, await _catalog.RecordExternalRemovalAsync("ext", "cam", "a.jpg", "0E", default));
        Assert.Equal(ExternalOutcome.Deleted, await _catalog.RecordExternalRemovalAsync("ext", "cam", "a.jpg", "13", default));
        Assert.Null(await _catalog.GetImageAsync(id, default));
        Assert.Equal(ExternalOutcome.Stale, await RecordAsync("a.jpg", "e2", "12"));
        Assert.Equal(ExternalOutcome.NotFound, await _catalog.RecordExternalRemovalAsync("ext", "cam", "never.jpg", null, default));
        var counts = await _catalog.GetQueueCountsAsync(default);
        Assert.Equal((0L, 2L), (counts.Queued, counts.Superseded));

        // A local upload under the same name makes the image local again.
        Assert.Equal(ExternalOutcome.Queued, await RecordAsync("b.jpg", "e3", "01"));
        await _catalog.RecordUploadAsync(new StoredObject("cam", "b.jpg", 10, "md5", "sha", _time.GetUtcNow()), "image/jpeg", default);
        Assert.Null(await _catalog.GetImageSourceAsync(SqliteCatalog.ImageId("cam", "b.jpg"), default));
        // ... and an external removal event does not delete a local image.
        Assert.Equal(ExternalOutcome.NotFound, await _catalog.RecordExternalRemovalAsync("ext", "cam", "b.jpg", "02", default));
        Assert.NotNull(await _catalog.GetImageAsync("cam", "b.jpg", default));
    }

    [Fact]
    public async Task A_backfill_page_and_its_cursor_commit_together()
    {
        Assert.Null(await _catalog.GetBackfillCursorAsync("ext", "cam", "p/", default));
        var page = new[] { Record("p/1.jpg", "e1", null), Record("p/2.jpg", "e2", null) };
        Assert.Equal([ExternalOutcome.Queued, ExternalOutcome.Queued], await _catalog.RecordBackfillPageAsync("ext", "cam", "p/", page, "p/2.jpg", 2, default));
        Assert.Equal(("p/2.jpg", 2L), await _catalog.GetBackfillCursorAsync("ext", "cam", "p/", default));
        Assert.Equal([ExternalOutcome.Unchanged, ExternalOutcome.Unchanged], await _catalog.RecordBackfillPageAsync("ext", "cam", "p/", page, "p/2.jpg", 2, default));
        await _catalog.ClearBackfillCursorAsync("ext", "cam", "p/", default);
        Assert.Null(await _catalog.GetBackfillCursorAsync("ext", "cam", "p/", default));
    }

    [Fact]
    public async Task The_webhook_outbox_starts_at_the_newest_event_and_keeps_retry_state()
    {
        await RecordAsync("old.jpg", "e0", null);
        var old = Assert.Single(await _catalog.ClaimJobsAsync("w", 1, new QueueOptions(), default));
        await _catalog.FailJobAsync(old, "InvalidImageFormat: no", permanent: true, new QueueOptions(), default);

        var cursor = await _catalog.InitWebhookCursorAsync("hook", default);
        Assert.Null(await _catalog.NextOutboxEventAsync(cursor.LastEventId, [CatalogEventType.LabelsReady, CatalogEventType.LabelingFailed], default));

        await RecordAsync("new.jpg", "e1", null);
        var job = Assert.Single(await _catalog.ClaimJobsAsync("w", 1, new QueueOptions(), default));
        await _catalog.FailJobAsync(job, "InvalidImageFormat: no", permanent: true, new QueueOptions(), default);
        var next = await _catalog.NextOutboxEventAsync(cursor.LastEventId, [CatalogEventType.LabelsReady, CatalogEventType.LabelingFailed], default);
        Assert.Equal((CatalogEventType.LabelingFailed, "new.jpg"), (next!.Type, next.Key));
        Assert.Null(await _catalog.NextOutboxEventAsync(cursor.LastEventId, [CatalogEventType.LabelsReady], default));

        await _catalog.WebhookAttemptFailedAsync("hook", 1, _time.GetUtcNow().AddSeconds(2), "HTTP 500", default);
        cursor = (await _catalog.GetWebhookCursorAsync("hook", default))!;
        Assert.Equal((1, "HTTP 500", _time.GetUtcNow().AddSeconds(2)), (cursor.Attempts, cursor.LastError, cursor.NextAttemptAt));
        await _catalog.WebhookDeliveredAsync("hook", next.Id, default);
        cursor = (await _catalog.InitWebhookCursorAsync("hook", default))!;
        Assert.Equal((next.Id, 0, 1L), (cursor.LastEventId, cursor.Attempts, cursor.Delivered));
        Assert.Null(await _catalog.NextOutboxEventAsync(cursor.LastEventId, [CatalogEventType.LabelsReady, CatalogEventType.LabelingFailed], default));
    }

    [Fact]
    public void Webhook_retries_back_off_exponentially_up_to_the_limit()
    {
        var options = new LabelLens.Server.External.WebhookOptions { Url = "http://127.0.0.1/x", RetryBaseSeconds = 1, RetryMaxSeconds = 30 };
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(1, 7).Select(a => options.Backoff(a).TotalSeconds));
        Assert.Throws<InvalidOperationException>(() => new LabelLens.Server.External.WebhookOptions { Url = "ftp://x" }.Validate(0));
        Assert.Throws<InvalidOperationException>(() => new LabelLens.Server.External.WebhookOptions { Url = "http://x", Events = ["Nope"] }.Validate(0));
    }

    private static ExternalObjectRecord Record(string key, string etag, string? sequencer) => new("ext", "cam", key, etag, 10, sequencer);

    private Task<ExternalOutcome> RecordAsync(string key, string etag, string? sequencer) => _catalog.RecordExternalObjectAsync(Record(key, etag, sequencer), default);
}
