using LabelLens.Storage;

namespace LabelLens.Tests;

/// <summary>
/// SqliteCatalog.SearchAsync on a catalog filled through the public API: each filter, both sort orders, cursor
/// pagination, and the two ways a page is found (walking in sort order, starting from a selective filter),
/// which must give the same pages.
/// </summary>
public sealed class CatalogSearchTests : IDisposable
{
    private readonly SearchTestCatalog _test = new();

    private SqliteCatalog Catalog => _test.Catalog;

    public void Dispose() => _test.Dispose();

    /// <summary>Runs the query both ways the catalog can answer it (and its own choice); all three must agree.</summary>
    public static TheoryData<int?> Strategies => new() { null, 0, int.MaxValue };

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task A_label_matches_case_insensitively_parents_match_children_and_min_confidence_applies(int? strategy)
    {
        await AddSmallLibraryAsync();
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(["dog-person.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"] }));
        Assert.Equal(["dog-person.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["dOG"] }));
        Assert.Equal(["horse.jpg", "cat.jpg", "dog-person.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["animal"] }));
        Assert.Equal(["dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"], MinConfidence = 90 }));
        Assert.Equal(["dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"], MinConfidence = 91 }));
        Assert.Empty(await KeysAsync(new ImageQuery { Labels = ["Dog"], MinConfidence = 91.5 }));
        Assert.Empty(await KeysAsync(new ImageQuery { Labels = ["Unicorn"] }));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task All_any_and_not_label_filters(int? strategy)
    {
        await AddSmallLibraryAsync();
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(["dog-person.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog", "Person"] }));
        Assert.Equal(["horse.jpg", "cat.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { AnyLabels = ["Cat", "Horse", "Dog"], NotLabels = ["Person"] }));
        Assert.Equal(["horse.jpg", "cat.jpg"], await KeysAsync(new ImageQuery { AnyLabels = ["Cat", "Horse"] }));
        // No label at all (queued, failed, nothing detected) is "not a Person" too.
        Assert.Equal(["empty.jpg", "queued.jpg", "failed.jpg", "car.jpg", "horse.jpg", "cat.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { NotLabels = ["person"] }));
        // MinConfidence applies to notLabel: dog-person.jpg's Person (65) does not count at 70.
        Assert.Contains("dog-person.jpg", await KeysAsync(new ImageQuery { Labels = ["Dog"], NotLabels = ["Person"], MinConfidence = 70 }));
        Assert.DoesNotContain("dog-person.jpg", await KeysAsync(new ImageQuery { Labels = ["Dog"], NotLabels = ["Person"], MinConfidence = 50 }));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Counts_need_that_many_boxes_at_min_confidence_and_a_parent_counts_its_childrens_boxes(int? strategy)
    {
        await _test.AddLabeledAsync("p", "one-person.jpg", new Box("Person", 95));
        await _test.AddLabeledAsync("p", "two-people.jpg", new Box("Person", 95), new Box("Person", 60));
        await _test.AddLabeledAsync("p", "three-people.jpg", new Box("Person", 95), new Box("Person", 90), new Box("Person", 85));
        await _test.AddLabeledAsync("p", "dog-and-cat.jpg", new Box("Dog", 80), new Box("Cat", 65));
        await _test.AddLabeledAsync("p", "two-dogs.jpg", new Box("Dog", 80), new Box("Dog", 70));
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(["three-people.jpg", "two-people.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Person", 2)] }));
        Assert.Equal(["three-people.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("person", 2)], MinConfidence = 70 }));
        Assert.Equal(["three-people.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Person", 3)] }));
        Assert.Equal(["two-dogs.jpg", "dog-and-cat.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Animal", 2)] }));
        Assert.Equal(["two-dogs.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Animal", 2)], MinConfidence = 70 }));
        Assert.Equal(["two-dogs.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Canine", 2)] }));
        Assert.Equal(["two-dogs.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Animal", 2)], NotLabels = ["Cat"] }));

        // A label removed by hand takes its boxes' count with it (and count needs the label itself).
        var twoDogs = _test["two-dogs.jpg"];
        Assert.True(await Catalog.RemoveManualLabelAsync(twoDogs.Id, "Animal", default));
        Assert.Equal(["dog-and-cat.jpg"], await KeysAsync(new ImageQuery { Counts = [new LabelCount("Animal", 2)] }));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Min_area_looks_at_the_filtered_labels_boxes_or_any_box(int? strategy)
    {
        await _test.AddLabeledAsync("p", "big-dog.jpg", new Box("Dog", 90, 0.8, 0.7), new Box("Person", 90, 0.1, 0.1));
        await _test.AddLabeledAsync("p", "small-dog-big-person.jpg", new Box("Dog", 90, 0.2, 0.2), new Box("Person", 90, 0.9, 0.9));
        await _test.AddLabeledAsync("p", "small-cat.jpg", new Box("Cat", 90, 0.1, 0.3));
        await _test.AddLabeledAsync("p", "big-faint-dog.jpg", new Box("Dog", 56, 0.9, 0.9), new Box("Dog", 95, 0.1, 0.1));
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(["big-faint-dog.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"], MinArea = 0.5 }));
        Assert.Equal(["big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"], MinArea = 0.5, MinConfidence = 60 }));
        Assert.Equal(["big-faint-dog.jpg", "small-dog-big-person.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { MinArea = 0.5 }));
        // Through a parent: Animal's boxes are the dog's and the cat's.
        Assert.Equal(["big-faint-dog.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Animal"], MinArea = 0.5 }));
        Assert.Equal(["big-faint-dog.jpg", "small-cat.jpg", "small-dog-big-person.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Animal"], MinArea = 0.03 }));
        Assert.Equal(["big-faint-dog.jpg", "small-dog-big-person.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Animal"], MinArea = 0.031 }));
        Assert.Equal(["big-faint-dog.jpg", "big-dog.jpg"], await KeysAsync(new ImageQuery { Labels = ["Animal"], MinArea = 0.05 }));
        Assert.Equal(["small-dog-big-person.jpg"], await KeysAsync(new ImageQuery { AnyLabels = ["Person", "Cat"], MinArea = 0.5 }));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Bucket_prefix_status_and_category(int? strategy)
    {
        await AddSmallLibraryAsync();
        await _test.AddLabeledAsync("other", "2024/05/dog.jpg", new Box("Dog", 70));
        await _test.AddLabeledAsync("other", "2024/05x/dog.jpg", new Box("Dog", 70));
        await _test.AddLabeledAsync("other", "2024/0/dog.jpg", new Box("Dog", 70));
        await _test.AddLabeledAsync("other", "100%_done/a.jpg", new Box("Dog", 70));
        await _test.AddLabeledAsync("other", "100x_done/b.jpg", new Box("Dog", 70));
        await _test.AddLabeledAsync("other", "Über/ä.jpg", new Box("Kite", 70));
        await _test.AddLabeledAsync("other", "über/ä.jpg", new Box("Kite", 70));
        await _test.AddLabeledAsync("other", "z\U0010FFFF/a.jpg", new Box("Kite", 70));
        await _test.AddLabeledAsync("other", "z\U0010FFFFa/b.jpg", new Box("Kite", 70));
        await _test.AddLabeledAsync("other", "za/c.jpg", new Box("Kite", 70));
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(8, (await KeysAsync(new ImageQuery { Bucket = "photos" })).Count);
        Assert.Equal(["2024/05x/dog.jpg", "2024/05/dog.jpg"], await KeysAsync(new ImageQuery { Prefix = "2024/05" }));
        Assert.Equal(["2024/05/dog.jpg"], await KeysAsync(new ImageQuery { Prefix = "2024/05/", Bucket = "other" }));
        Assert.Empty(await KeysAsync(new ImageQuery { Prefix = "2024/05/", Bucket = "photos" }));
        // Keys are case-sensitive and prefix characters are literal (no LIKE wildcards).
        Assert.Equal(["100%_done/a.jpg"], await KeysAsync(new ImageQuery { Prefix = "100%_" }));
        Assert.Equal(["Über/ä.jpg"], await KeysAsync(new ImageQuery { Prefix = "Ü" }));
        Assert.Equal(["z\U0010FFFFa/b.jpg", "z\U0010FFFF/a.jpg"], await KeysAsync(new ImageQuery { Prefix = "z\U0010FFFF" }));
        Assert.Equal(["z\U0010FFFF/a.jpg"], await KeysAsync(new ImageQuery { Prefix = "z\U0010FFFF/" }));

        Assert.Equal(["queued.jpg"], await KeysAsync(new ImageQuery { Status = "queued" }));
        Assert.Equal(["failed.jpg"], await KeysAsync(new ImageQuery { Status = "FAILED", Bucket = "photos" }));
        Assert.Equal(6, (await KeysAsync(new ImageQuery { Status = ImageStatus.Labeled, Bucket = "photos" })).Count);

        Assert.Equal(["horse.jpg", "cat.jpg", "dog-person.jpg", "dog.jpg"], await KeysAsync(new ImageQuery { Category = "animals and pets", Bucket = "photos" }));
        Assert.Equal(["car.jpg"], await KeysAsync(new ImageQuery { Category = "Vehicles and Automotive" }));
        Assert.Equal(["dog.jpg"], await KeysAsync(new ImageQuery { Category = "Animals and Pets", Bucket = "photos", MinConfidence = 90 }));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Sorting_by_time_is_newest_first_and_by_confidence_is_best_first_with_unlabeled_images_last(int? strategy)
    {
        await AddSmallLibraryAsync();
        Catalog.SearchDriverThreshold = strategy;

        Assert.Equal(
            ["empty.jpg", "queued.jpg", "failed.jpg", "car.jpg", "horse.jpg", "cat.jpg", "dog-person.jpg", "dog.jpg"],
            await KeysAsync(new ImageQuery { Bucket = "photos" }));

        // Best label overall; images without any label come last (by id).
        var unlabeled = new[] { _test["empty.jpg"], _test["queued.jpg"], _test["failed.jpg"] }.OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => i.Key);
        Assert.Equal(
            ["car.jpg", "dog.jpg", "dog-person.jpg", "cat.jpg", "horse.jpg", .. unlabeled],
            await KeysAsync(new ImageQuery { Bucket = "photos", Sort = ImageSort.Confidence }));

        // Best among the labels asked for.
        Assert.Equal(["dog.jpg", "dog-person.jpg"], await KeysAsync(new ImageQuery { Labels = ["Dog"], Sort = ImageSort.Confidence }));
        Assert.Equal(["dog.jpg", "dog-person.jpg", "cat.jpg", "horse.jpg"], await KeysAsync(new ImageQuery { Labels = ["Mammal"], Sort = ImageSort.Confidence }));
        Assert.Equal(["dog-person.jpg"], await KeysAsync(new ImageQuery { Labels = ["Person", "Dog"], Sort = ImageSort.Confidence }));
        // Labels of equal confidence (an ancestor has its best descendant's): each image once.
        Assert.Equal(["dog.jpg", "dog-person.jpg", "cat.jpg", "horse.jpg"], await KeysAsync(new ImageQuery { Labels = ["Mammal", "Animal"], Sort = ImageSort.Confidence }));
    }

    [Fact]
    public async Task Pages_of_every_query_and_strategy_join_up_to_the_full_result_without_duplicates_or_gaps()
    {
        var random = new Random(1234);
        string[] names = ["Person", "Dog", "Cat", "Horse", "Car", "Bicycle", "Kite", "Giraffe", "Zebra", "Bird", "Chair", "Unicorn"];
        for (var n = 0; n < 160; n++)
        {
            // Many ties: a third of the uploads share a timestamp, confidences are whole numbers.
            _test.Step = random.Next(3) == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(1);
            var bucket = n % 3 == 0 ? "b" : "a";
            var key = $"{2020 + (n % 4)}/{n % 7}/img{n:000}.jpg";
            switch (random.Next(12))
            {
                case 0:
                    await _test.AddFailedAsync(bucket, key);
                    break;
                case 1:
                    await _test.AddLabeledAsync(bucket, key);
                    break;
                default:
                    var boxes = Enumerable.Range(0, random.Next(1, 6))
                        .Select(_ => new Box(names[(int)Math.Min(names.Length - 1, random.NextDouble() * random.NextDouble() * names.Length)], random.Next(55, 100), random.Next(5, 95) / 100.0, random.Next(5, 95) / 100.0))
                        .ToArray();
                    await _test.AddLabeledAsync(bucket, key, boxes);
                    break;
            }
        }

        for (var n = 0; n < 8; n++)
        {
            await _test.AddQueuedAsync("a", $"2023/queued{n}.jpg");
        }

        ImageQuery[] queries =
        [
            new(),
            new() { Labels = ["Dog"] },
            new() { Labels = ["dog", "Person"] },
            new() { Labels = ["Animal", "Person"], MinConfidence = 70 },
            new() { Labels = ["Mammal", "Animal"] },
            new() { Labels = ["Person", "Dog", "Canine"] },
            new() { AnyLabels = ["Cat", "Horse"] },
            new() { NotLabels = ["Person"] },
            new() { Labels = ["Mammal"], NotLabels = ["Person", "Car"] },
            new() { Counts = [new LabelCount("Person", 2)] },
            new() { Counts = [new LabelCount("Animal", 2)], MinConfidence = 60 },
            new() { Labels = ["Person"], MinArea = 0.3 },
            new() { MinArea = 0.6 },
            new() { Category = "Vehicles and Automotive" },
            new() { Bucket = "b" },
            new() { Prefix = "2021/" },
            new() { Bucket = "a", Prefix = "2022/3" },
            new() { Status = "failed" },
            new() { Status = "queued" },
            new() { Labels = ["Unicorn"] },
        ];
        foreach (var query in queries)
        {
            foreach (var sort in new[] { ImageSort.Time, ImageSort.Confidence })
            {
                var sorted = query with { Sort = sort };
                var expected = ExpectedSearch.Ids(_test.Images, sorted);
                foreach (var strategy in new int?[] { null, 0, int.MaxValue })
                {
                    Catalog.SearchDriverThreshold = strategy;
                    var what = $"{Describe(sorted)} (strategy {strategy?.ToString() ?? "auto"})";
                    var whole = await Catalog.SearchAsync(sorted with { Limit = 1000 }, default);
                    Assert.True(expected.SequenceEqual(whole.Images.Select(i => i.Image.Id)), $"{what}: one page differs from the expected {expected.Count} images");
                    Assert.Null(whole.NextCursor);

                    var paged = await AllPagesAsync(sorted with { Limit = 7 });
                    Assert.True(expected.SequenceEqual(paged), $"{what}: pages of 7 give {paged.Count} images, expected {expected.Count}");
                }
            }
        }
    }

    [Fact]
    public async Task A_cursor_stays_valid_while_images_are_added_and_new_ones_never_shift_later_pages()
    {
        for (var n = 0; n < 12; n++)
        {
            await _test.AddLabeledAsync("p", $"old{n:00}.jpg", new Box("Dog", 60 + n));
        }

        var original = _test.Images.Select(i => i.Id).ToHashSet();
        foreach (var sort in new[] { ImageSort.Time, ImageSort.Confidence })
        {
            var seen = new List<string>();
            var query = new ImageQuery { Labels = ["Dog"], Sort = sort, Limit = 5 };
            var page = await Catalog.SearchAsync(query, default);
            seen.AddRange(page.Images.Select(i => i.Image.Id));
            while (page.NextCursor is { } cursor)
            {
                // Newer uploads and more confident dogs land before the cursor: they belong to a fresh search.
                await _test.AddLabeledAsync("p", $"new-{sort}-{seen.Count}.jpg", new Box("Dog", 99));
                page = await Catalog.SearchAsync(query with { Cursor = cursor }, default);
                seen.AddRange(page.Images.Select(i => i.Image.Id));
            }

            Assert.Equal(seen.Count, seen.Distinct().Count());
            Assert.Equal(original.Order(StringComparer.Ordinal), seen.Where(original.Contains).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_page_returns_each_image_with_all_its_labels_and_boxes()
    {
        await _test.AddLabeledAsync("p", "dog.jpg", new Box("Dog", 90, 0.5, 0.4), new Box("Dog", 70), new Box("Person", 80));

        var image = Assert.Single((await Catalog.SearchAsync(new ImageQuery { Labels = ["Person"] }, default)).Images);

        Assert.Equal("dog.jpg", image.Image.Key);
        Assert.Equal(ImageStatus.Labeled, image.Image.Status);
        Assert.Equal(_test["dog.jpg"].Labels.Select(l => l.Name), image.Labels.Select(l => l.Name));
        Assert.Equal("Dog", image.Labels[0].Name);
        Assert.Equal("Person", image.Labels[^1].Name);
        Assert.Equal(6, image.Labels.Count);
        var dog = image.Labels[0];
        Assert.Equal(90, dog.Confidence);
        Assert.Equal([90.0, 70.0], dog.Instances.Select(i => i.Confidence));
        Assert.Equal(0.2, dog.Instances[0].BoundingBox.Area, 6);
        Assert.Contains(dog.Parents, p => p.Name == "Animal");
        Assert.Contains(dog.Categories, c => c.Name == "Animals and Pets");
    }

    [Fact]
    public async Task Invalid_queries_are_refused_with_a_code()
    {
        await _test.AddLabeledAsync("p", "dog.jpg", new Box("Dog", 90));
        await _test.AddLabeledAsync("p", "dog2.jpg", new Box("Dog", 90));
        var timeCursor = (await Catalog.SearchAsync(new ImageQuery { Limit = 1 }, default)).NextCursor;
        Assert.NotNull(timeCursor);

        await AssertRefusedAsync("InvalidLimit", new ImageQuery { Limit = 0 });
        await AssertRefusedAsync("InvalidLimit", new ImageQuery { Limit = 1001 });
        await AssertRefusedAsync("InvalidConfidence", new ImageQuery { MinConfidence = 100.5 });
        await AssertRefusedAsync("InvalidConfidence", new ImageQuery { MinConfidence = double.NaN });
        await AssertRefusedAsync("InvalidArea", new ImageQuery { MinArea = 1.5 });
        await AssertRefusedAsync("InvalidLabel", new ImageQuery { Labels = [" "] });
        await AssertRefusedAsync("InvalidLabel", new ImageQuery { NotLabels = ["a|b"] });
        await AssertRefusedAsync("InvalidLabel", new ImageQuery { AnyLabels = [new string('x', 201)] });
        await AssertRefusedAsync("TooManyValues", new ImageQuery { Labels = Enumerable.Range(0, 21).Select(i => $"L{i}").ToList() });
        await AssertRefusedAsync("InvalidCount", new ImageQuery { Counts = [new LabelCount("Person", 0)] });
        await AssertRefusedAsync("InvalidStatus", new ImageQuery { Status = "done" });
        await AssertRefusedAsync("InvalidCursor", new ImageQuery { Cursor = "not a cursor" });
        await AssertRefusedAsync("InvalidCursor", new ImageQuery { Cursor = "dDEyMzpub3QtYW4taWQ" });
        await AssertRefusedAsync("InvalidCursor", new ImageQuery { Cursor = timeCursor, Sort = ImageSort.Confidence });
        Assert.Single((await Catalog.SearchAsync(new ImageQuery { Cursor = timeCursor }, default)).Images);
    }

    private async Task AssertRefusedAsync(string code, ImageQuery query)
    {
        var error = await Assert.ThrowsAsync<InvalidQueryException>(() => Catalog.SearchAsync(query, default));
        Assert.Equal(code, error.Code);
    }

    /// <summary>
    /// photos: dog.jpg (Dog 91), dog-person.jpg (Dog 85, Person boxes 60 and 65), cat.jpg (Cat 80), horse.jpg
    /// (Horse 75, two boxes), car.jpg (Car 99), failed.jpg, queued.jpg, empty.jpg (labeled, nothing found);
    /// uploaded in that order, one second apart.
    /// </summary>
    private async Task AddSmallLibraryAsync()
    {
        await _test.AddLabeledAsync("photos", "dog.jpg", new Box("Dog", 91));
        await _test.AddLabeledAsync("photos", "dog-person.jpg", new Box("Dog", 85), new Box("Person", 60), new Box("Person", 65));
        await _test.AddLabeledAsync("photos", "cat.jpg", new Box("Cat", 80));
        await _test.AddLabeledAsync("photos", "horse.jpg", new Box("Horse", 75), new Box("Horse", 70));
        await _test.AddLabeledAsync("photos", "car.jpg", new Box("Car", 99));
        await _test.AddFailedAsync("photos", "failed.jpg");
        await _test.AddQueuedAsync("photos", "queued.jpg");
        await _test.AddLabeledAsync("photos", "empty.jpg");
    }

    private async Task<List<string>> KeysAsync(ImageQuery query) =>
        (await Catalog.SearchAsync(query with { Limit = 1000 }, default)).Images.Select(i => i.Image.Key).ToList();

    private async Task<List<string>> AllPagesAsync(ImageQuery query)
    {
        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Catalog.SearchAsync(query with { Cursor = cursor }, default);
            Assert.True(page.Images.Count <= query.Limit);
            Assert.True(page.NextCursor is null || page.Images.Count == query.Limit, "a page short of the limit must be the last");
            ids.AddRange(page.Images.Select(i => i.Image.Id));
            cursor = page.NextCursor;
            Assert.True(ids.Count <= 1000, "pagination does not end");
        }
        while (cursor is not null);

        return ids;
    }

    private static string Describe(ImageQuery q) =>
        string.Join(' ', new[]
        {
            q.Labels.Count > 0 ? $"label={string.Join(',', q.Labels)}" : null,
            q.AnyLabels.Count > 0 ? $"any={string.Join(',', q.AnyLabels)}" : null,
            q.NotLabels.Count > 0 ? $"not={string.Join(',', q.NotLabels)}" : null,
            q.Counts.Count > 0 ? $"count={string.Join(',', q.Counts.Select(c => $"{c.Label}:{c.Minimum}"))}" : null,
            q.MinConfidence > 0 ? $"min={q.MinConfidence}" : null,
            q.MinArea is { } a ? $"area={a}" : null,
            q.Category is { } c ? $"category={c}" : null,
            q.Bucket is { } b ? $"bucket={b}" : null,
            q.Prefix is { } p ? $"prefix={p}" : null,
            q.Status is { } s ? $"status={s}" : null,
            $"sort={q.Sort}",
        }.Where(x => x is not null));
}
