using LabelLens.Labels;
using LabelLens.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabelLens.Tests;

/// <summary>Label facets: images per label, kept exact through relabels, deletes and manual edits; prefix for autocomplete.</summary>
public sealed class CatalogFacetTests : IDisposable
{
    private static readonly QueueOptions Queue = new() { MaxAttempts = 100 };
    private readonly SearchTestCatalog _test = new();

    private SqliteCatalog Catalog => _test.Catalog;

    public void Dispose() => _test.Dispose();

    [Fact]
    public async Task Each_label_counts_the_images_having_it_most_common_first()
    {
        await _test.AddLabeledAsync("p", "dog.jpg", new Box("Dog", 90), new Box("Dog", 80));
        await _test.AddLabeledAsync("p", "dog-person.jpg", new Box("Dog", 80), new Box("Person", 70));
        await _test.AddLabeledAsync("p", "cat.jpg", new Box("Cat", 60));
        await _test.AddLabeledAsync("q", "horse.jpg", new Box("Horse", 60), new Box("Person", 99));
        await _test.AddFailedAsync("p", "failed.jpg");
        await _test.AddQueuedAsync("p", "queued.jpg");

        var facets = await Catalog.LabelFacetsAsync(null, 100, default);

        Assert.Equal(
            [("Animal", 4L), ("Mammal", 4L), ("Pet", 3L), ("Canine", 2L), ("Dog", 2L), ("Person", 2L), ("Cat", 1L), ("Horse", 1L)],
            facets.Select(f => (f.Name, f.Images)));
        Assert.Equal(Expected(), facets.Select(f => (f.Name, f.Images)));
        Assert.Equal([("Animal", 4L), ("Mammal", 4L), ("Pet", 3L)], (await Catalog.LabelFacetsAsync(null, 3, default)).Select(f => (f.Name, f.Images)));
    }

    [Fact]
    public async Task A_prefix_filters_names_case_insensitively_and_literally()
    {
        await _test.AddLabeledAsync("p", "a.jpg", new Box("Cat", 90), new Box("Car", 80), new Box("Person", 70));
        await _test.AddLabeledAsync("p", "b.jpg", new Box("Car", 90), new Box("Carrot", 60));
        await _test.AddLabeledAsync("p", "c.jpg", new Box("100%_sure", 90), new Box("100x_sure", 90));

        Assert.Equal(["Car", "Carrot"], (await Catalog.LabelFacetsAsync("car", 10, default)).Select(f => f.Name));
        Assert.Equal(["Car", "Carrot", "Cat"], (await Catalog.LabelFacetsAsync("CA", 10, default)).Select(f => f.Name));
        Assert.Equal(["Car"], (await Catalog.LabelFacetsAsync("Ca", 1, default)).Select(f => f.Name));
        Assert.Equal(["100%_sure"], (await Catalog.LabelFacetsAsync("100%_", 10, default)).Select(f => f.Name));
        Assert.Empty(await Catalog.LabelFacetsAsync("zebra", 10, default));
        Assert.Equal(Expected(), (await Catalog.LabelFacetsAsync("", 1000, default)).Select(f => (f.Name, f.Images)));
    }

    [Fact]
    public async Task Counts_follow_relabels_deletes_and_manual_edits_and_labeled_only_counts_labeled_images()
    {
        var dog = await _test.AddLabeledAsync("p", "dog.jpg", new Box("Dog", 90));
        await _test.AddLabeledAsync("p", "dog-person.jpg", new Box("Dog", 80), new Box("Person", 70));
        var cat = await _test.AddLabeledAsync("p", "cat.jpg", new Box("Cat", 60));
        await _test.AddQueuedAsync("p", "queued.jpg");
        Assert.Equal(2, await CountAsync("Dog"));
        Assert.Equal(2, await CountAsync("Dog", labeledOnly: true));

        // Queued for a relabel: the old labels stay searchable, but the image is no longer "labeled".
        Assert.True(await Catalog.EnqueueRelabelAsync(dog.Id, default));
        Assert.Equal(2, await CountAsync("Dog"));
        Assert.Equal(1, await CountAsync("Dog", labeledOnly: true));
        Assert.Equal(3, await CountAsync("Animal"));
        Assert.Equal(2, await CountAsync("animal", labeledOnly: true));

        // The relabel finds a horse instead.
        var jobs = await Catalog.ClaimJobsAsync("facets", 10, Queue, default);
        foreach (var job in jobs)
        {
            if (job.ImageId == dog.Id)
            {
                Assert.True(await Catalog.CompleteJobAsync(job, SearchTestCatalog.Result(SearchTestCatalog.BuildLabels([new Box("Horse", 88)])), 55, default));
            }
            else
            {
                await Catalog.FailJobAsync(job, "InternalError: handed back", permanent: false, Queue, default);
            }
        }

        Assert.Equal(1, await CountAsync("Dog"));
        Assert.Equal(1, await CountAsync("Horse"));
        Assert.Equal(1, await CountAsync("Horse", labeledOnly: true));
        Assert.Equal(3, await CountAsync("Animal", labeledOnly: true));
        Assert.Equal(1, await CountAsync("Canine"));

        // A deleted image takes its labels with it, from both counts.
        Assert.True(await Catalog.DeleteImageAsync("p", "dog-person.jpg", default));
        Assert.Null(await CountAsync("Dog"));
        Assert.Null(await CountAsync("Person"));
        Assert.Equal(2, await CountAsync("Animal"));
        Assert.Equal(2, await CountAsync("Animal", labeledOnly: true));

        // Manual edits count like any label.
        Assert.True(await Catalog.AddManualLabelAsync(cat.Id, "Unicorn", [], [new NamedItem("Everyday Objects")], default));
        Assert.True(await Catalog.RemoveManualLabelAsync(cat.Id, "Cat", default));
        Assert.Equal(1, await CountAsync("unicorn"));
        Assert.Equal(1, await CountAsync("Unicorn", labeledOnly: true));
        Assert.Null(await CountAsync("Cat"));

        // A failed relabel leaves the labels but not the "labeled" status.
        Assert.True(await Catalog.EnqueueRelabelAsync(cat.Id, default));
        foreach (var job in await Catalog.ClaimJobsAsync("facets", 10, Queue, default))
        {
            await Catalog.FailJobAsync(job, "InvalidImageFormat: gone", permanent: job.ImageId == cat.Id, Queue, default);
        }

        Assert.Equal(1, await CountAsync("Unicorn"));
        Assert.Null(await CountAsync("Unicorn", labeledOnly: true));
    }

