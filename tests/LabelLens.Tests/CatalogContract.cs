using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Detection;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using LabelLens.Taxonomy;
using LabelLens.Video;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// The catalog contract suite: what every catalog provider must do, exercised only through the contracts
/// (<see cref="ICatalog"/>). Each provider gets a subclass that says how to make an empty catalog; the embedded
/// SQLite catalog is <see cref="SqliteCatalogContractTests"/>. Results are built by the real label builder and
/// taxonomy from model-shaped outputs (YOLOX detections, ImageNet probabilities), not from hand-written labels.
/// </summary>
public abstract class CatalogContractTests : IAsyncLifetime
{
    private static readonly ModelIdentity Yolox = new("yolox-nano", "695e750a5d57" + new string('0', 52));
    private static readonly ModelIdentity YoloxNext = new("yolox-tiny", "1234567890ab" + new string('0', 52));
    private static readonly ModelIdentity MobileNet = new("mobilenetv2-int8", "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f");
    private static readonly QueueOptions Queue = new() { LeaseSeconds = 60, MaxAttempts = 3, RetryBaseSeconds = 0.01, RetryMaxSeconds = 0.01 };
    private readonly LabelBuilder _builder = new(LabelTaxonomy.BuiltIn);

    protected ICatalog Catalog { get; private set; } = null!;

    /// <summary>A new, empty catalog of the provider under test.</summary>
    protected abstract Task<ICatalog> CreateCatalogAsync();

    /// <summary>The provider's multipart upload records (the S3 endpoint's), beside the catalog <see cref="CreateCatalogAsync"/> made.</summary>
    protected abstract IMultipartStore CreateMultipartStore();

    public async Task InitializeAsync() => Catalog = await CreateCatalogAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Contract_an_upload_is_an_image_a_job_and_an_event_and_the_same_bytes_again_queue_nothing()
    {
        var first = await Catalog.RecordUploadAsync(Stored("photos", "a/dog.jpg", "v1"), "image/jpeg", default);
        Assert.True(first.Enqueued);
        Assert.Equal(ImageStatus.Queued, first.Image.Status);
        Assert.Equal(first.Image.Id, (await Catalog.GetImageAsync("photos", "a/dog.jpg", default))!.Id);

        var again = await Catalog.RecordUploadAsync(Stored("photos", "a/dog.jpg", "v1"), "image/jpeg", default);
        Assert.False(again.Enqueued);
        Assert.Equal(1, (await Catalog.GetQueueCountsAsync(default)).Queued);

        var changes = await SettledChangesAsync();
        Assert.Equal(CatalogEventType.ObjectCreated, Assert.Single(changes).Type);
        Assert.Equal(changes[0].Id, await Catalog.LastChangeIdAsync(default));
        Assert.Single(await Catalog.ListObjectsAsync("photos", "a/", null, 10, default));
    }

    [Fact]
    public async Task Contract_one_process_at_a_time_delivers_a_webhook()
    {
        await Catalog.InitWebhookCursorAsync("hook", default);
        Assert.True(await Catalog.TryLeaseWebhookAsync("hook", "node-a", TimeSpan.FromMinutes(1), default));
        Assert.False(await Catalog.TryLeaseWebhookAsync("hook", "node-b", TimeSpan.FromMinutes(1), default));
        Assert.True(await Catalog.TryLeaseWebhookAsync("hook", "node-a", TimeSpan.FromMilliseconds(1), default)); // renewed, now short
        await Task.Delay(20);
        Assert.True(await Catalog.TryLeaseWebhookAsync("hook", "node-b", TimeSpan.FromMinutes(1), default)); // expired: taken over
        Assert.False(await Catalog.TryLeaseWebhookAsync("hook", "node-a", TimeSpan.FromMinutes(1), default));
    }

    [Fact]
    public async Task Contract_a_batch_released_for_a_full_disk_gets_its_attempts_back_a_dead_servers_does_not()
    {
        await Catalog.RecordUploadAsync(Stored("photos", "release/full.jpg", "f"), null, default);
        Assert.Equal(1, Assert.Single(await Catalog.ClaimJobsAsync("serve:1:loop-a", 1, Queue, default)).Attempt);

        // The results could not be written (disk full): not the job's fault, so the attempt does not count.
        Assert.Equal(1, await Catalog.ReleaseJobsAsync("serve:1:loop-a", default, returnAttempts: true));
        Assert.Equal(1, Assert.Single(await Catalog.ClaimJobsAsync("serve:1:loop-a", 1, Queue, default)).Attempt);

        // A dead server's jobs keep theirs: one of them may be what killed it.
        Assert.Equal(1, await Catalog.ReleaseJobsAsync("serve:1:", default));
        Assert.Equal(2, Assert.Single(await Catalog.ClaimJobsAsync("serve:2:loop-b", 1, Queue, default)).Attempt);
    }

    [Fact]
    public async Task Contract_released_jobs_are_claimable_at_once_and_only_the_owners()
    {
        await Catalog.RecordUploadAsync(Stored("photos", "release/a.jpg", "a"), null, default);
        await Catalog.RecordUploadAsync(Stored("photos", "release/b.jpg", "b"), null, default);
        var mine = Assert.Single(await Catalog.ClaimJobsAsync("serve:1:loop-a", 1, Queue, default));
        var theirs = Assert.Single(await Catalog.ClaimJobsAsync("serve:2:loop-b", 1, Queue, default));

        Assert.Equal(1, await Catalog.ReleaseJobsAsync("serve:1:", default));
        var again = Assert.Single(await Catalog.ClaimJobsAsync("serve:3:loop-c", 5, Queue, default)); // leases are 60 s: only the released one
        Assert.Equal(mine.Id, again.Id);
        Assert.False(await Catalog.CompleteJobAsync(mine, Result(Objects(Yolox)), 55, default)); // lost to the new holder
        Assert.True(await Catalog.CompleteJobAsync(theirs, Result(Objects(Yolox)), 55, default));
    }

    [Fact]
    public async Task Contract_queued_jobs_are_counted_up_to_a_cap()
    {
        for (var i = 0; i < 5; i++)
        {
            await Catalog.RecordUploadAsync(Stored("photos", $"backlog/{i}.jpg", $"v{i}"), null, default);
        }

        Assert.Equal(5, await Catalog.CountQueuedAsync(100, default));
        Assert.Equal(3, await Catalog.CountQueuedAsync(3, default));
        await Catalog.ClaimJobsAsync("worker-1", 2, new QueueOptions(), default);
        Assert.Equal(3, await Catalog.CountQueuedAsync(100, default));
    }

    [Fact]
    public async Task Contract_a_completed_job_stores_merged_labels_each_analysis_and_its_model()
    {
        var id = (await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("worker-1", 5, Queue, default));
        Assert.Equal(ImageStatus.Labeling, (await Catalog.GetImageAsync(id, default))!.Status);

        Assert.True(await Catalog.CompleteJobAsync(job, Result(Objects(Yolox), Classes()), 55, default));

        var details = (await Catalog.GetDetailsAsync(id, default))!;
        Assert.Equal(ImageStatus.Labeled, details.Image.Status);
        var dog = Assert.Single(details.Labels, l => l.Name == "Dog");
        Assert.Single(dog.Instances);
        Assert.Contains(dog.Aliases, a => a.Name == "Alaskan Malamute");
        var analyses = Assert.IsAssignableFrom<IReadOnlyList<AnalysisProvenance>>(details.Analyses);
        Assert.Equal(["classes", "objects"], analyses.Select(a => a.Analysis));
        Assert.Equal(MobileNet.Version, analyses[0].ModelVersion);
        Assert.Equal(MobileNet.Sha256, analyses[0].ModelSha256);
        Assert.Null((await Catalog.SearchAsync(new ImageQuery { Labels = ["Dog"] }, default)).Images.Single().Analyses); // details only
        var stored = await Catalog.GetAnalysisLabelsAsync(id, default);
        Assert.Contains(stored.Single(s => s.Task == AnalysisTask.Objects).Labels, l => l.Label.Name == "Bicycle" && l.Direct);
        Assert.Contains(CatalogEventType.LabelsReady, (await SettledChangesAsync()).Select(c => c.Type));
    }

    [Fact]
    public async Task Contract_a_result_counts_only_while_its_job_is_current_and_held()
    {
        await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default);
        var job = Assert.Single(await Catalog.ClaimJobsAsync("worker-1", 5, Queue, default));
        Assert.Empty(await Catalog.ClaimJobsAsync("worker-2", 5, Queue, default)); // leased

