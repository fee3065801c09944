using System.Net;
using System.Net.Sockets;
using LabelLens.Application;

namespace LabelLens.Tests;

/// <summary>The first five minutes of a new user (issue 16, items 19-20), with `labellens serve` as they run it.</summary>
public sealed class FirstMinutesTests
{
    [Fact]
    public async Task Serve_starts_without_s3_and_says_so_loudly_when_the_s3_port_is_taken()
    {
        // Something else (MinIO, a second LabelLens) holds the S3 port.
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        using var serve = new ServeProcess("labellens-s3taken-", taken);
        await serve.StartAsync();

        using var health = await serve.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var upload = await serve.Client.PutAsync("/api/v1/buckets/first-run/objects/dog.jpg", new ByteArrayContent(TestData.ImageBytes("dog.jpg")));
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var log = serve.LogTail();
        Assert.Contains("The S3-compatible endpoint is OFF", log, StringComparison.Ordinal);
        Assert.Contains($"port {taken}", log, StringComparison.Ordinal);
    }
}

/// <summary>Bad days (issue 16, item 16): a flood of uploads meets a bounded backlog, not unbounded growth.</summary>
public sealed class BackpressureTests
{
    [Fact]
    public async Task Uploads_beyond_the_backlog_get_429_with_retry_after_on_rest_and_503_slowdown_on_s3()
    {
        // No models: nothing is labeled, so the backlog only grows.
        var models = Directory.CreateTempSubdirectory("labellens-nomodels-").FullName;
        var server = new S3ServerFixture(new Dictionary<string, string?> { ["Queue:MaxBacklog"] = "3", ["Models:Folder"] = models });
        await server.InitializeAsync();
        try
        {
            var photo = TestData.ImageBytes("dog.jpg");
            for (var i = 0; i < 3; i++)
            {
                await server.Server.UploadAsync("flood", $"{i}.jpg", photo);
            }

            // The count is re-read at most every 200 ms.
            await Task.Delay(300);
            using var refused = await server.Server.Client.PutAsync("/api/v1/buckets/flood/objects/3.jpg", new ByteArrayContent(photo));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
            Assert.Contains("SlowDown", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            var s3 = await Assert.ThrowsAsync<Amazon.S3.AmazonS3Exception>(() => server.S3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = "flood",
                Key = "4.jpg",
                InputStream = new MemoryStream(photo),
            }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, s3.StatusCode);
            Assert.Equal("SlowDown", s3.ErrorCode);

            // Nothing refused was stored.
            using var missing = await server.Server.Client.GetAsync("/api/v1/buckets/flood/objects/3.jpg");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
        finally
        {
            await server.DisposeAsync();
            Directory.Delete(models, recursive: true);
        }
    }
}

/// <summary>Why a data folder cannot be used is said as it is (issue 16, item 18).</summary>
public sealed class DataFolderLockTests
{
    [Fact]
    public void A_held_lock_names_another_server_and_an_unwritable_lock_file_says_so_instead()
    {
        var folder = Directory.CreateTempSubdirectory("labellens-lock-").FullName;
        try
        {
            using (new DataFolderLock(folder))
            {
                var held = Assert.Throws<InvalidOperationException>(() => new DataFolderLock(folder));
                Assert.Contains("Another LabelLens server", held.Message, StringComparison.Ordinal);
            }

            // Something that is not a lockable file where the lock goes (as a read-only or foreign folder would be).
            var other = Directory.CreateTempSubdirectory("labellens-lock-").FullName;
            Directory.CreateDirectory(Path.Combine(other, "serve.lock"));
            var unwritable = Assert.Throws<InvalidOperationException>(() => new DataFolderLock(other));
            Assert.Contains("cannot be written", unwritable.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("Another LabelLens server", unwritable.Message, StringComparison.Ordinal);
            Directory.Delete(other, recursive: true);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Upload_debris_a_crash_left_in_tmp_is_removed_when_the_next_server_takes_the_folder()
    {
        var folder = Directory.CreateTempSubdirectory("labellens-debris-").FullName;
        try
        {
            var temp = Directory.CreateDirectory(Path.Combine(folder, "tmp")).FullName;
            var stale = Path.Combine(temp, "0123.upload");
            File.WriteAllBytes(stale, new byte[1000]);
            File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));
            var fresh = Path.Combine(temp, "4567.copy");
            File.WriteAllBytes(fresh, new byte[10]);

            using var held = new DataFolderLock(folder);

            Assert.Equal(1, held.DebrisRemoved);
            Assert.False(File.Exists(stale));
            Assert.True(File.Exists(fresh));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
