using System.Diagnostics;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>
/// One catalog for all CLI tests: a few labeled images, a failed one, and over a thousand queued ones, so
/// that export has to read more than one page.
/// </summary>
public sealed class CliCatalogFixture : IAsyncLifetime
{
    public const int Queued = 1_003;

    public SearchTestCatalog Test { get; } = new();

    public string Folder => Test.Folder;

    public async Task InitializeAsync()
    {
        await Test.AddLabeledAsync("photos", "dog.jpg", new Box("Dog", 91));
        await Test.AddLabeledAsync("photos", "dog-person.jpg", new Box("Dog", 85), new Box("Person", 60), new Box("Person", 65));
        await Test.AddLabeledAsync("photos", "cat.jpg", new Box("Cat", 80));
        await Test.AddLabeledAsync("archive", "2024/horses, \"wild\".jpg", new Box("Horse", 75), new Box("Horse", 70));
        await Test.AddLabeledAsync("photos", "empty.jpg");
        await Test.AddFailedAsync("photos", "notes.jpg");
        for (var n = 0; n < Queued; n++)
        {
            await Test.AddQueuedAsync("inbox", $"scan{n:0000}.jpg");
        }
    }

    public Task DisposeAsync()
    {
        Test.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>`labellens search`, `status` and `export` run as a child process against a catalog, as a user runs them.</summary>
public sealed class CatalogCliTests(CliCatalogFixture catalog) : IClassFixture<CliCatalogFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-catalog-cli-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Search_prints_matching_images_as_json_lines_with_their_labels()
    {
        var (exit, stdout, stderr) = await RunAsync("search", "dog", "--data", catalog.Folder, "--format", "jsonl");

        Assert.True(exit == 0, stderr);
        var lines = JsonLines(stdout);
        Assert.Equal(["dog-person.jpg", "dog.jpg"], lines.Select(Key));
        var labels = lines[1].GetProperty("labels").EnumerateArray().ToList();
        Assert.Equal("Dog", labels[0].GetProperty("name").GetString());
        Assert.Equal(91, labels[0].GetProperty("confidence").GetDouble());
        Assert.Equal("labeled", lines[1].GetProperty("image").GetProperty("status").GetString());
        Assert.Equal("photos", lines[1].GetProperty("image").GetProperty("bucket").GetString());
    }

    [Fact]
    public async Task Search_options_filter_and_sort()
    {
        Assert.Equal(["dog.jpg"], await SearchKeysAsync("Dog", "--min-confidence", "90"));
        Assert.Equal(["dog-person.jpg"], await SearchKeysAsync("Dog", "person"));
        Assert.Equal(["2024/horses, \"wild\".jpg", "cat.jpg"], await SearchKeysAsync("--any", "Cat", "Horse"));
        Assert.Equal(["2024/horses, \"wild\".jpg", "cat.jpg", "dog.jpg"], await SearchKeysAsync("Animal", "--not", "Person", "--not", "Unicorn"));
        Assert.Equal(["cat.jpg", "dog-person.jpg", "dog.jpg"], await SearchKeysAsync("Animal", "--bucket", "photos"));
        Assert.Equal(["2024/horses, \"wild\".jpg"], await SearchKeysAsync("--prefix", "2024/"));
        Assert.Equal(["dog.jpg", "dog-person.jpg", "cat.jpg", "2024/horses, \"wild\".jpg"], await SearchKeysAsync("Mammal", "--sort", "confidence"));
        Assert.Equal(["2024/horses, \"wild\".jpg"], await SearchKeysAsync("--count", "Horse:2"));
        Assert.Equal(["notes.jpg"], await SearchKeysAsync("--status", "failed"));
        Assert.Equal(["cat.jpg", "dog-person.jpg", "dog.jpg"], await SearchKeysAsync("--category", "Animals and Pets", "--bucket", "photos"));
    }

    [Fact]
    public async Task Search_stops_at_the_limit_and_says_there_is_more()
    {
        var (exit, stdout, stderr) = await RunAsync("search", "--data", catalog.Folder, "--format", "jsonl", "--limit", "3");

        Assert.Equal(0, exit);
        Assert.Equal(3, JsonLines(stdout).Count);
        Assert.Contains("--limit", stderr, StringComparison.Ordinal);

        // More than one catalog page (1000) when asked for.
        (exit, stdout, _) = await RunAsync("search", "--data", catalog.Folder, "--format", "jsonl", "--limit", "1005", "--bucket", "inbox");
        Assert.Equal(0, exit);
        var keys = JsonLines(stdout).Select(Key).ToList();
        Assert.Equal(CliCatalogFixture.Queued, keys.Count);
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Fact]
    public async Task Search_prints_a_table_with_bucket_key_status_and_top_labels()
    {
        var (exit, stdout, stderr) = await RunAsync("search", "dog", "--data", catalog.Folder, "--format", "table");

        Assert.True(exit == 0, stderr);
        Assert.Contains("photos/dog.jpg", stdout, StringComparison.Ordinal);
        Assert.Contains("photos/dog-person.jpg", stdout, StringComparison.Ordinal);
        Assert.Contains("labeled", stdout, StringComparison.Ordinal);
        Assert.Contains("Dog 91.0", stdout, StringComparison.Ordinal);
        Assert.Contains("2 images", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("cat.jpg", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_data_folder_comes_from_LABELLENS_DATA_and_output_piped_is_json_lines()
    {
        var (exit, stdout, stderr) = await RunAsync(["search", "cat"], new Dictionary<string, string> { ["LABELLENS_DATA"] = catalog.Folder });

        Assert.True(exit == 0, stderr);
        Assert.Equal(["cat.jpg"], JsonLines(stdout).Select(Key));
    }

    [Fact]
    public async Task Without_a_catalog_the_commands_say_where_they_looked_and_create_nothing()
    {
        foreach (var command in new[] { "search", "status", "export" })
        {
            var (exit, stdout, stderr) = await RunAsync(command, "--data", Path.Combine(_work, "nothing-here"));

            Assert.Equal(2, exit);
            Assert.Empty(stdout);
            Assert.Contains(Path.Combine(_work, "nothing-here", "catalog.db"), stderr, StringComparison.Ordinal);
        }

        // The default is ./data in the working directory.
        var (code, _, error) = await RunAsync("status");
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(_work, "data", "catalog.db"), error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_work));
    }

    [Fact]
    public async Task Bad_search_options_are_reported()
    {
        var (exit, _, stderr) = await RunAsync("search", "--data", catalog.Folder, "--count", "Person");
        Assert.Equal(2, exit);
        Assert.Contains("LABEL:N", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunAsync("search", "dog", "--data", catalog.Folder, "--min-confidence", "150");
        Assert.NotEqual(0, exit);
        Assert.Contains("--min-confidence must be between 0 and 100", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunAsync("search", "--data", catalog.Folder, "--status", "done");
        Assert.Equal(2, exit);
        Assert.Contains("status is one of", stderr, StringComparison.Ordinal);

        // The face filters reach the query: a shot size that is none is refused; this catalog had no face analysis.
        (exit, _, stderr) = await RunAsync("search", "--data", catalog.Folder, "--shot", "extreme");
        Assert.Equal(2, exit);
        Assert.Contains("close-up", stderr, StringComparison.Ordinal);
        var (found, stdout, _) = await RunAsync("search", "--data", catalog.Folder, "--min-faces", "1", "--format", "jsonl");
        Assert.Equal(0, found);
        Assert.Empty(JsonLines(stdout));
    }

    [Fact]
    public async Task Status_counts_images_and_jobs()
    {
        var (exit, stdout, stderr) = await RunAsync("status", "--data", catalog.Folder);
        Assert.True(exit == 0, stderr);
        var total = 6 + CliCatalogFixture.Queued;
        Assert.Contains($"images       {total} (5 labeled, {CliCatalogFixture.Queued} queued, 0 labeling, 1 failed)", stdout, StringComparison.Ordinal);
        Assert.Contains($"jobs         {CliCatalogFixture.Queued} queued, 0 running, 5 done, 1 failed, 0 superseded", stdout, StringComparison.Ordinal);
        Assert.Contains($"queue depth  {CliCatalogFixture.Queued}", stdout, StringComparison.Ordinal);

        (exit, stdout, _) = await RunAsync("status", "--data", catalog.Folder, "--format", "json");
        Assert.Equal(0, exit);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(total, json.GetProperty("images").GetProperty("total").GetInt64());
        Assert.Equal(5, json.GetProperty("images").GetProperty("labeled").GetInt64());
        Assert.Equal(1, json.GetProperty("images").GetProperty("failed").GetInt64());
        Assert.Equal(CliCatalogFixture.Queued, json.GetProperty("jobs").GetProperty("depth").GetInt64());
        Assert.Equal(5, json.GetProperty("jobs").GetProperty("done").GetInt64());
    }

    [Fact]
    public async Task Export_writes_every_image_once_as_json_lines_across_pages()
    {
        var (exit, stdout, stderr) = await RunAsync("export", "--data", catalog.Folder);

        Assert.True(exit == 0, stderr);
        var lines = JsonLines(stdout);
        Assert.Equal(catalog.Test.Images.Count, lines.Count);
        Assert.Equal(
            catalog.Test.Images.Select(i => i.Id).Order(StringComparer.Ordinal),
            lines.Select(l => l.GetProperty("image").GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        var horses = lines.Single(l => Key(l) == "2024/horses, \"wild\".jpg");
        Assert.Equal(["Horse", "Mammal", "Animal"], horses.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
        Assert.Equal(2, horses.GetProperty("labels")[0].GetProperty("instances").GetArrayLength());
    }

    [Fact]
    public async Task Export_writes_csv_with_one_row_per_label_and_one_for_an_image_without_labels()
    {
        var (exit, stdout, stderr) = await RunAsync("export", "--data", catalog.Folder, "--format", "csv");

        Assert.True(exit == 0, stderr);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("bucket,key,id,status,width,height,format,model_version,label,confidence,instances,parents,categories,source", rows[0]);
        Assert.Equal(1 + catalog.Test.Images.Sum(i => Math.Max(1, i.Labels.Count)), rows.Length);
        var dog = catalog.Test["dog.jpg"];
        Assert.Contains($"photos,dog.jpg,{dog.Id},labeled,640,480,jpeg,test-model:000000000000,Dog,91,1,Canine|Pet|Mammal|Animal,Animals and Pets,model", rows);
        var notes = catalog.Test["notes.jpg"];
        Assert.Contains($"photos,notes.jpg,{notes.Id},failed,,,,,,,,,,", rows);
        Assert.Contains(rows, r => r.StartsWith("archive,\"2024/horses, \"\"wild\"\".jpg\",", StringComparison.Ordinal) && r.Contains(",Horse,75,2,Mammal|Animal,", StringComparison.Ordinal));
    }

    private async Task<List<string>> SearchKeysAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await RunAsync(["search", .. args, "--data", catalog.Folder, "--format", "jsonl"], []);
        Assert.True(exit == 0, stderr);
        return JsonLines(stdout).Select(Key).ToList();
    }

    private static List<JsonElement> JsonLines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private static string Key(JsonElement line) => line.GetProperty("image").GetProperty("key").GetString()!;

    private Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(args, []);

    /// <summary>Runs the built labellens.dll in an empty working directory, without inheriting LABELLENS_DATA.</summary>
    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        Assert.True(File.Exists(TestData.CliDll), $"{TestData.CliDll} is not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work };
        start.ArgumentList.Add(TestData.CliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("LABELLENS_DATA");
        start.Environment.Remove("LABELLENS_Server__DataFolder");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
