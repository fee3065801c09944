using LabelLens.Detection;
using LabelLens.Labels;
using LabelLens.Taxonomy;
using LabelLens.Video;
using LabelLens.Vision.Video;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabelLens.Tests;

/// <summary>The video pipeline without the server: sniffing, probing, frame sampling, detection on frames, segments.</summary>
public sealed class VideoPipelineTests
{
    private static readonly Ffmpeg Tools = new(Options.Create(new VideoOptions()), NullLogger<Ffmpeg>.Instance);

    [Fact]
    public async Task Video_containers_are_recognised_by_their_bytes_and_photos_are_not()
    {
        Assert.Equal("mp4", VideoFormat.Sniff(await VideoTestData.ThreeShotsMp4()));
        Assert.Equal("mkv", VideoFormat.Sniff(await VideoTestData.ThreeShotsMkv()));
        Assert.Equal("webm", VideoFormat.Sniff(await VideoTestData.ThreeShotsWebm()));
        Assert.Equal("mp4", VideoFormat.Sniff(await VideoTestData.AudioOnly()));
        Assert.Equal("avi", VideoFormat.Sniff("RIFF\0\0\0\0AVI LIST"u8));
        Assert.Equal("mov", VideoFormat.Sniff(Box(0x14, "ftypqt  \0\0\0\0qt  ")));
        Assert.Equal("mov", VideoFormat.Sniff(Box(0x08, "wide\0\0\0\0mdat")));
        foreach (var photo in new[] { "dog.jpg", "eagle.jpg", "giraffe.jpg", "scream.jpg" })
        {
            Assert.Null(VideoFormat.Sniff(TestData.ImageBytes(photo)));
        }

        // HEIF and AVIF photos are ISO base media files too; their brands keep them images.
        Assert.Null(VideoFormat.Sniff(Box(0x18, "ftypheic\0\0\0\0mif1heic")));
        Assert.Null(VideoFormat.Sniff(Box(0x1c, "ftypavif\0\0\0\0avifmif1miaf")));
        Assert.Null(VideoFormat.Sniff("GIF89a"u8));
    }

