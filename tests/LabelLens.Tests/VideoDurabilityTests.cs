using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using static LabelLens.Tests.ServeProcess;

namespace LabelLens.Tests;

/// <summary>
/// A long video in a real `labellens serve` child process, SIGKILLed mid-video and started again on the same
/// data: the job resumes from its last checkpoint (not from zero) and ends with every frame once and no
/// duplicated segment. Also: without ffmpeg, videos fail with a clear, retryable error and images still work.
/// </summary>
public sealed class VideoDurabilityTests : IDisposable
{
    private readonly ServeProcess _serve = new("labellens-video-durable-");

    public void Dispose() => _serve.Dispose();

    [Fact]
    public async Task Video_job_killed_mid_video_resumes_from_its_checkpoint_without_duplicates()
    {
        var client = _serve.Client;
        var settings = new Dictionary<string, string?> { ["LABELLENS_Video__CheckpointFrames"] = "10" };
        await _serve.StartAsync(settings);

        using var body = new ByteArrayContent(await VideoTestData.Still("dog.jpg", 120));
        body.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        using var put = await client.PutAsync("/api/v1/buckets/films/objects/long-dog.mp4", body);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var id = JsonDocument.Parse(await put.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString()!;

        // Kill once a few checkpoints are committed, well before the end.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Progress(await client.GetStringAsync($"/api/v1/images/{id}")) < 40)
        {
            Assert.True(DateTime.UtcNow < deadline, "the video made no progress");
            await Task.Delay(20);
        }

        await _serve.KillAsync();
        long checkpoint;
        await using (var db = _serve.OpenCatalog())
        {
            checkpoint = Count(db, "SELECT COALESCE(MAX(progress_ms), 0) FROM jobs WHERE kind = 'video'");
            Assert.Equal(1, Count(db, "SELECT COUNT(*) FROM jobs WHERE kind = 'video' AND state = 'running'"));
        }

        Assert.InRange(checkpoint, 1000, 110_000);
        _serve.ClearOutput();
        await _serve.StartAsync(settings);
        deadline = DateTime.UtcNow.AddSeconds(120);
        while (JsonDocument.Parse(await client.GetStringAsync($"/api/v1/images/{id}")).RootElement.GetProperty("image").GetProperty("status").GetString() != "labeled")
        {
            Assert.True(DateTime.UtcNow < deadline, "the video was not labeled after the restart");
            await Task.Delay(100);
        }

        // It said where it resumed: at the checkpoint the killed server committed, not at zero.
        var resumed = _serve.Output.FirstOrDefault(l => l.Contains("Resuming video films/long-dog.mp4", StringComparison.Ordinal));
        Assert.True(resumed is not null, "no 'Resuming video' log line:\n" + _serve.LogTail());
        Assert.Contains($"from {checkpoint / 1000.0:0.###} s", resumed, StringComparison.Ordinal);

        var segments = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/videos/{id}/labels?aggregateBy=SEGMENTS")).RootElement;
        var dogs = segments.GetProperty("Labels").EnumerateArray().Where(s => s.GetProperty("Label").GetProperty("Name").GetString() == "Dog").ToList();
        var dog = Assert.Single(dogs);
        Assert.Equal(0, dog.GetProperty("StartTimestampMillis").GetInt64());
        Assert.InRange(dog.GetProperty("EndTimestampMillis").GetInt64(), 119_500, 120_000);

        _serve.Stop();
        await using (var db = _serve.OpenCatalog())
        {
            Assert.Equal(1, Count(db, "SELECT COUNT(*) FROM jobs WHERE kind = 'video' AND state = 'done'"));
            var job = Count(db, "SELECT id FROM jobs WHERE kind = 'video' AND state = 'done'");
            var samples = Count(db, $"SELECT COUNT(*) FROM video_samples WHERE job_id = {job}");
            // One sample per 500 ms of the 120 s: nothing lost at the kill, nothing sampled twice.
            Assert.InRange(samples, 239, 241);
            // The same frames an uninterrupted run samples: at 5 fps the first frame of each 500 ms interval is at
            // x000 or x600 ms. A resumed ffmpeg whose clock restarted at the checkpoint sampled a shifted grid.
            Assert.Equal(0, Count(db, $"SELECT COUNT(*) FROM video_samples WHERE job_id = {job} AND timestamp_ms % 1000 NOT IN (0, 600)"));
            Assert.Equal(samples, Count(db, $"SELECT frames_done FROM jobs WHERE id = {job}"));
            Assert.Equal(samples, Count(db, $"SELECT COUNT(*) FROM video_frames WHERE job_id = {job} AND name = 'Dog'"));
            Assert.Equal(0, Count(db, "SELECT COUNT(*) FROM (SELECT name, start_ms FROM video_segments GROUP BY name, start_ms HAVING COUNT(*) > 1)"));
            Assert.Equal(1, Count(db, "SELECT COUNT(*) FROM video_segments WHERE name = 'Dog'"));
        }
    }

    [Fact]
    public async Task Video_without_ffmpeg_fails_with_a_clear_retryable_error_and_images_still_work()
    {
        var client = _serve.Client;
        await _serve.StartAsync(new Dictionary<string, string?> { ["LABELLENS_Video__FfmpegPath"] = "/nonexistent/ffmpeg" });
        Assert.Contains(_serve.Output, l => l.Contains("Video labeling is unavailable: ffmpeg not found", StringComparison.Ordinal));

        using var video = new ByteArrayContent(await VideoTestData.ThreeShotsMp4());
        using var putVideo = await client.PutAsync("/api/v1/buckets/media/objects/shots.mp4", video);
        var videoId = JsonDocument.Parse(await putVideo.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString()!;
        using var photo = new ByteArrayContent(TestData.ImageBytes("dog.jpg"));
        using var putPhoto = await client.PutAsync("/api/v1/buckets/media/objects/dog.jpg", photo);
        var photoId = JsonDocument.Parse(await putPhoto.Content.ReadAsStringAsync()).RootElement.GetProperty("imageId").GetString()!;

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var image = JsonDocument.Parse(await client.GetStringAsync($"/api/v1/images/{videoId}")).RootElement.GetProperty("image");
            if (image.GetProperty("error").GetString() is { } error)
            {
                Assert.StartsWith("ffmpeg not found", error, StringComparison.Ordinal);
                // Retryable: queued again with backoff, not failed for good.
                Assert.Equal("queued", image.GetProperty("status").GetString());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the video job did not report the missing ffmpeg");
            await Task.Delay(100);
        }

        deadline = DateTime.UtcNow.AddSeconds(60);
        while (JsonDocument.Parse(await client.GetStringAsync($"/api/v1/images/{photoId}")).RootElement.GetProperty("image").GetProperty("status").GetString() != "labeled")
        {
            Assert.True(DateTime.UtcNow < deadline, "the photo was not labeled");
            await Task.Delay(100);
        }
    }

    private static int Progress(string details) =>
        JsonDocument.Parse(details).RootElement.TryGetProperty("video", out var video) ? video.GetProperty("progress").GetProperty("framesDone").GetInt32() : 0;
}
