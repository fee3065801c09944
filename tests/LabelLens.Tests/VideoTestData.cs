using System.Diagnostics;

namespace LabelLens.Tests;

/// <summary>
/// Test videos, made once per test run with Debian's ffmpeg from the sample photos. ffmpeg is required:
/// when it is missing the tests fail saying so (never a skip).
/// </summary>
public static class VideoTestData
{
    private static readonly Lazy<string> Folder = new(() => RunFolders.Create("labellens-videos-"));
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<string, byte[]> Made = [];

    public static string Ffmpeg { get; } = Require("ffmpeg");

    /// <summary>9 s, 640x480, 25 fps H.264 MP4: dog.jpg for 3 s, then eagle.jpg, then giraffe.jpg.</summary>
    public static Task<byte[]> ThreeShotsMp4() => MakeAsync("shots.mp4", ThreeShots("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"));

    /// <summary>The same three shots as Matroska (VP8 would be slower to make; H.264 in MKV is common).</summary>
    public static Task<byte[]> ThreeShotsMkv() => MakeAsync("shots.mkv", ThreeShots("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"));

    /// <summary>The three shots as WebM (VP8).</summary>
    public static Task<byte[]> ThreeShotsWebm() => MakeAsync("shots.webm", ThreeShots("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"));

    /// <summary>6 s, 640x480 H.264 MP4: extra/chelsea.png (a cat) for 3 s, then extra/coffee.png (an espresso), each letterboxed.</summary>
    public static Task<byte[]> CatThenCoffeeMp4() => MakeAsync("cat-coffee.mp4",
    [
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", Path.Combine(TestData.ImagesFolder, "extra", "chelsea.png"),
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", Path.Combine(TestData.ImagesFolder, "extra", "coffee.png"),
        "-filter_complex",
        "[0]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[a];"
            + "[1]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[b];[a][b]concat=n=2:v=1[v]",
        "-map", "[v]", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
    ]);

    /// <summary>2 s of a sine tone in an MP4 (M4A) container: no video stream.</summary>
    public static Task<byte[]> AudioOnly() => MakeAsync("tone.m4a", ["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac"]);

    /// <summary>Two hours of grey at 64x36, 1 fps: long, but made in a fraction of a second.</summary>
    public static Task<byte[]> TwoHours() => MakeAsync("two-hours.mp4", ["-f", "lavfi", "-i", "color=c=gray:s=64x36:r=1:d=7200", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]);

    /// <summary>A still photo as a video of the given length (320x240, 5 fps): long enough to kill or cancel mid-way.</summary>
    public static Task<byte[]> Still(string photo, int seconds) => MakeAsync(
        $"still-{Path.GetFileNameWithoutExtension(photo)}-{seconds}.mp4",
        ["-loop", "1", "-framerate", "5", "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", TestData.Image(photo),
         "-vf", "scale=320:240,setsar=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"]);

    /// <summary>9 s, 1280x720 H.264: dog.jpg for 3 s, then a title card (<paramref name="card"/>, a picture file), then eagle.jpg.</summary>
    public static Task<byte[]> TitleCardBetweenPhotosMp4(string card) => MakeAsync("title-card.mp4",
    [
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("dog.jpg"),
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", card,
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("eagle.jpg"),
        "-filter_complex", "[0]scale=1280:720,setsar=1[a];[1]scale=1280:720,setsar=1[b];[2]scale=1280:720,setsar=1[c];[a][b][c]concat=n=3:v=1,format=yuv420p[v]",
        "-map", "[v]", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
    ]);

    /// <summary>7 s, 640x480 H.264: extra/astronaut.png for 3 s, a black frame for 1 s, then dog.jpg for 3 s (issue 15's face video).</summary>
    public static Task<byte[]> AstronautBlackDogMp4() => MakeAsync("astronaut-black-dog.mp4",
    [
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", Path.Combine(TestData.ImagesFolder, "extra", "astronaut.png"),
        "-f", "lavfi", "-i", "color=c=black:s=640x480:r=25:d=1",
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("dog.jpg"),
        "-filter_complex",
        "[0]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[a];"
            + "[1]setsar=1,format=yuv420p[b];[2]scale=640:480,setsar=1,format=yuv420p[c];[a][b][c]concat=n=3:v=1[v]",
        "-map", "[v]", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
    ]);

    public static string PathOf(string name) => Path.Combine(Folder.Value, name);

    private static string[] ThreeShots(params string[] output) =>
    [
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("dog.jpg"),
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("eagle.jpg"),
        "-loop", "1", "-framerate", "25", "-t", "3", "-i", TestData.Image("giraffe.jpg"),
        "-filter_complex", "[0]scale=640:480,setsar=1[a];[1]scale=640:480,setsar=1[b];[2]scale=640:480,setsar=1[c];[a][b][c]concat=n=3:v=1[v]",
        "-map", "[v]", "-r", "25", .. output,
    ];

    private static async Task<byte[]> MakeAsync(string name, string[] args)
    {
        await Gate.WaitAsync();
        try
        {
            if (Made.TryGetValue(name, out var made))
            {
                return made;
            }

            var path = PathOf(name);
            var start = new ProcessStartInfo(Ffmpeg) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in new[] { "-hide_banner", "-nostdin", "-loglevel", "error", "-y" }.Concat(args).Append(path))
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"ffmpeg could not make {name}: {await stderr}");
            return Made[name] = await File.ReadAllBytesAsync(path);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static string Require(string tool)
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            if (File.Exists(Path.Combine(folder, tool)))
            {
                return Path.Combine(folder, tool);
            }
        }

        throw new InvalidOperationException($"{tool} is required by the video tests and was not found on PATH or in /usr/bin (apt-get install ffmpeg; .ci/run installs it).");
    }
}