    [Fact]
    public async Task The_search_migration_counts_the_labels_of_a_catalog_made_before_it()
    {
        // A catalog at schema version 1 holding labels, as an older LabelLens left it.
        var folder = Directory.CreateTempSubdirectory("labellens-facets-v1-").FullName;
        try
        {
            var path = Path.Combine(folder, "catalog.db");
            await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                await connection.OpenAsync();
                await ExecuteAsync(connection, "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);");
                await ExecuteAsync(connection, CatalogSchema.Migrations[0]);
                foreach (var (key, status, labels) in new[]
                {
                    ("a.jpg", "labeled", new[] { "Dog", "Animal" }),
                    ("b.jpg", "labeled", ["Dog", "Person"]),
                    ("c.jpg", "queued", ["Cat", "Animal"]),
                    ("d.jpg", "failed", []),
                })
                {
                    var id = SqliteCatalog.ImageId("p", key);
                    await ExecuteAsync(connection, $"INSERT INTO images (id, bucket, key, etag, sha256, size, status, created_at, updated_at) VALUES ('{id}', 'p', '{key}', 'e', 's', 1, '{status}', 1, 1)");
                    foreach (var label in labels)
                    {
                        await ExecuteAsync(connection, $"INSERT INTO labels (image_id, name, confidence, parents, aliases, categories, source) VALUES ('{id}', '{label}', 90, '', '', '', 'model')");
                    }
                }
            }

            var catalog = new SqliteCatalog(folder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);

            Assert.Equal([("Animal", 2L), ("Dog", 2L), ("Cat", 1L), ("Person", 1L)], (await catalog.LabelFacetsAsync(null, 10, default)).Select(f => (f.Name, f.Images)));
            Assert.Equal([("Dog", 2L), ("Animal", 1L), ("Person", 1L)], (await catalog.LabelFacetsAsync(null, 10, labeledOnly: true, default)).Select(f => (f.Name, f.Images)));
            Assert.Equal(["a.jpg", "b.jpg"], (await catalog.SearchAsync(new ImageQuery { Labels = ["dog"], Sort = ImageSort.Confidence }, default)).Images.Select(i => i.Image.Key).Order());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Invalid_facet_requests_are_refused()
    {
        Assert.Equal("InvalidLimit", (await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.LabelFacetsAsync(null, 0, default))).Code);
        Assert.Equal("InvalidLimit", (await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.LabelFacetsAsync(null, 1001, default))).Code);
        Assert.Equal("InvalidPrefix", (await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.LabelFacetsAsync(new string('a', 201), 10, default))).Code);
    }

    /// <summary>Images per label name computed from what the test catalog stored, in facet order.</summary>
    private List<(string, long)> Expected() =>
        _test.Images.SelectMany(i => i.Labels.Select(l => l.Name).Distinct(StringComparer.OrdinalIgnoreCase))
            .GroupBy(n => n, StringComparer.OrdinalIgnoreCase)
            .Select(g => (g.Key, (long)g.Count()))
            .OrderByDescending(f => f.Item2)
            .ThenBy(f => f.Key, StringComparer.OrdinalIgnoreCase)
            .ToList();

    private async Task<long?> CountAsync(string name, bool labeledOnly = false) =>
        (await Catalog.LabelFacetsAsync(name, 1000, labeledOnly, default)).SingleOrDefault(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Images;

    private static async Task ExecuteAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
