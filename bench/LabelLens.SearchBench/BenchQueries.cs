using LabelLens.Storage;

namespace LabelLens.SearchBench;

/// <summary>One timed query: it runs and returns how many results it got.</summary>
internal sealed record BenchQuery(string Name, Func<Task<int>> Run, bool IsFacet = false);

/// <summary>The query types timed: the typical searches of the API and CLI, a second page of each sort, and facets.</summary>
internal static class BenchQueries
{
    public static async Task<List<BenchQuery>> BuildAsync(ISearchCatalog catalog)
    {
        var queries = new List<BenchQuery>();

        void Search(string name, ImageQuery query) =>
            queries.Add(new BenchQuery(name, async () => (await catalog.SearchAsync(query, CancellationToken.None)).Images.Count));

        async Task SecondPage(string name, ImageQuery query)
        {
            var first = await catalog.SearchAsync(query, CancellationToken.None);
            Search(name, query with { Cursor = first.NextCursor ?? throw new InvalidOperationException($"{name}: no second page") });
        }

        void Facets(string name, string? prefix, int limit, bool labeledOnly = false) =>
            queries.Add(new BenchQuery(name, async () => (await catalog.LabelFacetsAsync(prefix, limit, labeledOnly, CancellationToken.None)).Count, IsFacet: true));

        Search("no filter (newest first)", new ImageQuery());
        Search("label=Dog", new ImageQuery { Labels = ["Dog"] });
        Search("label=dog&minConfidence=80", new ImageQuery { Labels = ["dog"], MinConfidence = 80 });
        Search("label=Dog&label=Person", new ImageQuery { Labels = ["Dog", "Person"] });
        Search("label=Person (42% of images)", new ImageQuery { Labels = ["Person"] });
        Search("label=Animal (parent)", new ImageQuery { Labels = ["Animal"] });
        Search("label=Toaster (rare, 0.6%)", new ImageQuery { Labels = ["Toaster"] });
        Search("anyLabel=Cat&anyLabel=Dog", new ImageQuery { AnyLabels = ["Cat", "Dog"] });
        Search("notLabel=Person", new ImageQuery { NotLabels = ["Person"] });
        Search("label=Dog&notLabel=Person", new ImageQuery { Labels = ["Dog"], NotLabels = ["Person"] });
        Search("count=Person:2", new ImageQuery { Counts = [new LabelCount("Person", 2)] });
        Search("count=Person:4&minConfidence=70", new ImageQuery { Counts = [new LabelCount("Person", 4)], MinConfidence = 70 });
        Search("label=Dog&minArea=0.3", new ImageQuery { Labels = ["Dog"], MinArea = 0.3 });
        Search("category=Vehicles and Automotive", new ImageQuery { Category = "Vehicles and Automotive" });
        Search("bucket=photos&prefix=2024/05/", new ImageQuery { Bucket = "photos", Prefix = "2024/05/" });
        Search("prefix=2025/02/ (all buckets)", new ImageQuery { Prefix = "2025/02/" });
        Search("bucket=phone&prefix=2025/02/IMG_09 (matches none)", new ImageQuery { Bucket = "phone", Prefix = "2025/02/IMG_09" });
        Search("status=failed", new ImageQuery { Status = ImageStatus.Failed });
        Search("label=Dog sort=confidence", new ImageQuery { Labels = ["Dog"], Sort = ImageSort.Confidence });
        Search("label=Person sort=confidence", new ImageQuery { Labels = ["Person"], Sort = ImageSort.Confidence });
        Search("label=Dog&label=Person sort=confidence", new ImageQuery { Labels = ["Dog", "Person"], Sort = ImageSort.Confidence });
        Search("label=Animal&label=Person sort=confidence", new ImageQuery { Labels = ["Animal", "Person"], Sort = ImageSort.Confidence });
        Search("no filter sort=confidence", new ImageQuery { Sort = ImageSort.Confidence });
        Search("notLabel=Person sort=confidence", new ImageQuery { NotLabels = ["Person"], Sort = ImageSort.Confidence });
        await SecondPage("label=Dog, page 2 (cursor)", new ImageQuery { Labels = ["Dog"] });
        await SecondPage("label=Dog sort=confidence, page 2", new ImageQuery { Labels = ["Dog"], Sort = ImageSort.Confidence });
        await SecondPage("no filter sort=confidence, page 2", new ImageQuery { Sort = ImageSort.Confidence });
        await SecondPage("label=Toaster, page 2", new ImageQuery { Labels = ["Toaster"] });
        Search("label=Person, limit 1000", new ImageQuery { Labels = ["Person"], Limit = 1000 });
        Facets("facets: top 20 labels", null, 20);
        Facets("facets: all labels, labeled images only", null, 1000, labeledOnly: true);
        Facets("facets: prefix \"ca\" (autocomplete)", "ca", 10);
        return queries;
    }
}
