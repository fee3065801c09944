using System.Diagnostics;
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
