using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using LabelLens.Bench;
using LabelLens.Labels;
using LabelLens.Server;
using LabelLens.Vision;
using LabelLens.Vision.Video;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

var modelsOption = new Option<string>("--models") { Description = "Models folder holding yolox-nano/yolox_nano.onnx and mobilenetv2-int8/mobilenetv2-12-int8.onnx.", DefaultValueFactory = _ => BenchPaths.DefaultModels };
var imagesOption = new Option<string>("--images") { Description = "Sample photos the 'photos' clip is made from.", DefaultValueFactory = _ => BenchPaths.DefaultImages };
var secondsOption = new Option<int>("--seconds") { Description = "Length of each generated 1080p clip.", DefaultValueFactory = _ => 30 };
var root = new RootCommand("LabelLens video benchmark: seconds of 1080p H.264 video labeled per second of wall time.") { modelsOption, imagesOption, secondsOption };
root.SetAction(async (parse, cancellationToken) =>
{
    var folder = Directory.CreateTempSubdirectory("labellens-videobench-").FullName;
    try
    {
        var bench = new VideoBenchmark(parse.GetValue(modelsOption)!, parse.GetValue(imagesOption)!, parse.GetValue(secondsOption), folder);
        await bench.RunAsync(cancellationToken);
        return 0;
    }
    finally
    {
        Directory.Delete(folder, recursive: true);
    }
});
return await root.Parse(args).InvokeAsync();

