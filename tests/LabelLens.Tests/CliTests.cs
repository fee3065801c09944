using System.Diagnostics;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>The real `labellens` executable, run as a child process the way a user runs it.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-cli-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Label_a_folder_prints_one_json_line_per_photo_in_order()
    {
        var (exit, stdout, stderr) = await RunAsync("label", TestData.ImagesFolder, "--models", TestData.ModelsFolder);

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // SOURCE.md beside the photos is not an image extension, so a folder run skips it.
        Assert.Equal(
            ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg"],
            lines.Select(l => Path.GetFileName(l.GetProperty("path").GetString())));
        var dog = lines[0];
        var names = dog.GetProperty("Labels").EnumerateArray().Select(l => l.GetProperty("Name").GetString()).ToList();
        Assert.Contains("Dog", names);
        Assert.Contains("Bicycle", names);
        var dogLabel = dog.GetProperty("Labels").EnumerateArray().First(l => l.GetProperty("Name").GetString() == "Dog");
        Assert.True(dogLabel.GetProperty("Instances")[0].GetProperty("BoundingBox").GetProperty("Width").GetDouble() > 0.1);
        Assert.Contains("Animal", dogLabel.GetProperty("Parents").EnumerateArray().Select(p => p.GetProperty("Name").GetString()));
        Assert.Equal(768, dog.GetProperty("Image").GetProperty("Width").GetInt32());
        Assert.True(dog.GetProperty("Timings").GetProperty("InferenceMs").GetDouble() > 0);
        Assert.Equal(0, lines[6].GetProperty("Labels").GetArrayLength());
    }

    [Fact]
    public async Task Bad_files_are_named_on_stderr_the_rest_is_labeled_and_the_exit_code_says_so()
    {
        var fake = Path.Combine(_work, "notes.jpg");
        await File.WriteAllTextAsync(fake, "this is a text file with a photo's name");
        var empty = Path.Combine(_work, "empty.png");
        await File.WriteAllBytesAsync(empty, []);
        var truncated = Path.Combine(_work, "half.jpg");
        var dog = TestData.ImageBytes("dog.jpg");
        await File.WriteAllBytesAsync(truncated, dog[..(dog.Length / 2)]);

        var (exit, stdout, stderr) = await RunAsync("label", fake, TestData.Image("eagle.jpg"), empty, truncated, Path.Combine(_work, "missing.jpg"), "--models", TestData.ModelsFolder);

        Assert.Equal(1, exit);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("\"Bird\"", line, StringComparison.Ordinal);
        Assert.Contains($"{fake}: InvalidImageFormat: not an image", stderr, StringComparison.Ordinal);
        Assert.Contains($"{empty}: InvalidImageFormat: empty file", stderr, StringComparison.Ordinal);
        Assert.Contains($"{truncated}: InvalidImageFormat: corrupt or truncated jpeg", stderr, StringComparison.Ordinal);
        Assert.Contains("missing.jpg: NotFound", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_and_json_formats_and_label_options()
    {
        var (exit, csv, _) = await RunAsync("label", TestData.Image("dog.jpg"), TestData.Image("scream.jpg"), "--format", "csv", "--max-labels", "1", "--models", TestData.ModelsFolder);
        Assert.Equal(0, exit);
        var rows = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("path,label,confidence,instances,parents,categories,width,height,format", rows[0]);
        Assert.Equal(3, rows.Length);
        Assert.StartsWith($"{TestData.Image("dog.jpg")},Dog,", rows[1], StringComparison.Ordinal);
        Assert.EndsWith("Canine|Pet|Mammal|Animal,Animals and Pets,768,576,jpeg", rows[1], StringComparison.Ordinal);
        Assert.StartsWith($"{TestData.Image("scream.jpg")},,,0,", rows[2], StringComparison.Ordinal);

        // The detector alone: its Zebra box on the giraffe photo is 65, under the threshold. (The classifier, which has no
        // giraffe class, says zebra at 84: the default pipeline keeps a Zebra label here.)
        (exit, var json, _) = await RunAsync("label", TestData.Image("giraffe.jpg"), "--format", "json", "--min-confidence", "80", "--tasks", "objects", "--models", TestData.ModelsFolder);
        Assert.Equal(0, exit);
        var array = JsonDocument.Parse(json).RootElement;
        var names = array[0].GetProperty("Labels").EnumerateArray().Select(l => l.GetProperty("Name").GetString()).ToList();
        Assert.Contains("Giraffe", names);
        Assert.DoesNotContain("Zebra", names); // 65 < 80
    }

    /// <summary>
    /// On a terminal (a real pty from util-linux `script`), the progress bar ends at 100% and a closing line follows;
    /// a video among the files says how to label it; timings print to 0.01 ms, without float noise.
    /// </summary>
    [Fact]
    public async Task On_a_terminal_the_progress_bar_ends_at_100_percent_with_a_closing_line_and_a_video_says_how()
    {
        var clip = Path.Combine(_work, "clip.mp4");
        await File.WriteAllBytesAsync(clip, await VideoTestData.ThreeShotsMp4());
        string[] command = ["dotnet", TestData.CliDll, "label", TestData.Image("dog.jpg"), TestData.Image("eagle.jpg"), clip, "--format", "json", "--models", TestData.ModelsFolder];
        var line = string.Join(' ', command.Select(a => $"'{a}'"));

        var (exit, terminal, _) = await RunAsync(["-qec", line, "/dev/null"], new Dictionary<string, string>(), program: "/usr/bin/script");

        Assert.True(exit == 1, $"exit {exit}:\n{terminal}"); // the video is not labeled here
        Assert.Contains("100%", terminal, StringComparison.Ordinal);
        Assert.Contains("Done: 3 file(s), 2 labeled, 1 failed in ", terminal, StringComparison.Ordinal);
        Assert.Contains("clip.mp4 is a video (mp4)", terminal, StringComparison.Ordinal);
        Assert.Contains("curl -T clip.mp4 http://127.0.0.1:8080/api/v1/buckets/media/objects/clip.mp4", terminal, StringComparison.Ordinal);

        // Without a terminal: no bar, the same refusal on stderr, and JSON timings rounded to 0.01 ms.
        (exit, var json, var stderr) = await RunAsync("label", TestData.Image("dog.jpg"), clip, "--format", "json", "--models", TestData.ModelsFolder);
        Assert.Equal(1, exit);
        Assert.Contains("VideoNotSupportedHere: clip.mp4 is a video", stderr, StringComparison.Ordinal);
        var timings = JsonDocument.Parse(json).RootElement[0].GetProperty("Timings");
        foreach (var timing in timings.EnumerateObject())
        {
            var raw = timing.Value.GetRawText();
            Assert.True(raw.Length - raw.IndexOf('.', StringComparison.Ordinal) <= 3 || !raw.Contains('.', StringComparison.Ordinal), $"{timing.Name} = {raw}");
        }
    }

    [Fact]
    public async Task A_missing_model_says_where_to_put_it_and_how_to_pull_it()
    {
        var (exit, stdout, stderr) = await RunAsync(
            ["label", TestData.Image("dog.jpg"), "--models", _work],
            new Dictionary<string, string> { ["LABELLENS_Models__AutoDownload"] = "false" });

        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(Path.Combine(_work, "yolox-nano", "yolox_nano.onnx"), stderr, StringComparison.Ordinal);
        Assert.Contains("labellens models pull yolox-nano", stderr, StringComparison.Ordinal);
        Assert.Contains("LABELLENS_MODELS", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_folder_comes_from_LABELLENS_MODELS_and_models_path_finds_the_file()
    {
        var env = new Dictionary<string, string> { ["LABELLENS_MODELS"] = TestData.ModelsFolder };

        var (exit, stdout, _) = await RunAsync(["models", "path", "yolox-nano"], env);
        Assert.Equal(0, exit);
        Assert.Equal(TestData.ModelPath, stdout.Trim());

        (exit, stdout, _) = await RunAsync(["models", "list"], env);
        Assert.Equal(0, exit);
        foreach (var name in new[] { "yolox-nano", "yolox-tiny", "yolox-s", "yolox-m", "yolox-l", "yolox-x" })
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("releases/download/0.1.1rc0/yolox_s.onnx", stdout, StringComparison.Ordinal);

        (exit, _, _) = await RunAsync(["models", "path", "yolox-s"], env);
        Assert.Equal(1, exit);
    }

    [Fact]
    public async Task Invalid_options_are_usage_errors()
    {
        var (exit, _, stderr) = await RunAsync("label", TestData.Image("dog.jpg"), "--min-confidence", "150");
        Assert.NotEqual(0, exit);
        Assert.Contains("--min-confidence must be between 0 and 100", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunAsync("label", TestData.Image("dog.jpg"), "--tasks", "objects,celebrities");
        Assert.NotEqual(0, exit);
        Assert.Contains("'celebrities' is not an analysis; the analyses are objects, classes, text, faces", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunAsync("label", TestData.Image("dog.jpg"), "--tasks", "classes", "--model", "yolox-s");
        Assert.NotEqual(0, exit);
        Assert.Contains("--model names the objects detector, but --tasks leaves objects out", stderr, StringComparison.Ordinal);

        // A bad setting from the environment: named, exit 2, no stack trace.
        (exit, _, stderr) = await RunAsync(["label", TestData.Image("dog.jpg")], new() { ["LABELLENS_Analysis__Tasks"] = "objects,celebrities", ["LABELLENS_MODELS"] = TestData.ModelsFolder });
        Assert.Equal(2, exit);
        Assert.Contains("labellens: invalid configuration:", stderr, StringComparison.Ordinal);
        Assert.Contains("Analysis:Tasks: 'celebrities' is not an analysis", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Label_runs_the_analyses_asked_for_and_models_list_shows_each_models_kind_and_task()
    {
        var (exit, stdout, stderr) = await RunAsync("label", Path.Combine(TestData.ImagesFolder, "extra", "coffee.png"), "--tasks", "classes", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        var labels = JsonDocument.Parse(stdout).RootElement.GetProperty("Labels").EnumerateArray().ToList();
        Assert.Contains(labels, l => l.GetProperty("Name").GetString() == "Coffee");
        Assert.DoesNotContain(labels, l => l.GetProperty("Name").GetString() == "Cup"); // a YOLOX label: the detector did not run
        Assert.StartsWith("mobilenetv2-int8:cc028fe6cae7", JsonDocument.Parse(stdout).RootElement.GetProperty("LabelModelVersion").GetString(), StringComparison.Ordinal);

        (exit, stdout, stderr) = await RunAsync("models", "list", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        var classifier = stdout.Split('\n').Single(l => l.Contains("mobilenetv2-int8", StringComparison.Ordinal));
        Assert.Contains("image classifier", classifier, StringComparison.Ordinal);
        Assert.Contains("classes", classifier, StringComparison.Ordinal);
        Assert.Contains("(default)", classifier, StringComparison.Ordinal);
        Assert.Contains("object detector", stdout.Split('\n').Single(l => l.Contains("yolox-nano", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Label_with_image_properties_and_a_category_filter()
    {
        var (exit, stdout, stderr) = await RunAsync(
            "label", TestData.Image("dog.jpg"), "--features", "IMAGE_PROPERTIES", "GENERAL_LABELS", "--include-category", "Animals and Pets",
            "--exclude-label", "Pet", "--max-dominant-colors", "3", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        var dog = JsonDocument.Parse(stdout).RootElement;
        var names = dog.GetProperty("Labels").EnumerateArray().Select(l => l.GetProperty("Name").GetString()).ToList();
        Assert.Contains("Dog", names);
        Assert.Contains("Animal", names);
        Assert.DoesNotContain("Bicycle", names);
        Assert.DoesNotContain("Pet", names);
        var properties = dog.GetProperty("ImageProperties");
        Assert.InRange(properties.GetProperty("DominantColors").GetArrayLength(), 1, 3);
        Assert.True(properties.GetProperty("Quality").GetProperty("Sharpness").GetDouble() > 0);

        // The issue's command: IMAGE_PROPERTIES with a category filter gives the properties and the filtered labels
        // (the filter implies GENERAL_LABELS); it used to print no labels at all.
        (exit, stdout, stderr) = await RunAsync(
            "label", TestData.Image("dog.jpg"), "--features", "IMAGE_PROPERTIES", "--include-category", "Animals and Pets", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        var filtered = JsonDocument.Parse(stdout).RootElement;
        names = filtered.GetProperty("Labels").EnumerateArray().Select(l => l.GetProperty("Name").GetString()).ToList();
        Assert.Contains("Dog", names);
        Assert.DoesNotContain("Bicycle", names);
        Assert.True(filtered.TryGetProperty("ImageProperties", out _));

        // IMAGE_PROPERTIES alone, without a label filter, is still properties only, as Rekognition's Features.
        (exit, stdout, stderr) = await RunAsync("label", TestData.Image("dog.jpg"), "--features", "IMAGE_PROPERTIES", "--models", TestData.ModelsFolder);
        Assert.True(exit == 0, stderr);
        Assert.Equal(0, JsonDocument.Parse(stdout).RootElement.GetProperty("Labels").GetArrayLength());

        (exit, _, stderr) = await RunAsync("label", TestData.Image("dog.jpg"), "--features", "FACES", "--models", TestData.ModelsFolder);
        Assert.NotEqual(0, exit);
        Assert.Contains("FACES", stderr, StringComparison.Ordinal);
    }

    internal static Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(args, new Dictionary<string, string>());

    internal static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args, Dictionary<string, string> environment, string? program = null)
    {
        Assert.True(File.Exists(TestData.CliDll), $"{TestData.CliDll} is not built");
        var start = new ProcessStartInfo(program ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (program is null)
        {
            start.ArgumentList.Add(TestData.CliDll);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("LABELLENS_MODELS");
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