        // New bytes under the key while the job runs: the old job's result is dropped, the new job waits.
        await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v2"), null, default);
        Assert.False(await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)), 55, default));
        var current = Assert.Single(await Catalog.ClaimJobsAsync("worker-2", 5, Queue, default));
        Assert.NotEqual(job.Id, current.Id);
        Assert.True(await Catalog.CompleteJobAsync(current, Result(Objects(Yolox)), 55, default));
        Assert.False(await Catalog.CompleteJobAsync(current, Result(Objects(Yolox)), 55, default)); // exactly once
        Assert.Equal(1, (await Catalog.GetQueueCountsAsync(default)).Done);
    }

    [Fact]
    public async Task Contract_failures_retry_then_fail_the_image_with_the_reason()
    {
        var id = (await Catalog.RecordUploadAsync(Stored("photos", "bad.jpg", "v1"), null, default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("worker-1", 5, Queue, default));
        await Catalog.FailJobAsync(job, "InternalError: disk hiccup", permanent: false, Queue, default);
        await Task.Delay(50);
        job = Assert.Single(await Catalog.ClaimJobsAsync("worker-1", 5, Queue, default));
        Assert.Equal(2, job.Attempt);

        await Catalog.FailJobAsync(job, "InvalidImageFormat: not an image", permanent: true, Queue, default);
        var image = (await Catalog.GetImageAsync(id, default))!;
        Assert.Equal(ImageStatus.Failed, image.Status);
        Assert.Equal("InvalidImageFormat: not an image", image.Error);
        Assert.Equal(1, (await Catalog.GetImageCountsAsync(default)).Failed);
    }

    [Fact]
    public async Task Contract_manual_edits_win_over_every_relabel()
    {
        var id = (await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)), 55, default);
        Assert.True(await Catalog.RemoveManualLabelAsync(id, "Bicycle", default));
        Assert.True(await Catalog.AddManualLabelAsync(id, "Good Boy", [new NamedItem("Dog")], [new NamedItem("Animals and Pets")], default));

        Assert.True(await Catalog.EnqueueRelabelAsync(id, default));
        job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)), 55, default);

        var labels = (await Catalog.GetDetailsAsync(id, default))!.Labels;
        Assert.DoesNotContain(labels, l => l.Name == "Bicycle");
        Assert.Equal(LabelSource.Manual, Assert.Single(labels, l => l.Name == "Good Boy").Source);
        Assert.Contains(labels, l => l.Name == "Dog" && l.Source == LabelSource.Model);
    }

    [Fact]
    public async Task Contract_model_older_relabels_only_the_analyses_whose_model_changed()
    {
        var id = (await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)), 55, default);

        // Nothing changed: nothing queued.
        Assert.Empty(await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, Yolox)), default));

        // The classifier is added: a job for the classifier alone, and the detector's stored result stays readable.
        Assert.Equal([id], await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, Yolox), (AnalysisTask.Classes, MobileNet)), default));
        job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.Equal([AnalysisTask.Classes], job.Analyses);
        var kept = Assert.Single(await Catalog.GetAnalysisLabelsAsync(id, default));
        Assert.Equal(AnalysisTask.Objects, kept.Task);
        // The pipeline merges the kept result with the new one; the catalog stores the new analysis only.
        var classes = Classes();
        await Catalog.CompleteJobAsync(job, Result(kept, classes) with { Analyses = [classes] }, 55, default);
        Assert.Contains(kept.Labels, l => l.Label.Name == "Bicycle" && l.Label.Instances.Count == 1);
        Assert.Equal(["classes", "objects"], (await Catalog.GetAnalysisProvenanceAsync(id, default)).Select(a => a.Analysis));

        // Old results stay searchable while a relabel waits.
        Assert.Equal([id], await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, YoloxNext), (AnalysisTask.Classes, MobileNet)), default));
        Assert.Single((await Catalog.SearchAsync(new ImageQuery { Labels = ["Bicycle"] }, default)).Images);
        job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.Equal([AnalysisTask.Objects], job.Analyses);
        await Catalog.CompleteJobAsync(job, Result(Objects(YoloxNext), kept with { Model = MobileNet, Task = AnalysisTask.Classes }) with { Analyses = [Objects(YoloxNext)] }, 55, default);

        // The classifier is taken out of the configuration: its stored result no longer counts, so the image is relabeled whole.
        Assert.Equal([id], await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, YoloxNext)), default));
        job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.Null(job.Analyses);
        await Catalog.CompleteJobAsync(job, Result(Objects(YoloxNext)), 55, default);
        Assert.Equal(["objects"], (await Catalog.GetAnalysisProvenanceAsync(id, default)).Select(a => a.Analysis));
    }

    [Fact]
    public async Task Contract_search_by_label_parent_alias_and_exclusion_in_keyset_pages()
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var id = (await Catalog.RecordUploadAsync(Stored("photos", $"dog-{i}.jpg", $"v{i}"), null, default)).Image.Id;
            var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
            await Catalog.CompleteJobAsync(job, Result(i % 2 == 0 ? [Objects(Yolox), Classes()] : [Objects(Yolox, withBicycle: false)]), 55, default);
            ids.Add(id);
        }

        Assert.Equal(5, (await Catalog.SearchAsync(new ImageQuery { Labels = ["animal"] }, default)).Images.Count);
        Assert.Equal(3, (await Catalog.SearchAsync(new ImageQuery { Labels = ["Dog", "Bicycle"] }, default)).Images.Count);
        Assert.Equal(2, (await Catalog.SearchAsync(new ImageQuery { Labels = ["Dog"], NotLabels = ["Bicycle"] }, default)).Images.Count);
        var puppy = new ImageQuery { Labels = ["Puppy"] }.WithAliasesResolved(LabelTaxonomy.BuiltIn);
        Assert.Equal(5, (await Catalog.SearchAsync(puppy, default)).Images.Count);

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Catalog.SearchAsync(new ImageQuery { Labels = ["Dog"], Limit = 2, Cursor = cursor }, default);
            seen.AddRange(page.Images.Select(i => i.Image.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        Assert.Equal(ids.Order(), seen.Order());
        Assert.Equal(5, seen.Distinct().Count());

        var facets = await Catalog.LabelFacetsAsync("do", 10, labeledOnly: true, default);
        Assert.Equal(5, Assert.Single(facets, f => f.Name == "Dog").Images);
    }

    [Fact]
    public async Task Contract_a_deleted_image_leaves_search_and_says_so_in_the_feed()
    {
        var id = (await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)), 55, default);

        Assert.True(await Catalog.DeleteImageAsync("photos", "dog.jpg", default));
        Assert.False(await Catalog.DeleteImageAsync("photos", "dog.jpg", default));
        Assert.Null(await Catalog.GetDetailsAsync(id, default));
        Assert.Empty((await Catalog.SearchAsync(new ImageQuery { Labels = ["Dog"] }, default)).Images);
        Assert.Empty(await Catalog.GetAnalysisLabelsAsync(id, default));
        Assert.Equal([CatalogEventType.ObjectCreated, CatalogEventType.LabelsReady, CatalogEventType.ObjectRemoved], (await SettledChangesAsync()).Select(c => c.Type));
    }

    [Fact]
    public async Task Contract_results_table_names_bare_keys_pages_by_id_in_segments_and_walks_a_label_by_confidence()
    {
        Task<string> DogAsync(string bucket, string key, float dog) => LabelAsync(bucket, key, Result(Objects(Yolox, dog: dog)));

        // The same key in two buckets: the one cataloged first owns the bare key.
        var first = await DogAsync("photos", "dog.jpg", 0.85f);
        var second = await DogAsync("archive", "dog.jpg", 0.60f);
        var ids = new List<string> { first, second };
        foreach (var (score, i) in new[] { 0.70f, 0.75f, 0.85f, 0.95f }.Select((s, i) => (s, i)))
        {
            ids.Add(await DogAsync("photos", $"more/{i}.jpg", score));
        }

        Assert.Equal(first, await Catalog.FindKeyOwnerAsync("dog.jpg", default));
        Assert.Null(await Catalog.FindKeyOwnerAsync("cat.jpg", default));
        var rows = (await Catalog.GetResultRowsAsync([first, second, "0123456789abcdef0123456789abcdef"], default)).ToDictionary(r => r.Image.Id);
        Assert.Equal(2, rows.Count);
        Assert.True(rows[first].OwnsKey);
        Assert.False(rows[second].OwnsKey);
        Assert.Equal(("archive", "dog.jpg", MediaTypes.Image), (rows[second].Image.Bucket, rows[second].Image.Key, rows[second].MediaType));
        Assert.Empty(rows[first].Segments);
        Assert.Equal(rows[first].Labels.Max(l => l.Confidence), rows[first].Labels[0].Confidence);
        Assert.Contains(rows[first].Labels, l => l.Name == "Dog" && l.Instances.Count == 1);

        // Keyset pages of two, in id order, cover every row once; segments split the rows without overlap.
        var scanned = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await Catalog.ScanResultRowsAsync(after, 0, 1, 2, default);
            scanned.AddRange(page.Select(r => r.Image.Id));
            if (page.Count < 2)
            {
                break;
            }

            after = page[^1].Image.Id;
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), scanned);
        var bySegment = new List<string>();
        for (var segment = 0; segment < 3; segment++)
        {
            var part = (await Catalog.ScanResultRowsAsync(null, segment, 3, 100, default)).Select(r => r.Image.Id).ToList();
            Assert.All(part, id => Assert.Equal(segment, TableSegments.Of(id, 3)));
            bySegment.AddRange(part);
        }

        Assert.Equal(scanned, bySegment.Order(StringComparer.Ordinal));

        // The Dog index: by confidence both ways (ties included), in pages of two, the exact name only, within a range.
        async Task<List<LabelIndexEntry>> WalkAsync(bool ascending, ConfidenceRange range)
        {
            var entries = new List<LabelIndexEntry>();
            LabelIndexPosition? position = null;
            while (true)
            {
                var page = await Catalog.QueryLabelIndexAsync("Dog", range, ascending, position, 2, default);
                entries.AddRange(page);
                if (page.Count < 2)
                {
                    return entries;
                }

                position = new LabelIndexPosition(page[^1].Confidence, page[^1].Row.Image.Id);
            }
        }

        var descending = await WalkAsync(ascending: false, ConfidenceRange.All);
        Assert.Equal(ids.Order(), descending.Select(e => e.Row.Image.Id).Order());
        Assert.Equal(descending.Select(e => e.Confidence).OrderDescending(), descending.Select(e => e.Confidence));
        Assert.All(descending, e => Assert.Equal(e.Row.Labels.Single(l => l.Name == "Dog").Confidence, e.Confidence));
        Assert.Equal(2, descending.Count(e => e.Confidence == descending[1].Confidence)); // 0.85 twice: a tie across a page boundary
        var ascendingEntries = await WalkAsync(ascending: true, ConfidenceRange.All);
        Assert.Equal(descending.Select(e => e.Row.Image.Id).Reverse(), ascendingEntries.Select(e => e.Row.Image.Id));
        var confident = await WalkAsync(ascending: false, new ConfidenceRange(Min: descending[1].Confidence, MinInclusive: true));
        Assert.Equal(descending.Take(3).Select(e => e.Row.Image.Id), confident.Select(e => e.Row.Image.Id));
        var below = await WalkAsync(ascending: false, new ConfidenceRange(Max: descending[1].Confidence, MaxInclusive: false));
        Assert.Equal(descending.Skip(3).Select(e => e.Row.Image.Id), below.Select(e => e.Row.Image.Id));
        Assert.Empty(await Catalog.QueryLabelIndexAsync("dog", ConfidenceRange.All, false, null, 10, default));

        var counts = await Catalog.CountResultsAsync(default);
        Assert.Equal(6, counts.Rows);
        var allRows = await Catalog.GetResultRowsAsync(ids, default);
        Assert.Equal(allRows.Sum(r => r.Labels.Count), counts.LabelEntries);
        Assert.NotNull(counts.Since);

        // The owner goes: the other bucket's object owns the bare key now.
        Assert.True(await Catalog.DeleteImageAsync("photos", "dog.jpg", default));
        Assert.Equal(second, await Catalog.FindKeyOwnerAsync("dog.jpg", default));
        Assert.True(Assert.Single(await Catalog.GetResultRowsAsync([second], default)).OwnsKey);
    }

    [Fact]
    public async Task Contract_text_follows_the_labels_in_its_own_job_and_is_searchable_by_word_and_phrase()
    {
        var dog = (await Catalog.RecordUploadAsync(Stored("photos", "dog.jpg", "v1"), null, default)).Image.Id;
        var slate = (await Catalog.RecordUploadAsync(Stored("photos", "slate.png", "v1"), null, default)).Image.Id;
        var labelJobs = await Catalog.ClaimJobsAsync("w", 5, Queue, default);
        Assert.Equal(2, labelJobs.Count);
        foreach (var job in labelJobs)
        {
            Assert.True(await Catalog.CompleteJobAsync(job, Result(Objects(Yolox)) with { TextFollows = true }, 55, default));
        }

        // The labels landed; the text jobs wait for the text worker and leave the images labeled.
        Assert.Empty(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        var textJobs = await Catalog.ClaimJobsAsync("t", 5, Queue, default, JobKind.Text);
        Assert.Equal(2, textJobs.Count);
        Assert.All(textJobs, j => Assert.True(j.IsTextOnly));
        Assert.Equal(ImageStatus.Labeled, (await Catalog.GetImageAsync(dog, default))!.Status);
        Assert.True(await Catalog.CompleteTextJobAsync(textJobs.Single(j => j.ImageId == dog), Reading(), default));
        Assert.True(await Catalog.CompleteTextJobAsync(textJobs.Single(j => j.ImageId == slate), Reading("SCENE 42", "TAKE 7", "Café Müller"), default));

        var details = (await Catalog.GetDetailsAsync(slate, default))!;
        Assert.Equal(["SCENE 42", "TAKE 7", "Café Müller"], details.Text!.Select(l => l.Text));
        Assert.Equal(["SCENE", "42"], details.Text![0].Words.Select(w => w.Text));
        Assert.Equal(0.25, details.Text![0].Words[1].Polygon[0].X, 6);
        Assert.Contains(details.Analyses!, a => a.Analysis == "text" && a.ModelVersion == Ocr.Version);
        Assert.Empty((await Catalog.GetDetailsAsync(dog, default))!.Text!);

        // The results table carries the text where the text analysis ran: lines (maybe none); absent where it did not.
        var untouched = (await Catalog.RecordUploadAsync(Stored("photos", "untouched.jpg", "v1"), null, default)).Image.Id;
        var rows = (await Catalog.GetResultRowsAsync([slate, dog, untouched], default)).ToDictionary(r => r.Image.Id);
        Assert.Equal(["SCENE 42", "TAKE 7", "Café Müller"], rows[slate].Text!.Select(l => l.Text));
        Assert.Empty(rows[dog].Text!);
        Assert.Null(rows[untouched].Text);
        var item = LabelLens.Server.Aws.DynamoDb.ResultItems.Item(rows[slate]);
        Assert.Equal("SCENE 42", item["Text"]!["L"]![0]!["M"]!["DetectedText"]!["S"]!.GetValue<string>());
        Assert.Equal("42", item["Text"]!["L"]![0]!["M"]!["Words"]!["L"]![1]!["M"]!["DetectedText"]!["S"]!.GetValue<string>());
        Assert.False(LabelLens.Server.Aws.DynamoDb.ResultItems.Item(rows[untouched]).ContainsKey("Text"));
        Assert.True(await Catalog.DeleteImageAsync("photos", "untouched.jpg", default));

        async Task<List<string>> Find(string text, params string[] labels) =>
            (await Catalog.SearchAsync(new ImageQuery { Text = text, Labels = labels }, default)).Images.Select(i => i.Image.Key).ToList();
        Assert.Equal(["slate.png"], await Find("scene"));
        Assert.Equal(["slate.png"], await Find("take 7"));
        Assert.Equal(["slate.png"], await Find("\"scene 42\""));
        Assert.Empty(await Find("\"42 scene\""));
        Assert.Empty(await Find("scene take")); // every word on one line
        Assert.Equal(["slate.png"], await Find("cafe muller")); // accents and case
        Assert.Equal(["slate.png"], await Find("CAFÉ"));
        Assert.Equal(["slate.png"], await Find("take", "Dog"));
        Assert.Empty(await Find("take", "Cat"));
        Assert.Empty(await Find("exit"));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find("\"\" ..."));

        // New bytes: the label job supersedes the text job's result; the old text stays searchable until new text lands.
        await Catalog.RecordUploadAsync(Stored("photos", "slate.png", "v2"), null, default);
        var relabel = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.True(await Catalog.CompleteJobAsync(relabel, Result(Objects(Yolox)) with { TextFollows = true }, 55, default));
        Assert.Equal(["slate.png"], await Find("scene"));
        var next = Assert.Single(await Catalog.ClaimJobsAsync("t", 5, Queue, default, JobKind.Text));
        Assert.True(await Catalog.CompleteTextJobAsync(next, Reading("THE END"), default));
        Assert.Empty(await Find("scene"));
        Assert.Equal(["slate.png"], await Find("end"));

        // Text no longer configured: a full relabel drops the stored text and its row.
        await Catalog.EnqueueRelabelAsync(slate, default);
        var plain = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.True(await Catalog.CompleteJobAsync(plain, Result(Objects(Yolox)), 55, default));
        Assert.Empty(await Find("end"));
        Assert.DoesNotContain((await Catalog.GetDetailsAsync(slate, default))!.Analyses!, a => a.Analysis == "text");
        Assert.Empty(await Catalog.ClaimJobsAsync("t", 5, Queue, default, JobKind.Text));

        Assert.True(await Catalog.DeleteImageAsync("photos", "dog.jpg", default));
        Assert.Empty(await Catalog.GetTextAsync([dog], default));
    }

    [Fact]
    public async Task Contract_a_failed_text_job_leaves_the_labels_and_model_older_reads_only_the_missing_text()
    {
        var (id, text) = await ReadyForTextAsync("dog.jpg");
        await Catalog.FailJobAsync(text, "InvalidImageFormat: no", permanent: true, Queue, default);
        var image = (await Catalog.GetImageAsync(id, default))!;
        Assert.Equal(ImageStatus.Labeled, image.Status);
        Assert.Null(image.Error);

        // The text analysis has no row: model-older queues a text job alone, and the image stays labeled.
        var queued = await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, Yolox), (AnalysisTask.Text, Ocr)), default);
        Assert.Equal([id], queued);
        Assert.Equal(ImageStatus.Labeled, (await Catalog.GetImageAsync(id, default))!.Status);
        Assert.Empty(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        var again = Assert.Single(await Catalog.ClaimJobsAsync("t", 5, Queue, default, JobKind.Text));
        Assert.True(await Catalog.CompleteTextJobAsync(again, Reading("EXIT"), default));
        Assert.Empty(await Catalog.EnqueueRelabelAsync(RelabelScope.ModelOlder, Current((AnalysisTask.Objects, Yolox), (AnalysisTask.Text, Ocr)), default));
    }

    private static readonly ModelIdentity Ocr = new("ppocr-v4", "30a86f573118" + new string('0', 52));

    /// <summary>What the text analysis read: each line's words side by side, the line a quarter of the picture wide.</summary>
    private static TextReading Reading(params string[] lines)
    {
        static List<TextPoint> Box(double left, double top, double width) =>
            [new(left, top), new(left + width, top), new(left + width, top + 0.1), new(left, top + 0.1)];
        var read = lines.Select((line, i) =>
        {
            var words = line.Split(' ');
            var width = 0.5 / words.Length;
            return new TextLine(line, 99, Box(0, i * 0.2, 0.5), words.Select((w, j) => new TextWord(w, 99, Box(j * width, i * 0.2, width))).ToList());
        }).ToList();
        return new TextReading(new DetectedText(Ocr, read), new ImageInfo(1280, 720, "png", 1000), 1) { MinConfidence = 80 };
    }

    private static StoredObject Stored(string bucket, string key, string content)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(content);
        return new StoredObject(bucket, key, bytes.Length, Convert.ToHexStringLower(MD5.HashData(bytes)), Convert.ToHexStringLower(SHA256.HashData(bytes)), DateTimeOffset.UtcNow);
    }

    private static Dictionary<AnalysisTask, ModelIdentity> Current(params (AnalysisTask Task, ModelIdentity Model)[] models) =>
        models.ToDictionary(m => m.Task, m => m.Model);

    /// <summary>What YOLOX finds on dog.jpg: a dog (at 0.85 unless told) and (unless left out) a bicycle, boxes in pixels of a 768 × 576 photo.</summary>
    private AnalysisLabels Objects(ModelIdentity model, bool withBicycle = true, float dog = 0.85f)
    {
        List<Detection.Detection> detections = [new(16, dog, 130, 205, 320, 542)];
        if (withBicycle)
        {
            detections.Add(new(1, 0.81f, 120, 120, 570, 420));
        }

        return new AnalysisLabels(AnalysisTask.Objects, model, 55, _builder.FromDetections(detections, ModelCatalog.CocoClasses, 768, 576, 55));
    }

    /// <summary>What MobileNetV2 says of dog.jpg: malamute 0.71, Eskimo dog 0.08, Siberian husky 0.04, dogsled 0.07, the rest spread.</summary>
    private AnalysisLabels Classes()
    {
        var classes = ModelCatalog.ImageNetClasses.ToList();
        var probabilities = new float[classes.Count];
        Array.Fill(probabilities, 0.10f / classes.Count);
        probabilities[classes.IndexOf("n02110063")] += 0.71f;
        probabilities[classes.IndexOf("n02109961")] += 0.08f;
        probabilities[classes.IndexOf("n02110185")] += 0.04f;
        probabilities[classes.IndexOf("n03218198")] += 0.07f;
        return new AnalysisLabels(AnalysisTask.Classes, MobileNet, 55, _builder.FromClassScores(probabilities, classes, 55));
    }

    [Fact]
    public async Task Contract_faces_are_stored_per_picture_counted_and_searched_by_number_and_shot_size()
    {
        var ultraFace = new ModelIdentity("ultraface-320", "34cd7e60aeff" + new string('0', 52));
        DetectedFaces Faces(params double[] heights) => new(ultraFace, heights.Select((h, i) => new FaceDetail(new BoundingBox(0.1, h, 0.1 + (0.2 * i), 0.1), 99.5, new FaceQuality(60, 80))).ToList());
        var pictures = new (string Key, DetectedFaces? Faces)[]
        {
            ("empty.jpg", Faces()),
            ("portrait.jpg", Faces(0.6)),
            ("two-shot.jpg", Faces(0.15, 0.12)),
            ("crowd.jpg", Faces(0.05, 0.04, 0.05, 0.03)),
            ("not-analysed.jpg", null),
        };
        foreach (var (key, _) in pictures)
        {
            await Catalog.RecordUploadAsync(Stored("faces", key, "v1"), null, default);
        }

        foreach (var job in await Catalog.ClaimJobsAsync("w", 10, Queue, default))
        {
            var faces = pictures.Single(p => p.Key == job.Key).Faces;
            var analyses = faces is null ? [Objects(Yolox)] : new[] { Objects(Yolox), new AnalysisLabels(AnalysisTask.Faces, ultraFace, 55, faces.ToLabels(_builder, 768, 576, 55)) };
            Assert.True(await Catalog.CompleteJobAsync(job, Result(analyses) with { Faces = faces }, 55, default));
        }

        async Task<List<string>> Find(ImageQuery query) => (await Catalog.SearchAsync(query, default)).Images.Select(i => i.Image.Key).Order().ToList();
        Assert.Equal(["empty.jpg"], await Find(new ImageQuery { Faces = 0 }));
        Assert.Equal(["crowd.jpg", "two-shot.jpg"], await Find(new ImageQuery { MinFaces = 2 }));
        Assert.Equal(["empty.jpg", "portrait.jpg"], await Find(new ImageQuery { MaxFaces = 1 }));
        Assert.Equal(["portrait.jpg"], await Find(new ImageQuery { Shot = "close-up" }));
        Assert.Equal(["two-shot.jpg"], await Find(new ImageQuery { Shot = "Medium" }));
        Assert.Equal(["crowd.jpg"], await Find(new ImageQuery { Shot = "wide", MinFaces = 3 }));
        Assert.Equal(["crowd.jpg", "portrait.jpg", "two-shot.jpg"], await Find(new ImageQuery { Labels = ["Face"] }));
        Assert.Equal(["two-shot.jpg"], await Find(new ImageQuery { Counts = [new LabelCount("Face", 2)], MaxFaces = 2 }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { Shot = "extreme" }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { MinFaces = -1 }));

        var twoShot = (await Catalog.SearchAsync(new ImageQuery { MinFaces = 2, Shot = "medium" }, default)).Images.Single().Image.Id;
        var details = (await Catalog.GetDetailsAsync(twoShot, default))!;
        Assert.Equal(2, details.Faces!.Count);
        Assert.Equal("medium", details.Faces.Shot);
        Assert.Equal([0.15, 0.12], details.Faces.Faces.Select(f => f.BoundingBox.Height));
        Assert.Equal(new FaceQuality(60, 80), details.Faces.Faces[0].Quality);
        var empty = (await Catalog.SearchAsync(new ImageQuery { Faces = 0 }, default)).Images.Single().Image.Id;
        Assert.Equal(new FaceSummary(0, null, []).Count, (await Catalog.GetFacesAsync([empty], default))[empty].Count);
        Assert.Null((await Catalog.GetFacesAsync([empty], default))[empty].Shot);
        var notAnalysed = ImageIds.For("faces", "not-analysed.jpg");
        Assert.Null((await Catalog.GetDetailsAsync(notAnalysed, default))!.Faces);

        // The results table (DynamoDB) carries them too: DetectFaces' details, the count and the shot size.
        var rows = (await Catalog.GetResultRowsAsync([twoShot, empty, notAnalysed], default)).ToDictionary(r => r.Image.Id);
        var item = LabelLens.Server.Aws.DynamoDb.ResultItems.Item(rows[twoShot]);
        Assert.Equal(2, item["Faces"]!["L"]!.AsArray().Count);
        Assert.Equal("2", item["FaceCount"]!["N"]!.GetValue<string>());
        Assert.Equal("medium", item["Shot"]!["S"]!.GetValue<string>());
        Assert.Equal("60", item["Faces"]!["L"]![0]!["M"]!["Quality"]!["M"]!["Brightness"]!["N"]!.GetValue<string>());
        Assert.Equal("0", LabelLens.Server.Aws.DynamoDb.ResultItems.Item(rows[empty])["FaceCount"]!["N"]!.GetValue<string>());
        Assert.False(LabelLens.Server.Aws.DynamoDb.ResultItems.Item(rows[notAnalysed]).ContainsKey("Faces"));

        // A full run without the face analysis (no longer configured) drops the faces, as a removed analysis's results are.
        Assert.True(await Catalog.EnqueueRelabelAsync(twoShot, default));
        var relabel = Assert.Single(await Catalog.ClaimJobsAsync("w", 10, Queue, default));
        Assert.True(await Catalog.CompleteJobAsync(relabel, Result(Objects(Yolox)), 55, default));
        Assert.Null((await Catalog.GetDetailsAsync(twoShot, default))!.Faces);
        Assert.DoesNotContain("two-shot.jpg", await Find(new ImageQuery { MinFaces = 1 }));
    }

    [Fact]
    public async Task Contract_search_filters_colour_quality_counts_exclusions_category_area_place_and_status()
    {
        static ImageProperties Properties(double brightness, double sharpness, double contrast, params (string Color, double Percent)[] colors) => new(
            new ImageQuality(brightness, sharpness, contrast),
            colors.Select(c => new DominantColor(0, 0, 0, "#000000", c.Color, c.Color, c.Percent)).ToList(),
            null,
            null);

        await LabelAsync("photos", "a/red.jpg", Result(Objects(Yolox)) with { ImageProperties = Properties(80, 30, 50, ("red", 40), ("red", 20), ("blue", 5)) });
        await LabelAsync("photos", "a/blue.jpg", Result(Objects(Yolox, withBicycle: false)) with { ImageProperties = Properties(20, 90, 10, ("blue", 70)) });
        await LabelAsync("photos", "b/plain.jpg", Result(Objects(Yolox, withBicycle: false, dog: 0.60f)));
        await Catalog.RecordUploadAsync(Stored("archive", "a/new.jpg", "new"), null, default);

        async Task<List<string>> Find(ImageQuery query) =>
            (await Catalog.SearchAsync(query, default)).Images.Select(i => $"{i.Image.Bucket}/{i.Image.Key}").Order(StringComparer.Ordinal).ToList();

        // Colours: each simple colour's share summed over the dominant colours, at least 10 % unless told.
        Assert.Equal(["photos/a/red.jpg"], await Find(new ImageQuery { Colors = ["red"] }));
        Assert.Equal(["photos/a/red.jpg"], await Find(new ImageQuery { Colors = ["Red"], MinColorPercent = 60 }));
        Assert.Empty(await Find(new ImageQuery { Colors = ["red"], MinColorPercent = 61 }));
        Assert.Equal(["photos/a/blue.jpg"], await Find(new ImageQuery { Colors = ["blue"] }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { Colors = ["blue"], MinColorPercent = 5 }));
        Assert.Empty(await Find(new ImageQuery { Colors = ["blue", "red"] }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { Colors = ["mauve"] }));

        // Quality ranges; an image without properties matches none.
        Assert.Equal(["photos/a/red.jpg"], await Find(new ImageQuery { MinBrightness = 50 }));
        Assert.Equal(["photos/a/blue.jpg"], await Find(new ImageQuery { MinSharpness = 50, MaxContrast = 10 }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { MinBrightness = 20, MaxBrightness = 80 }));
        Assert.Empty(await Find(new ImageQuery { MinContrast = 51 }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { MaxSharpness = 101 }));
        Assert.Equal(40 + 20, (await Catalog.SearchAsync(new ImageQuery { Colors = ["red"] }, default)).Images.Single().Properties!.DominantColors.Where(c => c.SimplifiedColor == "red").Sum(c => c.PixelPercent));

        // Instance counts (a parent counts its descendants' boxes), at or above MinConfidence.
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg", "photos/b/plain.jpg"], await Find(new ImageQuery { Counts = [new LabelCount("Animal", 1)] }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { Counts = [new LabelCount("dog", 1)], MinConfidence = 70 }));
        Assert.Empty(await Find(new ImageQuery { Counts = [new LabelCount("Dog", 2)] }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { Counts = [new LabelCount("Dog", 0)] }));

        // Exclusions: a label below MinConfidence counts as absent, and an image without labels has none to exclude.
        Assert.Equal(["archive/a/new.jpg", "photos/b/plain.jpg"], await Find(new ImageQuery { NotLabels = ["Dog"], MinConfidence = 70 }));
        Assert.Equal(["archive/a/new.jpg", "photos/a/blue.jpg", "photos/b/plain.jpg"], await Find(new ImageQuery { NotLabels = ["bicycle"] }));
        Assert.Equal(["photos/a/red.jpg"], await Find(new ImageQuery { AnyLabels = ["Cat", "Bicycle"] }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { Labels = ["Dog"], MinConfidence = 70 }));

        // Category (case-insensitive) and box area: the filtered labels' boxes (a parent's descendants' too), or any box.
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg", "photos/b/plain.jpg"], await Find(new ImageQuery { Category = "animals and pets" }));
        Assert.Equal(["photos/a/red.jpg"], await Find(new ImageQuery { MinArea = 0.2 }));
        Assert.Empty(await Find(new ImageQuery { MinArea = 0.2, Labels = ["Dog"] }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg", "photos/b/plain.jpg"], await Find(new ImageQuery { MinArea = 0.1, AnyLabels = ["Animal"] }));

        // Where and what state: bucket, key prefix (case-sensitive), status.
        Assert.Equal(["archive/a/new.jpg"], await Find(new ImageQuery { Bucket = "archive" }));
        Assert.Equal(["archive/a/new.jpg", "photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { Prefix = "a/" }));
        Assert.Empty(await Find(new ImageQuery { Prefix = "A/" }));
        Assert.Equal(["photos/a/blue.jpg", "photos/a/red.jpg"], await Find(new ImageQuery { Bucket = "photos", Prefix = "a/" }));
        Assert.Equal(["archive/a/new.jpg"], await Find(new ImageQuery { Status = "queued" }));
        Assert.Equal(["photos/b/plain.jpg"], await Find(new ImageQuery { Status = "Labeled", Prefix = "b" }));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Find(new ImageQuery { Status = "lost" }));
    }

    [Fact]
    public async Task Contract_search_sorts_by_time_or_confidence_and_keyset_pages_add_up_to_one_page()
    {
        foreach (var (dog, i) in new[] { 0.60f, 0.95f, 0.85f, 0.75f, 0.85f }.Select((d, i) => (d, i)))
        {
            await LabelAsync("photos", $"dog-{i}.jpg", Result(Objects(Yolox, withBicycle: i == 2, dog: dog)));
        }

        await Catalog.RecordUploadAsync(Stored("photos", "new-1.jpg", "new-1"), null, default);
        await Catalog.RecordUploadAsync(Stored("photos", "new-2.jpg", "new-2"), null, default);
        var all = (await Catalog.SearchAsync(new ImageQuery { Limit = 100 }, default)).Images;
        Assert.Equal(7, all.Count);
        double Best(ImageDetails image) => image.Labels.Count == 0 ? -1 : image.Labels.Max(l => l.Confidence);
        double DogOf(ImageDetails image) => image.Labels.Single(l => l.Name == "Dog").Confidence;

        // Each order over one big page, and the same rows walked in pages of two: none repeated, none missed.
        async Task<List<ImageDetails>> Walk(ImageQuery query)
        {
            var whole = (await Catalog.SearchAsync(query with { Limit = 100 }, default)).Images;
            Assert.Null((await Catalog.SearchAsync(query with { Limit = 100 }, default)).NextCursor);
            var paged = new List<ImageDetails>();
            string? cursor = null;
            do
            {
                var page = await Catalog.SearchAsync(query with { Limit = 2, Cursor = cursor }, default);
                Assert.True(page.Images.Count == 2 || page.NextCursor is null);
                paged.AddRange(page.Images);
                cursor = page.NextCursor;
            }
            while (cursor is not null);
            Assert.Equal(whole.Select(i => i.Image.Id), paged.Select(i => i.Image.Id));
            return paged;
        }

        var newest = await Walk(new ImageQuery());
        Assert.Equal(all.OrderByDescending(i => i.Image.UpdatedAt).ThenByDescending(i => i.Image.Id, StringComparer.Ordinal).Select(i => i.Image.Id), newest.Select(i => i.Image.Id));
        var best = await Walk(new ImageQuery { Sort = ImageSort.Confidence });
        Assert.Equal(all.OrderByDescending(Best).ThenBy(i => i.Image.Id, StringComparer.Ordinal).Select(i => i.Image.Id), best.Select(i => i.Image.Id));
        Assert.Equal(["new-1.jpg", "new-2.jpg"], best.TakeLast(2).Select(i => i.Image.Key).Order(StringComparer.Ordinal)); // no label: last
        var dogs = await Walk(new ImageQuery { Sort = ImageSort.Confidence, Labels = ["dog"] });
        Assert.Equal(all.Where(i => i.Labels.Count > 0).OrderByDescending(DogOf).ThenBy(i => i.Image.Id, StringComparer.Ordinal).Select(i => i.Image.Id), dogs.Select(i => i.Image.Id));
        Assert.Contains(dogs.GroupBy(DogOf), g => g.Count() == 2); // a tie (0.85 twice), across a page boundary
        var either = await Walk(new ImageQuery { Sort = ImageSort.Confidence, Labels = ["Dog", "Animal"] });
        Assert.Equal(dogs.Select(i => i.Image.Id), either.Select(i => i.Image.Id));
        var bicycles = await Walk(new ImageQuery { Sort = ImageSort.Confidence, Labels = ["Bicycle", "Dog"] });
        Assert.Equal("dog-2.jpg", Assert.Single(bicycles).Image.Key);
        Assert.Equal(newest.Where(i => i.Labels.Count > 0).Select(i => i.Image.Id), (await Walk(new ImageQuery { Labels = ["Animal"] })).Select(i => i.Image.Id));
        Assert.Equal(["new-1.jpg", "new-2.jpg"], (await Walk(new ImageQuery { Sort = ImageSort.Confidence, Status = "queued" })).Select(i => i.Image.Key).Order(StringComparer.Ordinal));

        // A cursor belongs to its sort order; anything else is refused.
        var timeCursor = (await Catalog.SearchAsync(new ImageQuery { Limit = 1 }, default)).NextCursor;
        var refused = await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.SearchAsync(new ImageQuery { Sort = ImageSort.Confidence, Cursor = timeCursor }, default));
        Assert.Equal("InvalidCursor", refused.Code);
        await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.SearchAsync(new ImageQuery { Cursor = "bm90LWEtY3Vyc29y" }, default));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.SearchAsync(new ImageQuery { Limit = 0 }, default));
    }

    [Fact]
    public async Task Contract_a_labels_newest_images_and_box_counts_follow_every_write_of_labels_boxes_and_uploads()
    {
        // Label rows carry their image's time and box count for search; every write must keep them.
        var ids = new List<string>();
        foreach (var key in new[] { "old.jpg", "middle.jpg", "new.jpg" })
        {
            ids.Add(await LabelAsync("photos", key, Result(Objects(Yolox, withBicycle: key != "middle.jpg"))));
            await Task.Delay(5); // distinct upload times
        }

        async Task<List<string>> Keys(ImageQuery query)
        {
            var keys = new List<string>();
            string? cursor = null;
            do
            {
                var page = await Catalog.SearchAsync(query with { Limit = 1, Cursor = cursor }, default);
                keys.AddRange(page.Images.Select(i => i.Image.Key));
                cursor = page.NextCursor;
            }
            while (cursor is not null && keys.Count < 10);
            return keys;
        }

        Assert.Equal(["new.jpg", "middle.jpg", "old.jpg"], await Keys(new ImageQuery { Labels = ["dog"] }));
        Assert.Equal(["new.jpg", "old.jpg"], await Keys(new ImageQuery { Labels = ["Dog", "Bicycle"] }));
        Assert.Equal(["new.jpg", "middle.jpg", "old.jpg"], await Keys(new ImageQuery { Counts = [new LabelCount("Animal", 1)] }));

        // New bytes under an old key make it the newest upload; its labels stay until it is labeled again.
        await Catalog.RecordUploadAsync(Stored("photos", "old.jpg", "v2"), null, default);
        Assert.Equal(["old.jpg", "new.jpg", "middle.jpg"], await Keys(new ImageQuery { Labels = ["Dog"] }));
        Assert.Equal(["old.jpg", "new.jpg"], await Keys(new ImageQuery { Labels = ["Bicycle"], Counts = [new LabelCount("Dog", 1)] }));
        var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.True(await Catalog.CompleteJobAsync(job, Result(Objects(Yolox, withBicycle: false)), 55, default));
        Assert.Equal(["new.jpg"], await Keys(new ImageQuery { Labels = ["Bicycle"] }));
        Assert.Equal(["old.jpg", "new.jpg", "middle.jpg"], await Keys(new ImageQuery { Counts = [new LabelCount("Dog", 1)] }));

        // A label added by hand is found in time order with the others; removing one takes its boxes from its parents' counts.
        Assert.True(await Catalog.AddManualLabelAsync(ids[2], "Good Boy", [new NamedItem("Dog")], [], default));
        Assert.True(await Catalog.AddManualLabelAsync(ids[1], "Good Boy", [new NamedItem("Dog")], [], default));
        Assert.Equal(["new.jpg", "middle.jpg"], await Keys(new ImageQuery { Labels = ["good boy"] }));
        Assert.Equal(["new.jpg", "middle.jpg"], await Keys(new ImageQuery { Labels = ["Good Boy", "Animal"] }));
        Assert.True(await Catalog.RemoveManualLabelAsync(ids[1], "Dog", default));
        Assert.Equal(["old.jpg", "new.jpg"], await Keys(new ImageQuery { Counts = [new LabelCount("Animal", 1)] }));
        Assert.Equal(["old.jpg", "new.jpg", "middle.jpg"], await Keys(new ImageQuery { Labels = ["Animal"] }));
    }

    [Fact]
    public async Task Contract_a_large_page_gives_each_image_its_own_labels_and_boxes_in_order()
    {
        // A page of a few hundred images is read in parts at once (on several connections); every image must still get
        // exactly its own labels and boxes, in the order one image's read gives them.
        const int Images = 240;
        var ids = new List<string>();
        for (var i = 0; i < Images; i++)
        {
            List<Detection.Detection> detections = [];
            for (var dog = 0; dog <= i % 3; dog++)
            {
                detections.Add(new(16, 0.6f + (0.1f * dog) + (i * 0.0005f), 10 + (100 * dog), 20, 90 + (100 * dog), 300));
            }

            if (i % 2 == 0)
            {
                detections.Add(new(1, 0.9f, 120, 120, 570, 420));
            }

            var objects = new AnalysisLabels(AnalysisTask.Objects, Yolox, 55, _builder.FromDetections(detections, ModelCatalog.CocoClasses, 768, 576, 55));
            var result = Result(objects);
            // Each image's own properties and box colours (what the default image properties store), told apart by
            // the image's number: the page reads them in the same halves as the labels.
            var box = 0;
            result = result with
            {
                ImageProperties = new ImageProperties(
                    new ImageQuality(i % 100, 50, i % 2 == 0 ? 10 : null),
                    [new DominantColor(i, 2, 3, $"#{i:X6}", "navy", "blue", 60), new DominantColor(4, 5, 6, "#040506", "black", "black", 40)],
                    i % 3 == 0 ? null : new ImageRegion(new ImageQuality(1, 2, null), [new DominantColor(7, 8, 9, "#070809", "black", "black", 100)]),
                    null),
                Labels = [.. result.Labels.Select(l => l with
                {
                    Instances = [.. l.Instances.Select(b => b with { DominantColors = [new DominantColor(i, box++ % 256, 0, $"#{i:X4}{box:X2}", "red", "red", 100)] })],
                })],
            };
            ids.Add(await LabelAsync("many", $"{i:D3}.jpg", result));
        }

        // One name with different texts on different images of the page: each image keeps its own (the page reads a
        // label's text once per distinct text, not once per name).
        string[] goodBoyParents = ["Dog", "Bicycle", "Dog"];
        for (var i = 0; i < goodBoyParents.Length; i++)
        {
            Assert.True(await Catalog.AddManualLabelAsync(ids[i], "Good Boy", [new NamedItem(goodBoyParents[i])], [], default));
        }

        static string Shape(IEnumerable<StoredLabel> labels) => string.Join(
            "; ",
            labels.Select(l => $"{l.Name} {l.Confidence:F3} [{string.Join(' ', l.Instances.Select(b => $"{b.Confidence:F3}@{b.BoundingBox.Left:F3} {string.Join(',', (b.DominantColors ?? []).Select(c => c.HexCode))}"))}] {string.Join('|', l.Parents.Select(p => p.Name))}"));

        var page = await Catalog.SearchAsync(new ImageQuery { Bucket = "many", Limit = 1000 }, default);
        Assert.Equal(Images, page.Images.Count);
        var byId = await Catalog.GetLabelsAsync(page.Images.Select(i => i.Image.Id).ToList(), default);
        foreach (var image in page.Images)
        {
            var i = int.Parse(image.Image.Key[..3], CultureInfo.InvariantCulture);
            var dogs = image.Labels.Single(l => l.Name == "Dog").Instances;
            Assert.Equal((i % 3) + 1, dogs.Count);
            Assert.Equal(dogs.OrderByDescending(b => b.Confidence).Select(b => b.Confidence), dogs.Select(b => b.Confidence));
            Assert.Equal(i % 2 == 0, image.Labels.Any(l => l.Name == "Bicycle" && l.Instances.Count == 1));
            Assert.Equal(i < goodBoyParents.Length ? [goodBoyParents[i]] : [], image.Labels.Where(l => l.Name == "Good Boy").SelectMany(l => l.Parents).Select(p => p.Name));
            var one = await Catalog.GetDetailsAsync(image.Image.Id, default);
            Assert.Equal(Shape(one!.Labels), Shape(image.Labels));
            Assert.Equal(Shape(byId[image.Image.Id]), Shape(image.Labels));
            Assert.All(dogs, b => Assert.StartsWith($"#{i:X4}", Assert.Single(b.DominantColors!).HexCode));
            Assert.Equal($"#{i:X6}", image.Properties!.DominantColors[0].HexCode);
            Assert.Equal(
                JsonSerializer.Serialize(one.Properties),
                JsonSerializer.Serialize(image.Properties));
            Assert.Equal(i % 3 != 0, image.Properties.Foreground is not null);
        }
    }

    [Fact]
    public async Task Contract_label_facets_count_images_most_common_first_by_prefix_and_labeled_only()
    {
        for (var i = 0; i < 3; i++)
        {
            await LabelAsync("photos", $"dog-{i}.jpg", Result(Objects(Yolox, withBicycle: i == 0)));
        }

        var queued = (await Catalog.RecordUploadAsync(Stored("photos", "queued.jpg", "q"), null, default)).Image.Id;
        Assert.True(await Catalog.AddManualLabelAsync(queued, "Dog", [new NamedItem("Animal")], [], default));

        var everything = await Catalog.LabelFacetsAsync(null, 100, labeledOnly: false, default);
        Assert.Equal(4, everything.Single(f => f.Name == "Dog").Images);
        Assert.Equal(1, everything.Single(f => f.Name == "Bicycle").Images);
        Assert.Equal(everything.OrderByDescending(f => f.Images).ThenBy(f => f.Name.ToLowerInvariant(), StringComparer.Ordinal).Select(f => f.Name), everything.Select(f => f.Name));
        Assert.Equal("Dog", Assert.Single(await Catalog.LabelFacetsAsync("", 1, labeledOnly: false, default)).Name);

        var labeled = await Catalog.LabelFacetsAsync("d", 10, labeledOnly: true, default);
        Assert.Equal(3, labeled.Single(f => f.Name == "Dog").Images);
        Assert.All(labeled, f => Assert.StartsWith("d", f.Name, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(1, (await Catalog.LabelFacetsAsync("BI", 10, labeledOnly: true, default)).Single(f => f.Name == "Bicycle").Images);
        Assert.Empty(await Catalog.LabelFacetsAsync("_", 10, labeledOnly: false, default)); // LIKE's wildcards are plain characters
        Assert.Empty(await Catalog.LabelFacetsAsync("%", 10, labeledOnly: false, default));
        await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.LabelFacetsAsync("", 0, labeledOnly: false, default));

        // The counts follow deletes.
        Assert.True(await Catalog.DeleteImageAsync("photos", "dog-0.jpg", default));
        Assert.Empty(await Catalog.LabelFacetsAsync("bicycle", 10, labeledOnly: false, default));
        Assert.Equal(2, Assert.Single(await Catalog.LabelFacetsAsync("dog", 10, labeledOnly: true, default)).Images);
    }

    [Fact]
    public async Task Contract_text_is_read_back_in_time_order_and_a_search_returns_only_the_lines_it_matched()
    {
        var (id, text) = await ReadyForTextAsync("signs.png");
        var reading = Reading("NO EXIT HERE", "EXIT ONLY", "Café Müller", "Emergency exit");
        var timed = reading with
        {
            Text = reading.Text with { Lines = reading.Text.Lines.Select((l, i) => l with { StartTimestampMillis = 4000 - (1000 * i), EndTimestampMillis = 4500 - (1000 * i) }).ToList() },
        };
        Assert.True(await Catalog.CompleteTextJobAsync(text, timed, default));
        Assert.False(await Catalog.CompleteTextJobAsync(text, timed, default)); // exactly once

        var lines = (await Catalog.GetTextAsync([id, "0123456789abcdef0123456789abcdef"], default))[id];
        Assert.Equal(["Emergency exit", "Café Müller", "EXIT ONLY", "NO EXIT HERE"], lines.Select(l => l.Text));
        Assert.Equal((1000L, 1500L), (lines[0].StartTimestampMillis, lines[0].EndTimestampMillis));
        Assert.Equal(["Emergency", "exit"], lines[0].Words.Select(w => w.Text));

        async Task<List<string>> Matching(string search) => (await Catalog.GetTextAsync([id], default, search)).GetValueOrDefault(id)?.Select(l => l.Text).ToList() ?? [];
        Assert.Equal(["Emergency exit", "EXIT ONLY", "NO EXIT HERE"], await Matching("exit"));
        Assert.Equal(["NO EXIT HERE"], await Matching("\"no exit\""));
        Assert.Equal(["NO EXIT HERE"], await Matching("here exit"));
        Assert.Empty(await Matching("\"exit no\""));
        Assert.Equal(["Café Müller"], await Matching("MULLER cafe"));
        Assert.Empty(await Matching("exi"));
        Assert.Equal(["signs.png"], (await Catalog.SearchAsync(new ImageQuery { Text = "\"exit only\"", Sort = ImageSort.Confidence }, default)).Images.Select(i => i.Image.Key));
        Assert.Empty((await Catalog.SearchAsync(new ImageQuery { Text = "only here" }, default)).Images);
    }

    [Fact]
    public async Task Contract_a_video_job_checkpoints_resumes_completes_once_into_segments_and_is_cancelled_without_mixing_jobs()
    {
        static Label L(string name, double confidence) => new(name, confidence, [], [new NamedItem("Thing")], [], [new NamedItem("Stuff")]);
        var lease = TimeSpan.FromMinutes(1);
        var photo = (await Catalog.RecordUploadAsync(Stored("videos", "still.jpg", "still"), null, default)).Image.Id;
        Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        var id = (await Catalog.RecordUploadAsync(Stored("videos", "clip.mp4", "v1"), "video/mp4", default, MediaTypes.Video)).Image.Id;
        Assert.Empty(await Catalog.ClaimJobsAsync("w", 5, Queue, default)); // videos go to the video worker
        var first = Assert.Single(await Catalog.ClaimJobsAsync("v", 5, Queue, default, JobKind.Video));
        Assert.Equal(((long?)null, 0), await Catalog.GetVideoCheckpointAsync(first, default));
        var metadata = new VideoMetadata("h264", 7000, "mov,mp4,m4a,3gp,3g2,mj2", 25, 480, 640, "tv");
        Assert.True(await Catalog.SaveVideoMetadataAsync(first, metadata, "{}", "mp4", default));
        Assert.True(await Catalog.SaveVideoCheckpointAsync(first, [new FrameLabels(0, [L("Cat", 99)])], 0, 1, lease, default));
        var queue = Assert.Single(await Catalog.GetVideoQueueAsync(default));
        Assert.Equal((id, JobState.Running, (long?)0, (long?)7000, 1), (queue.ImageId, queue.State, queue.ProcessedMillis, queue.DurationMillis, queue.FramesDone));

        // A relabel supersedes the running job: from then on nothing it sends counts.
        Assert.True(await Catalog.EnqueueRelabelAsync(id, default));
        Assert.False(await Catalog.SaveVideoCheckpointAsync(first, [new FrameLabels(500, [L("Cat", 99)])], 500, 2, lease, default));
        Assert.False(await Catalog.SaveVideoMetadataAsync(first, metadata, "{}", "mp4", default));
        var job = Assert.Single(await Catalog.ClaimJobsAsync("v", 5, Queue, default, JobKind.Video));
        Assert.Equal(((long?)null, 0), await Catalog.GetVideoCheckpointAsync(job, default)); // the resume point is the job's

        Assert.True(await Catalog.SaveVideoMetadataAsync(job, metadata, "{\"streams\":[]}", "mp4", default));
        Assert.True(await Catalog.SaveVideoCheckpointAsync(job, [new FrameLabels(0, [L("Dog", 80)]), new FrameLabels(500, [L("Dog", 70)])], 500, 2, lease, default));
        Assert.Equal(((long?)500, 2), await Catalog.GetVideoCheckpointAsync(job, default));
        // After a resume the last frames may come again: they replace themselves. A frame with nothing found still counts as sampled.
        Assert.True(await Catalog.SaveVideoCheckpointAsync(
            job,
            [new FrameLabels(500, [L("Dog", 90)]), new FrameLabels(1000, []), new FrameLabels(1500, [L("Dog", 70)]), new FrameLabels(2000, [L("Dog", 60), L("Car", 55)])],
            2000,
            5,
            lease,
            default));
        Assert.True(await Catalog.SaveVideoCheckpointAsync(job, [], 1000, 5, lease, default));
        Assert.Equal(((long?)2000, 5), await Catalog.GetVideoCheckpointAsync(job, default)); // never goes back
        var running = (await Catalog.GetVideoAsync(id, default))!;
        Assert.Equal(JobState.Running, running.Job!.State);
        Assert.Equal(2000, running.Job.ProcessedMillis);
        Assert.Equal(28.6, running.Percent);
        Assert.Equal(metadata, running.Metadata);
        Assert.Equal("mp4", running.Container);
        var image = (await Catalog.GetImageAsync(id, default))!;
        Assert.Equal((640, 480), (image.Width ?? 0, image.Height ?? 0));

        var completion = new VideoCompletion("mp4", 500, 1000, "yolox-nano+1", 55, 1234);
        Assert.False(await Catalog.CompleteVideoJobAsync(first, completion, default));
        Assert.True(await Catalog.CompleteVideoJobAsync(job, completion, default));
        Assert.False(await Catalog.CompleteVideoJobAsync(job, completion, default)); // exactly once
        Assert.Empty(await Catalog.GetVideoQueueAsync(default));

        var video = (await Catalog.GetVideoAsync(id, default))!;
        Assert.Equal((ImageStatus.Labeled, "yolox-nano+1", JobState.Done), (video.Status, video.ModelVersion, video.Job!.State));
        Assert.Equal(job.Id, video.ResultJobId);
        Assert.Equal(500, video.IntervalMillis);
        Assert.Equal(5, video.Frames);
        Assert.Equal(100, video.Percent);
        Assert.Equal(id, Assert.Single(await Catalog.GetVideosAsync([id, photo, "0123456789abcdef0123456789abcdef"], default)).Key);
        Assert.Null(await Catalog.GetVideoAsync(photo, default));

        // The frames of the current result only: the superseded job's Cat never shows.
        var frames = await Catalog.GetVideoFrameLabelsAsync(id, job.Id, byName: false, 0, 100, default);
        Assert.Equal([(0L, "Dog", 80.0), (500L, "Dog", 90.0), (1500L, "Dog", 70.0), (2000L, "Dog", 60.0), (2000L, "Car", 55.0)], frames.Select(f => (f.TimestampMillis, f.Label.Name, f.Label.Confidence)));
        Assert.Equal(["Thing"], frames[0].Label.Parents.Select(p => p.Name));
        Assert.Equal([(2000L, "Car"), (0L, "Dog")], (await Catalog.GetVideoFrameLabelsAsync(id, job.Id, byName: true, 0, 2, default)).Select(f => (f.TimestampMillis, f.Label.Name)));
        Assert.Equal(1500L, Assert.Single(await Catalog.GetVideoFrameLabelsAsync(id, job.Id, byName: false, 2, 1, default)).TimestampMillis);
        Assert.Empty(await Catalog.GetVideoFrameLabelsAsync(id, first.Id, byName: false, 0, 100, default));

        // Segments: a missed frame within the gap does not split one; a segment ends one interval after its last detection.
        var segments = await Catalog.GetVideoSegmentsAsync(id, null, byName: false, 0, 100, default);
        Assert.Equal([("Dog", 0L, 2500L, 90.0), ("Car", 2000L, 2500L, 55.0)], segments.Select(s => (s.Name, s.StartTimestampMillis, s.EndTimestampMillis, s.Confidence)));
        Assert.Equal(["Stuff"], segments[0].Categories.Select(c => c.Name));
        Assert.Equal(["Car", "Dog"], (await Catalog.GetVideoSegmentsAsync(id, null, byName: true, 0, 100, default)).Select(s => s.Name));
        Assert.Equal(["Dog"], (await Catalog.GetVideoSegmentsAsync(id, ["dog"], byName: false, 0, 100, default)).Select(s => s.Name));
        Assert.Equal(["Dog"], (await Catalog.GetVideoSegmentsAsync(id, null, byName: false, 0, 100, default, minConfidence: 60)).Select(s => s.Name));
        Assert.Equal(["Car"], (await Catalog.GetVideoSegmentsAsync(id, null, byName: false, 1, 1, default)).Select(s => s.Name));

        // The video is searched by its labels like a photo, and its row in the results table carries the segments.
        var found = Assert.Single((await Catalog.SearchAsync(new ImageQuery { Labels = ["car"] }, default)).Images);
        Assert.Equal(id, found.Image.Id);
        Assert.Equal([("Dog", 90.0), ("Car", 55.0)], found.Labels.Select(l => (l.Name, l.Confidence)));
        var row = Assert.Single(await Catalog.GetResultRowsAsync([id], default));
        Assert.Equal((MediaTypes.Video, 2), (row.MediaType, row.Segments.Count));
        Assert.Contains(CatalogEventType.LabelsReady, (await SettledChangesAsync()).Where(c => c.ImageId == id).Select(c => c.Type));

        // Cancel: nothing to cancel now; then a relabel's running job is cancelled, its frames dropped, the last result kept.
        Assert.False(await Catalog.CancelVideoAsync(id, default));
        Assert.Null(await Catalog.CancelVideoAsync(photo, default));
        Assert.Null(await Catalog.CancelVideoAsync("0123456789abcdef0123456789abcdef", default));
        Assert.True(await Catalog.EnqueueRelabelAsync(id, default));
        var third = Assert.Single(await Catalog.ClaimJobsAsync("v", 5, Queue, default, JobKind.Video));
        Assert.True(await Catalog.SaveVideoCheckpointAsync(third, [new FrameLabels(0, [L("Horse", 90)])], 0, 1, lease, default));
        Assert.True(await Catalog.CancelVideoAsync(id, default));
        Assert.False(await Catalog.SaveVideoCheckpointAsync(third, [new FrameLabels(500, [L("Horse", 90)])], 500, 2, lease, default));
        Assert.False(await Catalog.CompleteVideoJobAsync(third, completion, default));
        Assert.Empty(await Catalog.GetVideoFrameLabelsAsync(id, third.Id, byName: false, 0, 100, default));
        Assert.Equal(5, (await Catalog.GetVideoFrameLabelsAsync(id, job.Id, byName: false, 0, 100, default)).Count);
        var cancelled = (await Catalog.GetVideoAsync(id, default))!;
        Assert.Equal((ImageStatus.Failed, JobState.Failed, "cancelled"), (cancelled.Status, cancelled.Job!.State, cancelled.Job.Error));
        Assert.Equal(job.Id, cancelled.ResultJobId);
        Assert.Equal("cancelled", (await Catalog.GetImageAsync(id, default))!.Error);
        Assert.Empty(await Catalog.ClaimJobsAsync("v", 5, Queue, default, JobKind.Video));
    }

    /// <summary>Uploads a photo, stores its labels with the text analysis to follow, and claims the text job that follows.</summary>
    private async Task<(string Id, ClaimedJob TextJob)> ReadyForTextAsync(string key)
    {
        var id = await LabelAsync("photos", key, Result(Objects(Yolox)) with { TextFollows = true });
        return (id, Assert.Single(await Catalog.ClaimJobsAsync("t", 5, Queue, default, JobKind.Text)));
    }

    /// <summary>Uploads an object and stores <paramref name="result"/> as its labeling job's.</summary>
    private async Task<string> LabelAsync(string bucket, string key, LabelsResult result)
    {
        var id = (await Catalog.RecordUploadAsync(Stored(bucket, key, $"{bucket}/{key}"), "image/jpeg", default)).Image.Id;
        var job = Assert.Single(await Catalog.ClaimJobsAsync("w", 5, Queue, default));
        Assert.True(await Catalog.CompleteJobAsync(job, result, 55, default));
        return id;
    }

    [Fact]
    public async Task Contract_a_video_keeps_its_shots_cues_face_tracks_and_spans_and_face_search_finds_it_by_time_range()
    {
        var ultraFace = new ModelIdentity("ultraface-320", "34cd7e60aeff" + new string('0', 52));
        await Catalog.RecordUploadAsync(Stored("cuts", "close-up-then-crowd.mp4", "v1"), "video/mp4", default, MediaTypes.Video);
        await Catalog.RecordUploadAsync(Stored("cuts", "old.mp4", "v1"), "video/mp4", default, MediaTypes.Video);
        var jobs = await Catalog.ClaimJobsAsync("w", 10, Queue, default, JobKind.Video);
        Assert.Equal(2, jobs.Count);
        var metadata = new LabelLens.Video.VideoMetadata("h264", 4000, "mov,mp4", 25, 480, 640, "tv");
        // Faces as the face analysis gives them on frames: a close-up for 2 s, then a crowd of small faces.
        // The crowd stands lower in the frame than the close-up's face, so no crowd face's box overlaps it.
        List<Label> FaceLabels(double top, params double[] heights)
        {
            var faces = new DetectedFaces(ultraFace, heights.Select((h, i) => new FaceDetail(new BoundingBox(0.08, h, 0.1 + (0.2 * i), top), 99, new FaceQuality(50, 50))).ToList());
            return faces.ToLabels(_builder, 640, 480, 55).Select(f => f.Label).ToList();
        }

        var frames = new List<LabelLens.Video.FrameLabels>
        {
            new(0, FaceLabels(0.2, 0.4)), new(1000, FaceLabels(0.2, 0.4)), new(2000, FaceLabels(0.8, 0.05, 0.05, 0.05)), new(3000, FaceLabels(0.8, 0.05, 0.05, 0.05)),
        };
        var cuts = LabelLens.Video.ShotBuilder.Build([new(2000, 0.8)], [new(3500, 4000)], 4000, 25);
        foreach (var job in jobs)
        {
            Assert.True(await Catalog.SaveVideoMetadataAsync(job, metadata, "{}", "mp4", default));
            var old = job.Key == "old.mp4";
            Assert.True(await Catalog.SaveVideoCheckpointAsync(job, old ? frames.Select(f => f with { Labels = [] }).ToList() : frames, 3000, 4, TimeSpan.FromMinutes(1), default));
            // old.mp4 stands for a video labeled before shots and faces: nothing of them is stored.
            var completion = new VideoCompletion("mp4", 1000, 2000, "yolox-nano+ultraface-320", 55, 10) { Cuts = old ? LabelLens.Video.VideoCuts.None : cuts, FacesAnalysed = !old };
            Assert.True(await Catalog.CompleteVideoJobAsync(job, completion, default));
        }

        var id = ImageIds.For("cuts", "close-up-then-crowd.mp4");
        var oldId = ImageIds.For("cuts", "old.mp4");
        var stored = await Catalog.GetVideoCutsAsync([id, oldId], default);
        Assert.Equal([id], stored.Keys);
        Assert.Equal(
            [(0, 0L, 2000L, 0L, 49L), (1, 2000L, 4000L, 50L, 99L)],
            stored[id].Shots.Select(s => (s.Index, s.StartTimestampMillis, s.EndTimestampMillis, s.StartFrameNumber, s.EndFrameNumber)));
        Assert.Equal(80, stored[id].Shots[1].Confidence);
        var cue = Assert.Single(stored[id].TechnicalCues);
        Assert.Equal((LabelLens.Video.TechnicalCue.BlackFrames, 3500L, 4000L, 88L, 99L), (cue.Type, cue.StartTimestampMillis, cue.EndTimestampMillis, cue.StartFrameNumber, cue.EndFrameNumber));

        var faces = await Catalog.GetVideoFacesAsync([id, oldId], default);
        Assert.Equal([id], faces.Keys);
        Assert.Equal([(0L, 2000L, 2, "close-up")], faces[id].Tracks.Where(t => t.ShotSize == "close-up").Select(t => (t.StartTimestampMillis, t.EndTimestampMillis, t.Samples, t.ShotSize!)));
        Assert.Equal(4, faces[id].Tracks.Count);
        Assert.Equal(
            [(0L, 2000L, 1, "close-up"), (2000L, 4000L, 3, "wide")],
            faces[id].Spans.Select(s => (s.StartTimestampMillis, s.EndTimestampMillis, s.Faces, s.ShotSize!)));

        // Face search matches a video by a stretch where every condition holds at once; a video without spans never matches.
        async Task<List<string>> Find(ImageQuery query) => (await Catalog.SearchAsync(query with { Bucket = "cuts" }, default)).Images.Select(i => i.Image.Key).ToList();
        Assert.Equal(["close-up-then-crowd.mp4"], await Find(new ImageQuery { Shot = "close-up", MaxFaces = 1 }));
        Assert.Equal(["close-up-then-crowd.mp4"], await Find(new ImageQuery { MinFaces = 3, Shot = "wide" }));
        Assert.Empty(await Find(new ImageQuery { MinFaces = 2, Shot = "close-up" }));
        Assert.Empty(await Find(new ImageQuery { Faces = 0 }));
        Assert.Equal([(0L, 2000L)], VideoFaceSearch.Matching(faces[id].Spans, new ImageQuery { Shot = "Close-Up", MaxFaces = 1 }).Select(s => (s.StartTimestampMillis, s.EndTimestampMillis)));

        // A relabel that finds no cut replaces the shots, and one without the face analysis drops tracks and spans.
        Assert.True(await Catalog.EnqueueRelabelAsync(id, default));
        var relabel = Assert.Single(await Catalog.ClaimJobsAsync("w", 10, Queue, default, JobKind.Video));
        Assert.True(await Catalog.SaveVideoCheckpointAsync(relabel, frames, 3000, 4, TimeSpan.FromMinutes(1), default));
        Assert.True(await Catalog.CompleteVideoJobAsync(relabel, new VideoCompletion("mp4", 1000, 2000, "yolox-nano", 55, 10) { Cuts = LabelLens.Video.ShotBuilder.Build([], [], 4000, 25) }, default));
        Assert.Single((await Catalog.GetVideoCutsAsync([id], default))[id].Shots);
        Assert.Empty(await Catalog.GetVideoFacesAsync([id], default));
        Assert.Empty(await Find(new ImageQuery { Shot = "close-up" }));
    }

    [Fact]
    public async Task Contract_multipart_uploads_and_their_parts_are_recorded_listed_replaced_and_deleted()
    {
        var store = CreateMultipartStore();
        var at = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var video = new MultipartUpload(Id('v'), "photos", "b/video.mp4", at, "video/mp4", new Dictionary<string, string> { ["scene"] = "42" }, new Dictionary<string, string> { ["cache-control"] = "no-cache" });
        await store.CreateUploadAsync(video, default);
        await store.CreateUploadAsync(new MultipartUpload(Id('a'), "photos", "a/first.bin", at.AddSeconds(1), null, new Dictionary<string, string>(), new Dictionary<string, string>()), default);
        await store.CreateUploadAsync(new MultipartUpload(Id('c'), "photos", "B/upper.bin", at.AddSeconds(2), null, new Dictionary<string, string>(), new Dictionary<string, string>()), default);
        await store.CreateUploadAsync(new MultipartUpload(Id('d'), "other", "a/first.bin", at, null, new Dictionary<string, string>(), new Dictionary<string, string>()), default);
        await store.CreateUploadAsync(video with { ContentType = "text/plain" }, default); // the same id again (an import run twice): the first stands

        var got = Assert.IsType<MultipartUpload>(await store.GetUploadAsync(video.UploadId, default));
        Assert.Equal(("photos", "b/video.mp4", at, "video/mp4"), (got.Bucket, got.Key, got.Initiated, got.ContentType));
        Assert.Equal("42", got.Metadata["scene"]);
        Assert.Equal("no-cache", got.Headers["cache-control"]);
        Assert.Null(await store.GetUploadAsync(Id('x'), default));
        // Bytewise by key, as S3 lists: "B/" before "a/" before "b/"; only the bucket's.
        Assert.Equal(["B/upper.bin", "a/first.bin", "b/video.mp4"], (await store.ListUploadsAsync("photos", default)).Select(u => u.Key));

        var part2 = new MultipartPart(2, new string('2', 32), 7, at, $"{video.UploadId}/00002-first");
        var part1 = new MultipartPart(1, new string('1', 32), 5 * 1024 * 1024, at, $"{video.UploadId}/00001-first");
        Assert.Equal(new MultipartPartRecorded(true, null), await store.PutPartAsync(video.UploadId, part2, default));
        Assert.Equal(new MultipartPartRecorded(true, null), await store.PutPartAsync(video.UploadId, part1, default));
        Assert.Equal([part1, part2], await store.ListPartsAsync(video.UploadId, default));

        // The same number again: the new record replaces the old, whose bytes the caller deletes; the same location is no replacement.
        var again = new MultipartPart(1, new string('f', 32), 6 * 1024 * 1024, at.AddSeconds(5), $"{video.UploadId}/00001-second");
        Assert.Equal(new MultipartPartRecorded(true, part1.Location), await store.PutPartAsync(video.UploadId, again, default));
        Assert.Equal(new MultipartPartRecorded(true, null), await store.PutPartAsync(video.UploadId, again, default));
        Assert.Equal([again, part2], await store.ListPartsAsync(video.UploadId, default));
        Assert.Empty(await store.ListPartsAsync(Id('a'), default));

        // Deleting hands back every part's bytes to delete; afterwards the upload is unknown and takes no part.
        Assert.Equal([again.Location, part2.Location], (await store.DeleteUploadAsync(video.UploadId, default))!.Order(StringComparer.Ordinal));
        Assert.Null(await store.GetUploadAsync(video.UploadId, default));
        Assert.Empty(await store.ListPartsAsync(video.UploadId, default));
        Assert.Null(await store.DeleteUploadAsync(video.UploadId, default));
        Assert.False((await store.PutPartAsync(video.UploadId, part1, default)).UploadExists);
        Assert.Empty(await store.ListPartsAsync(video.UploadId, default));
        Assert.Equal(["B/upper.bin", "a/first.bin"], (await store.ListUploadsAsync("photos", default)).Select(u => u.Key));
        Assert.Equal([], await store.DeleteUploadAsync(Id('a'), default));
    }

    [Fact]
    public async Task Contract_a_completed_multipart_upload_keeps_its_answer_until_forgotten_and_is_no_longer_in_progress()
    {
        var store = CreateMultipartStore();
        var at = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var upload = new MultipartUpload(Id('a'), "photos", "done.bin", at, null, new Dictionary<string, string>(), new Dictionary<string, string>());
        await store.CreateUploadAsync(upload, default);
        await store.PutPartAsync(upload.UploadId, new MultipartPart(1, new string('1', 32), 9, at, "a/1"), default);
        await store.PutPartAsync(upload.UploadId, new MultipartPart(2, new string('2', 32), 9, at, "a/2"), default);
        Assert.Null(await store.GetCompletionAsync(upload.UploadId, default));

        var answer = new MultipartCompletion("0123456789abcdef0123456789abcdef-2", "sha256", "c2hhMjU2-2", "COMPOSITE", at.AddSeconds(1));
        Assert.Equal(["a/1", "a/2"], (await store.CompleteUploadAsync(upload.UploadId, answer, at.AddHours(-1), default))!.Order(StringComparer.Ordinal));
        var (done, completion) = Assert.IsType<(MultipartUpload, MultipartCompletion)>(await store.GetCompletionAsync(upload.UploadId, default));
        Assert.Equal(("photos", "done.bin"), (done.Bucket, done.Key));
        Assert.Equal(answer, completion);

        // No longer in progress: not found, not listed, takes no part, cannot be completed again or aborted.
        Assert.Null(await store.GetUploadAsync(upload.UploadId, default));
        Assert.Empty(await store.ListUploadsAsync("photos", default));
        Assert.Empty(await store.ListPartsAsync(upload.UploadId, default));
        Assert.False((await store.PutPartAsync(upload.UploadId, new MultipartPart(3, new string('3', 32), 9, at, "a/3"), default)).UploadExists);
        Assert.Null(await store.CompleteUploadAsync(upload.UploadId, answer, at.AddHours(-1), default));
        Assert.Null(await store.DeleteUploadAsync(upload.UploadId, default));
        Assert.NotNull(await store.GetCompletionAsync(upload.UploadId, default));

        // A later completion forgets the ones before its cut-off; one without a checksum keeps none.
        var later = upload with { UploadId = Id('b'), Key = "later.bin" };
        await store.CreateUploadAsync(later, default);
        var plain = new MultipartCompletion("fedcba9876543210fedcba9876543210-1", null, null, null, at.AddHours(2));
        Assert.Equal([], await store.CompleteUploadAsync(later.UploadId, plain, at.AddHours(1), default));
        Assert.Null(await store.GetCompletionAsync(upload.UploadId, default));
        Assert.Equal(plain, (await store.GetCompletionAsync(later.UploadId, default))!.Value.Completion);
    }

    [Fact]
    public async Task Contract_a_part_number_written_by_many_at_once_loses_no_location()
    {
        // Api nodes racing on one part number: every write but the last one recorded must hand back a location to
        // delete, each exactly once, or bytes would stay in the store forever.
        var store = CreateMultipartStore();
        var upload = new MultipartUpload(Id('r'), "photos", "race.bin", DateTimeOffset.UtcNow, null, new Dictionary<string, string>(), new Dictionary<string, string>());
        await store.CreateUploadAsync(upload, default);
        var locations = Enumerable.Range(0, 16).Select(i => $"{upload.UploadId}/00001-{i:D2}").ToList();
        var results = await Task.WhenAll(locations.Select(l => Task.Run(() => store.PutPartAsync(upload.UploadId, new MultipartPart(1, new string('a', 32), 1, DateTimeOffset.UtcNow, l), default))));
        Assert.All(results, r => Assert.True(r.UploadExists));
        var replaced = results.Select(r => r.ReplacedLocation).OfType<string>().ToList();
        var final = Assert.Single(await store.ListPartsAsync(upload.UploadId, default)).Location;
        Assert.Equal(locations.Count - 1, replaced.Count);
        Assert.Equal(locations, replaced.Append(final).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The change feed once every event written so far can be read. PostgreSQL's feed holds an event back while any
    /// older transaction on the server is still open (another test's, on another database), so a read right after
    /// a commit may come back short for a moment; it never skips one.
    /// </summary>
    private async Task<IReadOnlyList<CatalogChange>> SettledChangesAsync()
    {
        var last = await Catalog.LastChangeIdAsync(default);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var changes = await Catalog.ReadChangesAsync(0, 100, default);
            if ((changes.Count > 0 && changes[^1].Id >= last) || DateTime.UtcNow > deadline)
            {
                return changes;
            }

            await Task.Delay(20);
        }
    }

    private static string Id(char c) => new(c, 32);

    private static LabelsResult Result(params AnalysisLabels[] analyses) => new(
        LabelBuilder.Merge(analyses.Select(a => a.Labels), LabelRequest.Default),
        string.Join('+', analyses.OrderBy(a => a.Task).Select(a => a.Model.Version)),
        new ImageInfo(768, 576, "jpeg", 1000),
        new StageTimings(1, 1, 1, 1))
    {
        Analyses = analyses,
    };
}

/// <summary>The contract suite on the embedded catalog: a real SQLite file in a temporary folder.</summary>
public sealed class SqliteCatalogContractTests : CatalogContractTests
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("labellens-contract-");

    protected override Task<ICatalog> CreateCatalogAsync() =>
        Task.FromResult<ICatalog>(new SqliteCatalog(_folder.FullName, TimeProvider.System, NullLogger<SqliteCatalog>.Instance));

    protected override IMultipartStore CreateMultipartStore() => new SqliteMultipartStore(_folder.FullName);

    public override Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The contract suite on PostgreSQL: a new database per test on the real server <see cref="PostgresServer"/> starts.</summary>
public sealed class PostgresCatalogContractTests : CatalogContractTests
{
    private PostgresCatalog? _catalog;

    protected override Task<ICatalog> CreateCatalogAsync()
    {
        _catalog = new PostgresCatalog(PostgresServer.Instance.CreateDatabase("contract"), TimeProvider.System, NullLogger<PostgresCatalog>.Instance);
        return Task.FromResult<ICatalog>(_catalog);
    }

    protected override IMultipartStore CreateMultipartStore() => new PostgresMultipartStore(_catalog!);

    public override async Task DisposeAsync()
    {
        if (_catalog is not null)
        {
            await _catalog.DisposeAsync();
        }
    }
}