/// <summary>Makes the clips, then measures each one four ways (see bench/README.md, "Video").</summary>
internal sealed class VideoBenchmark(string models, string images, int seconds, string folder)
{
    private readonly Ffmpeg _ffmpeg = new(Options.Create(new VideoOptions()), NullLogger<Ffmpeg>.Instance);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clips = new List<(string Name, string Path)>();
        var photos = Directory.GetFiles(images, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        var per = (double)seconds / photos.Length;
        var inputs = photos.SelectMany(p => new[] { "-loop", "1", "-framerate", "30", "-t", per.ToString("0.###", CultureInfo.InvariantCulture), "-i", p }).ToList();
        var scale = string.Concat(photos.Select((_, i) => $"[{i}]scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,setsar=1[v{i}];"));
        var concat = string.Concat(photos.Select((_, i) => $"[v{i}]")) + $"concat=n={photos.Length}:v=1[v]";
        string[] encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", "30"];
        clips.Add(("photos (7 shots, stills)", await MakeAsync("photos-1080p.mp4", [.. inputs, "-filter_complex", scale + concat, "-map", "[v]", .. encode], cancellationToken)));
        clips.Add(("testsrc2 (full motion)", await MakeAsync("testsrc2-1080p.mp4", ["-f", "lavfi", "-i", $"testsrc2=s=1920x1080:r=30:d={seconds}", .. encode], cancellationToken)));

        // The pipeline the server's video worker runs: every default analysis (objects and classes) on each sampled frame.
        using var labeler = Benchmark.NewLabeler(Benchmark.FindModels(models, new AnalysisOptions().ParseTasks()), new VipsImageDecoder(Options.Create(new ImageOptions())));
        var analyses = string.Join(" + ", Benchmark.Describe(labeler).Select(a => $"{a.Task} {a.Model}"));

        Console.WriteLine($"Clips: {seconds} s, 1920x1080, 30 fps, H.264 (libx264 veryfast, CRF 23). Sampling: every 500 ms + scene changes (the defaults). "
            + $"Analyses: {analyses}. {Environment.ProcessorCount} cores.");
        Console.WriteLine();
        Console.WriteLine("| clip | measurement | video s per wall s | sampled frames/s | CPU: this process / ffmpeg / others | CPU ms per video s (this process + ffmpeg) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var (name, path) in clips)
        {
            var (metadata, _) = await _ffmpeg.ProbeAsync(path, cancellationToken);
            var duration = metadata.DurationMillis!.Value / 1000.0;
            var geometry = FrameGeometry.For(metadata, labeler.Needs);

            // Warm-up (JIT, ONNX Runtime arenas, page cache), not timed.
            await PipelineAsync(path, geometry, labeler, cancellationToken);

            await MeasureAsync(name, "ffmpeg decode of every frame (`-f null`)", duration, async () =>
            {
                await RunFfmpegAsync(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:v:0", "-f", "null", "-"], cancellationToken);
                return null;
            });
            await MeasureAsync(name, $"sampling only (decode, select, scale to {geometry.ContentWidth}x{geometry.ContentHeight}, rgb24 pipe)", duration, async () =>
            {
                var sampled = 0;
                await foreach (var frame in FrameSampler.SampleAsync(_ffmpeg.FfmpegPath, path, geometry, new VideoOptions(), 0, cancellationToken))
                {
                    frame.Dispose();
                    sampled++;
                }

                return sampled;
            });
            await MeasureAsync(name, "**sampling + models + labels** (offline)", duration, async () => await PipelineAsync(path, geometry, labeler, cancellationToken));
            await using var serve = await StartServeAsync(path, cancellationToken);
            await MeasureAsync(name, "**through `serve`**: PUT to SUCCEEDED (checkpoints, segments)", duration, async () => await serve.LabelAsync(path, $"clip-{Guid.NewGuid():N}.mp4", cancellationToken));
        }
    }

    /// <summary>
    /// Up to 3 attempts, stopping at the first one where other processes took under 5% of the cores; the
    /// least disturbed attempt is reported (the machine is shared).
    /// </summary>
    private static async Task MeasureAsync(string clip, string what, double videoSeconds, Func<Task<int?>> run)
    {
        (Meter.Reading Reading, int? Frames)? best = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var meter = Meter.Start();
            var frames = await run();
            var reading = meter.Stop();
            if (best is null || reading.Others < best.Value.Reading.Others)
            {
                best = (reading, frames);
            }

            if (reading.Others < 0.05)
            {
                break;
            }

            Console.Error.WriteLine($"{clip} / {what}: others took {reading.Others:P0}, measuring again");
            await Task.Delay(TimeSpan.FromSeconds(5));
        }

        Row(clip, what, videoSeconds, best!.Value.Frames, best.Value.Reading);
    }

    private static void Row(string clip, string what, double videoSeconds, int? frames, Meter.Reading reading) =>
        Console.WriteLine(
            $"| {clip} | {what} | {videoSeconds / reading.Wall:0.0} | {(frames is { } f ? (f / reading.Wall).ToString("0.0", CultureInfo.InvariantCulture) : "-")} | "
            + $"{reading.Self:P0} / {reading.Children:P0} / {reading.Others:P0} | "
            + $"{(reading.Self + reading.Children) * reading.Wall * Environment.ProcessorCount * 1000 / videoSeconds:0} |");

    /// <summary>What the video worker does per frame, without the catalog: every analysis and the merged labels (`LabelFrame`).</summary>
    private static async Task<int> PipelineAsync(string path, FrameGeometry geometry, ImageLabeler labeler, CancellationToken cancellationToken)
    {
        var count = 0;
        var ffmpeg = new Ffmpeg(Options.Create(new VideoOptions()), NullLogger<Ffmpeg>.Instance);
        await foreach (var frame in FrameSampler.SampleAsync(ffmpeg.FfmpegPath, path, geometry, new VideoOptions(), 0, cancellationToken))
        {
            using (frame)
            {
                using var picture = geometry.Picture(frame);
                _ = labeler.LabelFrame(picture, LabelRequest.Default, cancellationToken);
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// The real server in this process (its own data folder), started and warmed up (one video labeled) before
    /// anything is timed, so the measurement is PUT to SUCCEEDED and not the server's start and JIT.
    /// </summary>
    private async Task<Serve> StartServeAsync(string warmUpClip, CancellationToken cancellationToken)
    {
        var data = Path.Combine(folder, "serve-" + Guid.NewGuid().ToString("N"));
        var app = LabelLensServer.Create(new Dictionary<string, string?>
        {
            ["Server:Port"] = "0",
            ["Server:S3Port"] = "-1",
            ["Server:DataFolder"] = data,
            ["Models:Folder"] = models,
            ["Models:AutoDownload"] = "false",
            ["Queue:PollSeconds"] = "0.05",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await app.StartAsync(cancellationToken);
        var client = new HttpClient { BaseAddress = LabelLensServer.Address(app), Timeout = TimeSpan.FromMinutes(10) };
        while (!(await client.GetAsync("/readyz", cancellationToken)).IsSuccessStatusCode)
        {
            await Task.Delay(50, cancellationToken);
        }

        var serve = new Serve(app, client);
        await serve.LabelAsync(warmUpClip, "warm-up.mp4", cancellationToken);
        return serve;
    }

    private sealed class Serve(Microsoft.AspNetCore.Builder.WebApplication app, HttpClient client) : IAsyncDisposable
    {
        /// <summary>PUT the clip under a new key, poll until its job succeeded; the sampled frame count.</summary>
        public async Task<int> LabelAsync(string path, string key, CancellationToken cancellationToken)
        {
            using var body = new StreamContent(File.OpenRead(path));
            body.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
            using var put = await client.PutAsync($"/api/v1/buckets/bench/objects/{key}", body, cancellationToken);
            put.EnsureSuccessStatusCode();
            var id = JsonDocument.Parse(await put.Content.ReadAsStringAsync(cancellationToken)).RootElement.GetProperty("imageId").GetString();
            while (true)
            {
                var result = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/videos/{id}/labels?maxResults=1", cancellationToken)).RootElement;
                var status = result.GetProperty("JobStatus").GetString();
                if (status == "SUCCEEDED")
                {
                    return result.GetProperty("Progress").GetProperty("FramesDone").GetInt32();
                }

                if (status == "FAILED")
                {
                    throw new InvalidOperationException($"the video job failed: {result.GetProperty("StatusMessage").GetString()}");
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task<string> MakeAsync(string name, string[] args, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, name);
        Console.Error.WriteLine($"making {name} ...");
        await RunFfmpegAsync(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", .. args, path], cancellationToken);
        return path;
    }

    private async Task RunFfmpegAsync(string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_ffmpeg.FfmpegPath) { RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg failed: {await errors}");
        }
    }
}

/// <summary>
/// Wall time and CPU shares of all cores: this process, its finished child processes (ffmpeg: /proc/self/stat
/// cutime + cstime, counted once they are reaped) and everything else on the machine (/proc/stat).
/// </summary>
internal sealed class Meter
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly TimeSpan _self = Environment.CpuUsage.TotalTime;
    private readonly double _children = ChildSeconds();
    private readonly (long Busy, long Total) _machine = Machine();

    public static Meter Start() => new();

    public Reading Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        var cores = wall * Environment.ProcessorCount;
        var self = (Environment.CpuUsage.TotalTime - _self).TotalSeconds / cores;
        var children = (ChildSeconds() - _children) / cores;
        var machine = Machine();
        var busy = (machine.Busy - _machine.Busy) / (double)Math.Max(1, machine.Total - _machine.Total);
        return new Reading(wall, self, children, Math.Max(0, busy - self - children));
    }

    private static double ChildSeconds()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 16 and 17 of stat (cutime, cstime), counted from the state field (3): indexes 13 and 14 here.
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static (long Busy, long Total) Machine()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var idle = cpu[3] + cpu[4];
        var total = cpu.Take(8).Sum();
        return (total - idle, total);
    }

    internal sealed record Reading(double Wall, double Self, double Children, double Others);
}