    [Fact]
    public async Task Video_probe_reads_codec_duration_frame_rate_and_size()
    {
        await VideoTestData.ThreeShotsMp4();
        var (metadata, json) = await Tools.ProbeAsync(VideoTestData.PathOf("shots.mp4"), CancellationToken.None);
        Assert.Equal("h264", metadata.Codec);
        Assert.Equal(9000, metadata.DurationMillis);
        Assert.Equal(25, metadata.FrameRate);
        Assert.Equal(640, metadata.FrameWidth);
        Assert.Equal(480, metadata.FrameHeight);
        Assert.Contains("mp4", metadata.Format, StringComparison.Ordinal);
        Assert.Contains("\"streams\"", json, StringComparison.Ordinal);

        await VideoTestData.AudioOnly();
        var audio = await Assert.ThrowsAsync<VideoRejectedException>(() => Tools.ProbeAsync(VideoTestData.PathOf("tone.m4a"), CancellationToken.None));
        Assert.Contains("no video stream", audio.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Video_frames_come_at_every_interval_and_at_scene_changes_with_their_times()
    {
        await VideoTestData.ThreeShotsMp4();
        using var detector = TestData.CreateDetector();
        var (metadata, _) = await Tools.ProbeAsync(VideoTestData.PathOf("shots.mp4"), CancellationToken.None);
        var geometry = FrameGeometry.For(metadata, [detector.Needs]);
        Assert.Equal((416, 312), (geometry.ContentWidth, geometry.ContentHeight));

        var times = new List<long>();
        var options = new VideoOptions();
        await foreach (var frame in FrameSampler.SampleAsync(Tools.FfmpegPath, VideoTestData.PathOf("shots.mp4"), geometry, options, 0, CancellationToken.None))
        {
            using (frame)
            {
                Assert.Equal(geometry.FrameBytes, frame.Pixels.Length);
                times.Add(frame.TimestampMillis);
            }
        }

        // 25 fps: the first frame of each 500 ms interval (0, 520, 1000, 1520 ...), the cuts at 3 s and 6 s among them.
        Assert.Equal(0, times[0]);
        Assert.Contains(3000, times);
        Assert.Contains(6000, times);
        Assert.Equal(times.Order(), times);
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.InRange(pair.Second - pair.First, 1, 560));
        Assert.InRange(times.Count, 17, 20);

        // From a checkpoint: ffmpeg seeks there and the times stay those of the whole video.
        var resumed = new List<long>();
        await foreach (var frame in FrameSampler.SampleAsync(Tools.FfmpegPath, VideoTestData.PathOf("shots.mp4"), geometry, options, 6000, CancellationToken.None))
        {
            using (frame)
            {
                resumed.Add(frame.TimestampMillis);
            }
        }

        Assert.Equal(6000, resumed[0]);
        Assert.All(resumed, t => Assert.InRange(t, 6000, 9000));
        Assert.Equal(times.Where(t => t >= 6000), resumed);
    }

    [Fact]
    public async Task Video_frames_detect_what_the_photos_show_with_boxes_relative_to_the_frame()
    {
        await VideoTestData.ThreeShotsMp4();
        using var labeler = TestData.CreateLabeler(null, TestData.CreateDetector());
        var (metadata, _) = await Tools.ProbeAsync(VideoTestData.PathOf("shots.mp4"), CancellationToken.None);
        var geometry = FrameGeometry.For(metadata, labeler.Needs);
        var found = new Dictionary<long, IReadOnlyList<Label>>();
        await foreach (var frame in FrameSampler.SampleAsync(Tools.FfmpegPath, VideoTestData.PathOf("shots.mp4"), geometry, new VideoOptions(), 0, CancellationToken.None))
        {
            using (frame)
            {
                using var picture = geometry.Picture(frame);
                found[frame.TimestampMillis] = labeler.LabelFrame(picture, LabelRequest.Default);
            }
        }

        var dog = found[0].Single(l => l.Name == "Dog");
        Assert.Contains(found[0], l => l.Name == "Bicycle");
        Assert.Contains(found[3000], l => l.Name == "Bird");
        Assert.Contains(found[6000], l => l.Name == "Giraffe");
        Assert.DoesNotContain(found[3000], l => l.Name == "Dog");

        // The same photo through the image pipeline: the frame's box is the same share of the picture.
        var image = labeler.Label(TestData.ImageBytes("dog.jpg"), LabelRequest.Default);
        var photoBox = image.Labels.Single(l => l.Name == "Dog").Instances[0].BoundingBox;
        var frameBox = dog.Instances[0].BoundingBox;
        Assert.InRange(frameBox.Left, photoBox.Left - 0.05, photoBox.Left + 0.05);
        Assert.InRange(frameBox.Top, photoBox.Top - 0.05, photoBox.Top + 0.05);
        Assert.InRange(frameBox.Width, photoBox.Width - 0.05, photoBox.Width + 0.05);
        Assert.InRange(frameBox.Height, photoBox.Height - 0.05, photoBox.Height + 0.05);
        Assert.InRange(frameBox.Left + frameBox.Width, 0, 1);
        Assert.InRange(frameBox.Top + frameBox.Height, 0, 1);
    }

    [Fact]
    public void Video_segments_merge_short_gaps_and_end_at_the_next_sample()
    {
        static Label L(string name, double confidence) => new(name, confidence, [], [], [], []);
        long[] samples = [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 6000, 6500];
        var frames = new List<FrameLabels>
        {
            new(0, [L("Dog", 80)]),
            new(500, [L("Dog", 90)]),
            // 1000: missed (a flicker) — 500 ms gap is within 2 x interval
            new(1500, [L("Dog", 70)]),
            new(2000, [L("Dog", 60), L("Car", 55)]),
            new(6000, [L("Dog", 88)]),
        };

        var segments = SegmentBuilder.Build(samples, frames, 500, 1000, 7000);
        var dogs = segments.Where(s => s.Name == "Dog").ToList();
        Assert.Equal(2, dogs.Count);
        Assert.Equal((0L, 2500L, 90.0), (dogs[0].StartTimestampMillis, dogs[0].EndTimestampMillis, dogs[0].Confidence));
        Assert.Equal((6000L, 6500L), (dogs[1].StartTimestampMillis, dogs[1].EndTimestampMillis));
        var car = Assert.Single(segments, s => s.Name == "Car");
        Assert.Equal((2000L, 2500L, 500L), (car.StartTimestampMillis, car.EndTimestampMillis, car.DurationMillis));

        var video = SegmentBuilder.VideoLabels(frames);
        Assert.Equal(["Dog", "Car"], video.Select(l => l.Name));
        Assert.Equal(90, video[0].Confidence);
    }

    [Fact]
    public async Task Video_sampling_is_stopped_and_ffmpeg_killed_on_cancel()
    {
        await VideoTestData.TwoHours();
        using var detector = TestData.CreateDetector();
        var (metadata, _) = await Tools.ProbeAsync(VideoTestData.PathOf("two-hours.mp4"), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var count = 0;
        var before = FfmpegProcesses();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var frame in FrameSampler.SampleAsync(Tools.FfmpegPath, VideoTestData.PathOf("two-hours.mp4"), FrameGeometry.For(metadata, [detector.Needs]), new VideoOptions(), 0, cancel.Token))
            {
                frame.Dispose();
                if (++count == 5)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        Assert.Equal(5, count);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (FfmpegProcesses().Except(before).Any())
        {
            Assert.True(DateTime.UtcNow < deadline, "ffmpeg still runs after the cancel");
            await Task.Delay(50);
        }
    }

    /// <summary>An ISO base media box head: 32-bit big-endian size, then the rest as ASCII.</summary>
    private static byte[] Box(byte size, string rest) => [0, 0, 0, size, .. System.Text.Encoding.ASCII.GetBytes(rest)];

    private static HashSet<int> FfmpegProcesses() =>
        System.Diagnostics.Process.GetProcessesByName("ffmpeg").Where(p => p.HasExitedSafe() is false && CommandLine(p.Id).Contains("two-hours.mp4", StringComparison.Ordinal)).Select(p => p.Id).ToHashSet();

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return "";
        }
    }
}

internal static class ProcessExtensions
{
    public static bool? HasExitedSafe(this System.Diagnostics.Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
