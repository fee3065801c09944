using System.Security.Cryptography;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LabelLens.Tests;

/// <summary>One detected object of a hand-built labeling result: its label, confidence and box size (shares of the image).</summary>
public sealed record Box(string Label, double Confidence, double Width = 0.2, double Height = 0.2);

/// <summary>An image as the test catalog stored it, for computing expected search results independently of SQL.</summary>
public sealed record CataloguedImage(string Id, string Bucket, string Key, string Status, long UpdatedAt, IReadOnlyList<Label> Labels);

/// <summary>
/// A catalog in a temporary folder, filled through its public API only: RecordUploadAsync, ClaimJobsAsync, then
/// CompleteJobAsync with labels built as LabelBuilder builds them (every ancestor of a detected label is a label
/// too, at its best descendant's confidence), or FailJobAsync. The clock is a FakeTimeProvider that moves
/// <see cref="Step"/> before each upload, so upload times (and ties) are under the test's control.
/// </summary>
public sealed class SearchTestCatalog : IDisposable
{
    private static readonly QueueOptions Queue = new() { MaxAttempts = 100, RetryBaseSeconds = 0.001, RetryMaxSeconds = 0.001 };
    private readonly bool _ownsFolder;

    public SearchTestCatalog(string? folder = null)
    {
        _ownsFolder = folder is null;
        Folder = folder ?? Directory.CreateTempSubdirectory("labellens-search-").FullName;
        Catalog = new SqliteCatalog(Folder, Time, NullLogger<SqliteCatalog>.Instance);
    }

    public string Folder { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero));

    public SqliteCatalog Catalog { get; }

    /// <summary>How far the clock moves before each upload (zero makes upload times tie).</summary>
    public TimeSpan Step { get; set; } = TimeSpan.FromSeconds(1);

    public List<CataloguedImage> Images { get; } = [];

    public CataloguedImage this[string key] => Images.Single(i => i.Key == key);

    public async Task<CataloguedImage> AddLabeledAsync(string bucket, string key, params Box[] boxes)
    {
        var id = await UploadAsync(bucket, key);
        var job = await ClaimAsync(id);
        var labels = BuildLabels(boxes);
        Assert.True(await Catalog.CompleteJobAsync(job, Result(labels), 55, default));
        return Remember(id, bucket, key, ImageStatus.Labeled, labels);
    }

    public async Task<CataloguedImage> AddFailedAsync(string bucket, string key)
    {
        var id = await UploadAsync(bucket, key);
        await Catalog.FailJobAsync(await ClaimAsync(id), "InvalidImageFormat: not an image", permanent: true, Queue, default);
        return Remember(id, bucket, key, ImageStatus.Failed, []);
    }

    public async Task<CataloguedImage> AddQueuedAsync(string bucket, string key)
    {
        var id = await UploadAsync(bucket, key);
        return Remember(id, bucket, key, ImageStatus.Queued, []);
    }

    /// <summary>Labels as LabelBuilder makes them: detected labels with their boxes, then their ancestors without boxes; highest confidence first.</summary>
    public static IReadOnlyList<Label> BuildLabels(IEnumerable<Box> boxes)
    {
        var taxonomy = LabelTaxonomy.BuiltIn;
        var labels = new List<(Label Label, bool Detected, int Depth)>();
        var ancestors = new Dictionary<string, double>(StringComparer.Ordinal);
        var detected = boxes.GroupBy(b => b.Label, StringComparer.Ordinal).ToList();
        foreach (var group in detected)
        {
            var known = Known(taxonomy, group.Key);
            var instances = group.OrderByDescending(b => b.Confidence)
                .Select(b => new LabelInstance(new BoundingBox(b.Width, b.Height, (1 - b.Width) / 2, (1 - b.Height) / 2), b.Confidence))
                .ToList();
            labels.Add((ToLabel(known, instances[0].Confidence, instances), true, known.Ancestors.Count));
            foreach (var ancestor in known.Ancestors.Where(a => detected.All(d => d.Key != a)))
            {
                ancestors[ancestor] = Math.Max(ancestors.GetValueOrDefault(ancestor), instances[0].Confidence);
            }
        }

        foreach (var (name, confidence) in ancestors)
        {
            var known = Known(taxonomy, name);
            labels.Add((ToLabel(known, confidence, []), false, known.Ancestors.Count));
        }

        return labels
            .OrderByDescending(l => l.Label.Confidence)
            .ThenByDescending(l => l.Detected)
            .ThenByDescending(l => l.Depth)
            .ThenBy(l => l.Label.Name, StringComparer.Ordinal)
            .Select(l => l.Label)
            .ToList();
    }

    public static LabelsResult Result(IReadOnlyList<Label> labels) =>
        new(labels, "test-model:000000000000", new ImageInfo(640, 480, "jpeg", 1000), new StageTimings(1, 1, 1, 1));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsFolder)
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    private async Task<string> UploadAsync(string bucket, string key)
    {
        Time.Advance(Step);
        var sha = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var outcome = await Catalog.RecordUploadAsync(new StoredObject(bucket, key, 1000, sha[..32], sha, Time.GetUtcNow()), "image/jpeg", default);
        Assert.True(outcome.Enqueued);
        return outcome.Image.Id;
    }

    /// <summary>Claims the image's job; jobs of images meant to stay queued are handed back (they stay queued).</summary>
    private async Task<ClaimedJob> ClaimAsync(string id)
    {
        var jobs = await Catalog.ClaimJobsAsync("search-tests", 1000, Queue, default);
        foreach (var other in jobs.Where(j => j.ImageId != id))
        {
            await Catalog.FailJobAsync(other, "InternalError: handed back by the test", permanent: false, Queue, default);
        }

        return Assert.Single(jobs, j => j.ImageId == id);
    }

    private CataloguedImage Remember(string id, string bucket, string key, string status, IReadOnlyList<Label> labels)
    {
        var image = new CataloguedImage(id, bucket, key, status, Time.GetUtcNow().ToUnixTimeMilliseconds(), labels);
        Images.RemoveAll(i => i.Id == id);
        Images.Add(image);
        return image;
    }

    private static TaxonomyLabel Known(LabelTaxonomy taxonomy, string name) =>
        taxonomy.TryGetLabel(name, out var label) ? label : new TaxonomyLabel(name, [], [], [LabelTaxonomy.FallbackCategory]);

    private static Label ToLabel(TaxonomyLabel label, double confidence, IReadOnlyList<LabelInstance> instances) => new(
        label.Name,
        confidence,
        instances,
        label.Ancestors.Select(a => new NamedItem(a)).ToList(),
        label.Aliases.Select(a => new NamedItem(a)).ToList(),
        label.Categories.Select(c => new NamedItem(c)).ToList());
}

