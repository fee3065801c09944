using Amazon.S3;
using Amazon.S3.Model;

namespace LabelLens.Tests;

/// <summary>
/// A video running much longer than the lease keeps its job (heartbeat): with a 2 s lease and two video
/// workers, a lapsed lease would be claimed by the other worker and the job would run again.
/// </summary>
public sealed class VideoLeaseTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new Dictionary<string, string?>
    {
        ["Queue:LeaseSeconds"] = "2",
        ["Video:Workers"] = "2",
    });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Video_longer_than_the_lease_keeps_its_job_by_heartbeat()
    {
        var id = (await _server.UploadAsync("media", "long.mp4", await VideoTestData.Still("giraffe.jpg", 90), "video/mp4")).GetProperty("imageId").GetString()!;
        var started = DateTime.UtcNow;
        var image = (await _server.WaitForImageAsync(id, TimeSpan.FromSeconds(120))).GetProperty("image");
        Assert.True(DateTime.UtcNow - started > TimeSpan.FromSeconds(3), $"the video must take longer than the lease for this test to mean anything (took {DateTime.UtcNow - started})");
        Assert.Equal("labeled", image.GetProperty("status").GetString());
        Assert.Equal(1, image.GetProperty("attempts").GetInt32());
    }
}

/// <summary>Videos uploaded through the S3-compatible endpoint become video jobs too (the same Uploader).</summary>
public sealed class VideoS3Tests : IAsyncLifetime
{
    private readonly S3ServerFixture _s3 = new();

    public Task InitializeAsync() => _s3.InitializeAsync();

    public Task DisposeAsync() => _s3.DisposeAsync();

    [Fact]
    public async Task Video_put_through_S3_is_labeled_as_a_video()
    {
        await _s3.S3.PutBucketAsync("films");
        using var stream = new MemoryStream(await VideoTestData.ThreeShotsMp4());
        // The name says nothing: the bytes make it a video.
        await _s3.S3.PutObjectAsync(new PutObjectRequest { BucketName = "films", Key = "reel-without-extension", InputStream = stream, ContentType = "application/octet-stream" });
        var listed = await _s3.Server.GetJsonAsync("/api/v1/buckets/films/objects");
        var id = listed.GetProperty("objects")[0].GetProperty("imageId").GetString()!;
        var details = await _s3.Server.WaitForImageAsync(id, TimeSpan.FromSeconds(120));
        Assert.Equal("video", details.GetProperty("mediaType").GetString());
        Assert.Equal("labeled", details.GetProperty("image").GetProperty("status").GetString());
        Assert.Contains("Bird", ServerFixture.LabelNames(details));
    }
}
