using System.Diagnostics;
using System.Net.Http.Json;
using LabelLens.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabelLens.Tests;

/// <summary>`labellens relabel` on a catalog the server filled, run as a child process.</summary>
public sealed class RelabelCliTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new();

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Relabel_all_and_failed_run_the_jobs_with_the_current_model()
    {
        var dog = (await _server.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        var bad = (await _server.UploadAsync("photos", "bad.jpg", "not a photo"u8.ToArray())).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(dog);
        await _server.WaitForImageAsync(bad);
        await _server.App.StopAsync();

        var (exit, stdout, stderr) = await RunAsync("relabel", "--all", "--data", _server.DataFolder, "--models", TestData.ModelsFolder);

        Assert.True(exit == 1, $"exit {exit}: {stdout} {stderr}"); // the non-image fails again
        Assert.Contains("Queued 2 image(s) for relabeling with yolox-nano:695e750a5d57", stdout, StringComparison.Ordinal);
        Assert.Contains("1 labeled, 1 rejected", stdout, StringComparison.Ordinal);
        var catalog = new SqliteCatalog(_server.DataFolder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
        var jobs = await catalog.GetQueueCountsAsync(default);
        Assert.Equal((2L, 2L), (jobs.Done, jobs.Failed));
        Assert.Contains("Dog", (await catalog.GetDetailsAsync(dog, default))!.Labels.Select(l => l.Name));

        (exit, stdout, _) = await RunAsync("relabel", "--model-older", "--data", _server.DataFolder, "--models", TestData.ModelsFolder);
        Assert.Equal(0, exit);
        Assert.Contains("Queued 0 image(s)", stdout, StringComparison.Ordinal);

        (exit, _, var usage) = await RunAsync("relabel", "--all", "--failed", "--data", _server.DataFolder);
        Assert.NotEqual(0, exit);
        Assert.Contains("exactly one of --failed, --all, --model-older", usage, StringComparison.Ordinal);
    }

    /// <summary>
    /// Beside a live server (it holds serve.lock), relabel queues the jobs and leaves them to it, saying so, rather
    /// than splitting them silently; and with no --models it finds the models folder the server uses.
    /// </summary>
    [Fact]
    public async Task Beside_a_live_server_relabel_leaves_the_jobs_to_it_and_uses_its_models_folder()
    {
        var dog = (await _server.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        await _server.WaitForImageAsync(dog);
        var catalog = new SqliteCatalog(_server.DataFolder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
        Assert.Equal(1L, (await catalog.GetQueueCountsAsync(default)).Done);

        // No --models and no LABELLENS_MODELS: the models come from data/serve.json, which the server wrote.
        var (exit, stdout, stderr) = await RunAsync("relabel", "--all", "--data", _server.DataFolder);

        Assert.True(exit == 0, $"exit {exit}: {stdout} {stderr}");
        Assert.Contains("Queued 1 image(s) for relabeling", stdout, StringComparison.Ordinal);
        Assert.Contains($"A LabelLens server (pid {Environment.ProcessId}) is running on {_server.DataFolder} (it holds serve.lock): it labels these 1 image(s) itself", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("labeled,", stdout, StringComparison.Ordinal); // no work done in the CLI's process
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await catalog.GetQueueCountsAsync(default)).Done < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server did not do the queued relabel");
            await Task.Delay(200);
        }

        Assert.Contains("Dog", (await catalog.GetDetailsAsync(dog, default))!.Labels.Select(l => l.Name));
    }

    [Fact]
    public async Task Adding_the_classifier_relabels_only_its_part_and_manual_edits_survive()
    {
        // A catalog labeled by YOLOX alone, as every catalog was before the classifier existed.
        var detectorOnly = new ServerFixture(new() { ["Analysis:Tasks"] = "objects" });
        await detectorOnly.InitializeAsync();
        try
        {
            var dog = (await detectorOnly.UploadAsync("photos", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
            await detectorOnly.WaitForImageAsync(dog);
            using (var remove = await detectorOnly.Client.DeleteAsync($"/api/v1/images/{dog}/labels/Bicycle"))
            {
                remove.EnsureSuccessStatusCode();
            }

            using (var add = await detectorOnly.Client.PostAsJsonAsync($"/api/v1/images/{dog}/labels", new { name = "Good Boy" }))
            {
                add.EnsureSuccessStatusCode();
            }

            await detectorOnly.App.StopAsync();
            var catalog = new SqliteCatalog(detectorOnly.DataFolder, TimeProvider.System, NullLogger<SqliteCatalog>.Instance);
            var before = await catalog.GetDetailsAsync(dog, default);
            var objects = Assert.Single(before!.Analyses!);
            Assert.Equal(("objects", "yolox-nano:695e750a5d57"), (objects.Analysis, objects.ModelVersion));
            Assert.DoesNotContain(before.Labels, l => l.Aliases.Any(a => a.Name == "Alaskan Malamute"));

            // The default configuration adds the classifier and the face analysis: only their parts are missing, so only they run.
            var (exit, stdout, stderr) = await RunAsync("relabel", "--model-older", "--data", detectorOnly.DataFolder, "--models", TestData.ModelsFolder);
            Assert.True(exit == 0, $"exit {exit}: {stdout} {stderr}");
            Assert.Contains("Queued 1 image(s) for relabeling with yolox-nano:695e750a5d57+mobilenetv2-int8:cc028fe6cae7", stdout, StringComparison.Ordinal);
            Assert.Contains("1 labeled", stdout, StringComparison.Ordinal);

            var after = (await catalog.GetDetailsAsync(dog, default))!;
            var analyses = after.Analyses!;
            Assert.Equal(["classes", "faces", "objects"], analyses.Select(a => a.Analysis));
            Assert.Equal("ultraface-320:34cd7e60aeff", analyses.Single(a => a.Analysis == "faces").ModelVersion);
            Assert.Equal(0, after.Faces!.Count); // the faces of a partial run are stored too
            var kept = analyses.Single(a => a.Analysis == "objects");
            Assert.Equal(objects.ProducedAt, kept.ProducedAt); // the detector's result was not produced again
            Assert.Equal("mobilenetv2-int8:cc028fe6cae7", analyses.Single(a => a.Analysis == "classes").ModelVersion);
            // The merged labels: YOLOX's Dog keeps its box, the classifier's breed is its alias; edits still win.
            var dogLabel = Assert.Single(after.Labels, l => l.Name == "Dog");
            Assert.Single(dogLabel.Instances);
            Assert.Contains(dogLabel.Aliases, a => a.Name == "Alaskan Malamute");
            Assert.DoesNotContain(after.Labels, l => l.Name == "Bicycle");
            Assert.Equal("manual", Assert.Single(after.Labels, l => l.Name == "Good Boy").Source);
            Assert.StartsWith("yolox-nano:695e750a5d57+mobilenetv2-int8:", after.Image.ModelVersion, StringComparison.Ordinal);

            // Now every analysis is current.
            (exit, stdout, _) = await RunAsync("relabel", "--model-older", "--data", detectorOnly.DataFolder, "--models", TestData.ModelsFolder);
            Assert.Equal(0, exit);
            Assert.Contains("Queued 0 image(s)", stdout, StringComparison.Ordinal);
        }
        finally
        {
            await detectorOnly.DisposeAsync();
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(TestData.CliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