/// <summary>
/// What a search should return, computed in plain C# from what the test catalog stored: the specification the
/// SQL is checked against.
/// </summary>
public static class ExpectedSearch
{
    public static List<string> Ids(IEnumerable<CataloguedImage> images, ImageQuery query)
    {
        var min = query.MinConfidence;
        var areaLabels = query.Labels.Concat(query.AnyLabels).Concat(query.Counts.Select(c => c.Label)).ToList();
        var matching = images.Where(image =>
            query.Labels.All(l => Has(image, l, min))
            && (query.AnyLabels.Count == 0 || query.AnyLabels.Any(l => Has(image, l, min)))
            && !query.NotLabels.Any(l => Has(image, l, min))
            && (query.Bucket is null || image.Bucket == query.Bucket)
            && (query.Prefix is null || image.Key.StartsWith(query.Prefix, StringComparison.Ordinal))
            && (query.Status is null || image.Status == query.Status)
            && query.Counts.All(c => Has(image, c.Label, min) && InstancesOf(image, [c.Label], min).Count() >= c.Minimum)
            && (query.MinArea is not { } area || (areaLabels.Count == 0 ? AllInstances(image, min) : InstancesOf(image, areaLabels, min)).Any(i => i.BoundingBox.Area >= area))
            && (query.Category is null || image.Labels.Any(l => l.Confidence >= min && l.Categories.Any(c => c.Name.Equals(query.Category, StringComparison.OrdinalIgnoreCase)))));
        return (query.Sort == ImageSort.Time
                ? matching.OrderByDescending(i => i.UpdatedAt).ThenByDescending(i => i.Id, StringComparer.Ordinal)
                : matching.OrderByDescending(i => Score(i, query)).ThenBy(i => i.Id, StringComparer.Ordinal))
            .Select(i => i.Id)
            .ToList();
    }

    /// <summary>The confidence sort key: best confidence among the label filter, else the best label, else -1 (no label).</summary>
    public static double Score(CataloguedImage image, ImageQuery query)
    {
        var labels = query.Labels.Count > 0 ? image.Labels.Where(l => query.Labels.Contains(l.Name, StringComparer.OrdinalIgnoreCase)) : image.Labels;
        return labels.Select(l => l.Confidence).DefaultIfEmpty(-1).Max();
    }

    private static bool Has(CataloguedImage image, string name, double min) =>
        image.Labels.Any(l => l.Name.Equals(name, StringComparison.OrdinalIgnoreCase) && l.Confidence >= min);

    private static IEnumerable<LabelInstance> InstancesOf(CataloguedImage image, IReadOnlyCollection<string> names, double min) =>
        image.Labels
            .Where(l => names.Any(n => l.Name.Equals(n, StringComparison.OrdinalIgnoreCase) || l.Parents.Any(p => p.Name.Equals(n, StringComparison.OrdinalIgnoreCase))))
            .SelectMany(l => l.Instances)
            .Where(i => i.Confidence >= min);

    private static IEnumerable<LabelInstance> AllInstances(CataloguedImage image, double min) =>
        image.Labels.SelectMany(l => l.Instances).Where(i => i.Confidence >= min);
}
