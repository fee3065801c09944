using LabelLens.Labels;
using LabelLens.Video;
using LabelLens.Vision.Video;

namespace LabelLens.Tests;

/// <summary>Shots and black frames found by Debian's ffmpeg on clips made at test time; face tracks and spans from frames.</summary>
public sealed class ShotTests
{
    private static readonly VideoOptions Options = new();

    private static async Task<VideoCuts> DetectAsync(string name, byte[] video, long durationMillis, double frameRate)
    {
        var path = VideoTestData.PathOf(name);
        await File.WriteAllBytesAsync(path, video);
        return await ShotDetector.DetectAsync(VideoTestData.Ffmpeg, path, new VideoMetadata("h264", durationMillis, "mov,mp4", frameRate, 480, 640, "tv"), Options, CancellationToken.None);
    }

    [Fact]
    public async Task Astronaut_black_dog_is_three_shots_cut_at_3_and_4_seconds_with_one_black_frames_cue()
    {
        // 25 fps: astronaut frames 0-74, black 75-99, dog 100-174. The cuts land on those frames exactly (scores 0.74 and 1.0).
        var cuts = await DetectAsync("shots-abd.mp4", await VideoTestData.AstronautBlackDogMp4(), 7000, 25);
        Assert.Equal(
            [(0L, 3000L, 0L, 74L), (3000L, 4000L, 75L, 99L), (4000L, 7000L, 100L, 174L)],
            cuts.Shots.Select(s => (s.StartTimestampMillis, s.EndTimestampMillis, s.StartFrameNumber, s.EndFrameNumber)));
        Assert.Equal([0, 1, 2], cuts.Shots.Select(s => s.Index));
        Assert.Equal(100, cuts.Shots[0].Confidence);
        Assert.All(cuts.Shots.Skip(1), s => Assert.InRange(s.Confidence, 50, 100));
        var black = Assert.Single(cuts.TechnicalCues);
        Assert.Equal(TechnicalCue.BlackFrames, black.Type);
        Assert.Equal((3000L, 4000L, 75L, 99L, 25L), (black.StartTimestampMillis, black.EndTimestampMillis, black.StartFrameNumber, black.EndFrameNumber, black.DurationFrames));
        Assert.Equal(1, cuts.ShotAt(3500)!.Index);
        Assert.Equal(2, cuts.ShotAt(7000)!.Index);
    }

    [Fact]
    public async Task A_still_photo_is_one_shot_without_cues_and_scene_threshold_0_finds_no_cut()
    {
        var still = await DetectAsync("shots-still.mp4", await VideoTestData.Still("dog.jpg", 2), 2000, 5);
        var shot = Assert.Single(still.Shots);
        Assert.Equal((0L, 2000L, 0L, 9L, 10L), (shot.StartTimestampMillis, shot.EndTimestampMillis, shot.StartFrameNumber, shot.EndFrameNumber, shot.DurationFrames));
        Assert.Empty(still.TechnicalCues);

        var path = VideoTestData.PathOf("shots-abd.mp4");
        await File.WriteAllBytesAsync(path, await VideoTestData.AstronautBlackDogMp4());
        var off = await ShotDetector.DetectAsync(VideoTestData.Ffmpeg, path, new VideoMetadata("h264", 7000, "mp4", 25, 480, 640, null), new VideoOptions { SceneThreshold = 0 }, CancellationToken.None);
        Assert.Single(off.Shots);
        Assert.Single(off.TechnicalCues);
    }

    [Fact]
    public async Task A_file_that_is_not_a_video_is_rejected()
    {
        var path = VideoTestData.PathOf("shots-not-a-video.mp4");
        await File.WriteAllBytesAsync(path, "not a video at all"u8.ToArray());
        await Assert.ThrowsAsync<VideoRejectedException>(() => ShotDetector.DetectAsync(VideoTestData.Ffmpeg, path, new VideoMetadata("h264", 1000, "mp4", 25, 480, 640, null), Options, CancellationToken.None));
    }

    [Theory]
    [InlineData(25, 0, "00:00:00:00")]
    [InlineData(25, 75, "00:00:03:00")]
    [InlineData(25, 99, "00:00:03:24")]
    [InlineData(25, 90_001, "01:00:00:01")]
    [InlineData(29.97, 31, "00:00:01:01")]
    public void Smpte_timecodes_count_whole_frames_at_the_nominal_rate(double rate, long frame, string timecode) =>
        Assert.Equal(timecode, new FrameClock(rate).Smpte(frame));

    [Fact]
    public void Face_tracks_follow_overlapping_boxes_and_spans_split_where_count_or_shot_size_change()
    {
        static Label Faces(params BoundingBox[] boxes) => new("Face", 99, boxes.Select(b => new LabelInstance(b, 99)).ToList(), [], [], []);
        var closeUp = new BoundingBox(0.3, 0.4, 0.3, 0.2);
        var closeUpMoved = new BoundingBox(0.3, 0.4, 0.35, 0.2);
        var small = new BoundingBox(0.05, 0.08, 0.8, 0.1);
        var frames = new List<FrameLabels>
        {
            new(0, [Faces(closeUp)]),
            new(500, [Faces(closeUpMoved)]),
            new(1000, [Faces(closeUpMoved, small)]),
            // 1500: no face
            new(2000, [Faces(small)]),
        };
        var faces = FaceTracks.Build([0, 500, 1000, 1500, 2000, 2500], frames, 500, 3000);
        Assert.Equal(
            [(0L, 1500L, 3, "close-up"), (1000L, 1500L, 1, "wide"), (2000L, 2500L, 1, "wide")],
            faces.Tracks.Select(t => (t.StartTimestampMillis, t.EndTimestampMillis, t.Samples, t.ShotSize!)));
        Assert.Equal(
            [(0L, 1000L, 1, "close-up"), (1000L, 1500L, 2, "close-up"), (1500L, 2000L, 0, (string?)null), (2000L, 2500L, 1, "wide"), (2500L, 3000L, 0, null)],
            faces.Spans.Select(s => (s.StartTimestampMillis, s.EndTimestampMillis, s.Faces, s.ShotSize)));
    }
}
