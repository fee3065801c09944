using System.Net;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>
/// GET /api/v1/images and GET /api/v1/labels over real HTTP, on a catalog filled through the catalog's API
/// (the server runs without a model, so nothing but the test touches the jobs): parameters, response shape,
/// cursor paging, and RFC 7807 problems for bad input.
/// </summary>
public sealed class SearchEndpointTests : IAsyncLifetime
{
    private readonly string _noModels = Directory.CreateTempSubdirectory("labellens-nomodels-").FullName;
    private readonly ServerFixture _server;
    private SearchTestCatalog _test = null!;

    public SearchEndpointTests() =>
        _server = new ServerFixture(new Dictionary<string, string?> { ["Models:Folder"] = _noModels, ["Logging:LogLevel:Default"] = "None" });

    public async Task InitializeAsync()
    {
        _test = new SearchTestCatalog(_server.DataFolder);
        await _test.AddLabeledAsync("photos", "2024/dog.jpg", new Box("Dog", 91, 0.6, 0.6));
        await _test.AddLabeledAsync("photos", "2024/dog-person.jpg", new Box("Dog", 85), new Box("Person", 60), new Box("Person", 65));
        await _test.AddLabeledAsync("photos", "2025/cat.jpg", new Box("Cat", 80));
        await _test.AddLabeledAsync("archive", "2025/horses.jpg", new Box("Horse", 75), new Box("Horse", 70), new Box("Horse", 72));
        await _test.AddFailedAsync("photos", "2025/notes.jpg");
        await _test.AddQueuedAsync("photos", "2025/new.jpg");
        await _server.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        _test.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_noModels, recursive: true);
    }

    [Fact]
    public async Task Every_filter_reaches_the_catalog()
    {
        Assert.Equal(["2024/dog-person.jpg", "2024/dog.jpg"], await KeysAsync("label=dog"));
        Assert.Equal(["2024/dog-person.jpg"], await KeysAsync("label=Dog&label=Person"));
        Assert.Equal(["2025/horses.jpg", "2025/cat.jpg"], await KeysAsync("anyLabel=Cat&anyLabel=Horse"));
        Assert.Equal(["2025/horses.jpg", "2025/cat.jpg", "2024/dog.jpg"], await KeysAsync("label=Animal&notLabel=Person"));
        Assert.Equal(["2024/dog.jpg"], await KeysAsync("label=Dog&minConfidence=90"));
        Assert.Equal(["2025/horses.jpg"], await KeysAsync("count=Horse:3"));
        Assert.Equal(["2025/horses.jpg"], await KeysAsync("count=Mammal:2"));
        Assert.Equal(["2025/cat.jpg", "2024/dog-person.jpg", "2024/dog.jpg"], await KeysAsync("count=Animal:1&bucket=photos"));
        Assert.Equal(["2024/dog.jpg"], await KeysAsync("label=Animal&minArea=0.3"));
        Assert.Equal(["2025/cat.jpg", "2024/dog-person.jpg", "2024/dog.jpg"], await KeysAsync("category=animals%20and%20pets&bucket=photos"));
        Assert.Equal(["2025/new.jpg", "2025/notes.jpg", "2025/cat.jpg"], await KeysAsync("prefix=2025/&bucket=photos"));
        Assert.Equal(["2025/notes.jpg"], await KeysAsync("status=failed"));
        Assert.Equal(["2024/dog.jpg", "2024/dog-person.jpg", "2025/cat.jpg", "2025/horses.jpg"], await KeysAsync("label=Mammal&sort=confidence"));
        Assert.Empty(await KeysAsync("label=Unicorn"));
    }

    [Fact]
    public async Task A_page_has_images_with_their_labels_and_a_cursor_to_the_next()
    {
        var first = await _server.GetJsonAsync("/api/v1/images?label=Dog&limit=1");
        var image = Assert.Single(first.GetProperty("images").EnumerateArray());
        Assert.Equal("2024/dog-person.jpg", image.GetProperty("image").GetProperty("key").GetString());
        Assert.Equal("photos", image.GetProperty("image").GetProperty("bucket").GetString());
        Assert.Equal("labeled", image.GetProperty("image").GetProperty("status").GetString());
        var dog = ServerFixture.Label(image, "Dog");
        Assert.Equal(85, dog.GetProperty("confidence").GetDouble());
        Assert.Equal(0.2, dog.GetProperty("instances")[0].GetProperty("boundingBox").GetProperty("width").GetDouble());
        Assert.Contains("Animal", dog.GetProperty("parents").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        Assert.Equal(2, ServerFixture.Label(image, "Person").GetProperty("instances").GetArrayLength());

        var cursor = first.GetProperty("nextCursor").GetString();
        Assert.False(string.IsNullOrEmpty(cursor));
        var second = await _server.GetJsonAsync($"/api/v1/images?label=Dog&limit=1&cursor={Uri.EscapeDataString(cursor)}");
        Assert.Equal("2024/dog.jpg", Assert.Single(second.GetProperty("images").EnumerateArray()).GetProperty("image").GetProperty("key").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task Label_facets_count_images_and_complete_prefixes()
    {
        var facets = (await _server.GetJsonAsync("/api/v1/labels")).GetProperty("labels").EnumerateArray()
            .Select(f => (f.GetProperty("name").GetString(), f.GetProperty("images").GetInt64())).ToList();
        Assert.Equal(("Animal", 4L), facets[0]);
        Assert.Equal(("Mammal", 4L), facets[1]);
        Assert.Contains(("Dog", 2L), facets);
        Assert.Contains(("Person", 1L), facets);

        var completions = (await _server.GetJsonAsync("/api/v1/labels?prefix=CA&limit=5")).GetProperty("labels").EnumerateArray()
            .Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.Equal(["Canine", "Cat"], completions);
        Assert.Single((await _server.GetJsonAsync("/api/v1/labels?limit=1&labeledOnly=true")).GetProperty("labels").EnumerateArray());
    }

    [Theory]
    [InlineData("limit=0", "InvalidLimit")]
    [InlineData("limit=1001", "InvalidLimit")]
    [InlineData("limit=ten", "InvalidLimit")]
    [InlineData("limit=5&limit=6", "InvalidLimit")]
    [InlineData("minConfidence=high", "InvalidConfidence")]
    [InlineData("minConfidence=101", "InvalidConfidence")]
    [InlineData("minArea=2", "InvalidArea")]
    [InlineData("count=Person", "InvalidCount")]
    [InlineData("count=Person:two", "InvalidCount")]
    [InlineData("count=Person:0", "InvalidCount")]
    [InlineData("label=", "InvalidLabel")]
    [InlineData("notLabel=a%7Cb", "InvalidLabel")]
    [InlineData("sort=random", "InvalidSort")]
    [InlineData("status=done", "InvalidStatus")]
    [InlineData("cursor=bm9wZQ", "InvalidCursor")]
    [InlineData("labels=Dog", "UnknownParameter")]
    public async Task Bad_search_parameters_are_problem_details_with_a_code(string query, string code)
    {
        await AssertProblemAsync("/api/v1/images?" + query, code);
    }

    [Theory]
    [InlineData("limit=0", "InvalidLimit")]
    [InlineData("labeledOnly=maybe", "InvalidLabeledOnly")]
    [InlineData("name=dog", "UnknownParameter")]
    public async Task Bad_facet_parameters_are_problem_details_with_a_code(string query, string code)
    {
        await AssertProblemAsync("/api/v1/labels?" + query, code);
    }

    private async Task AssertProblemAsync(string path, string code)
    {
        using var response = await _server.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    private async Task<List<string>> KeysAsync(string query) =>
        (await _server.GetJsonAsync("/api/v1/images?" + query)).GetProperty("images").EnumerateArray()
            .Select(i => i.GetProperty("image").GetProperty("key").GetString()!).ToList();
}
