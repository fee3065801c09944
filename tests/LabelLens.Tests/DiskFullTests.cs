using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace LabelLens.Tests;

/// <summary>
/// `labellens serve` on a data folder that is a real 40 MiB tmpfs, filled for real with a file: uploads and
/// deletes on a nearly full and a full disk, /readyz, debris, and labeling that resumes as soon as space
/// returns. Mounting needs root, as the tests run here and in CI; without it the test fails and says so.
/// </summary>
public sealed class DiskFullTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly ServeProcess _serve = new("labellens-diskfull-", ServeProcess.FreePort());
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-diskfull-work-").FullName;
    private bool _mounted;

    private string Filler => Path.Combine(_serve.DataFolder, "filler.bin");

    public void Dispose()
    {
        _serve.Stop();
        if (_mounted)
        {
            Run("umount", _serve.DataFolder);
        }

        _serve.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task A_full_disk_gives_clear_errors_no_debris_not_ready_and_recovers_at_once()
    {
        var mount = Run("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", _serve.DataFolder);
        Assert.True(mount.ExitCode == 0, $"mount -t tmpfs needs root (the tests and CI run as root): {mount.Output}");
        _mounted = true;
        await _serve.StartAsync(new Dictionary<string, string?>
        {
            ["LABELLENS_Server__MinFreeDiskBytes"] = (6 * MiB).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LABELLENS_Server__S3AllowAnonymous"] = "true",
            ["LABELLENS_Queue__Workers"] = "1",
            ["LABELLENS_Queue__LeaseSeconds"] = "600",
        });
        var client = _serve.Client;
        string[] photos = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg"];

        // Labeling in flight when the disk fills up: once space returns, every photo is labeled well within
        // the 600 s lease, because a batch whose results could not be written is released, not left leased.
        var ids = new List<string>();
        foreach (var photo in photos)
        {
            ids.Add(await PutAsync(photo, TestData.ImageBytes(photo)));
        }

        FillTo(0);
        await Task.Delay(TimeSpan.FromSeconds(3));
        File.Delete(Filler);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        foreach (var id in ids)
        {
            while (Status(await GetJsonAsync($"/api/v1/images/{id}")) is "queued" or "labeling")
            {
                Assert.True(DateTime.UtcNow < deadline, $"{id} is still not labeled 60 s after space returned:\n{_serve.LogTail()}");
                await Task.Delay(200);
            }

            Assert.Equal("labeled", Status(await GetJsonAsync($"/api/v1/images/{id}")));
        }

        // Room under the threshold for the upload to start, not for it to finish: the write itself hits ENOSPC.
        FillTo(9 * MiB);
        var big = new byte[14 * MiB];
        Random.Shared.NextBytes(big);
        using (var refused = await client.PutAsync("/api/v1/buckets/full/objects/big.bin", new ByteArrayContent(big)))
        {
            await AssertDiskFullAsync(refused);
        }

        using (var missing = await client.GetAsync("/api/v1/buckets/full/objects/big.bin"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        AssertNoDebris();

        // With 9 MiB free again once the partial file is gone, the disk is ready within a test write (at most 1 s).
        var readyBy = DateTime.UtcNow.AddSeconds(10);
        while (!(await client.GetAsync("/readyz")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < readyBy, $"not ready again after the failed upload's bytes were removed:\n{_serve.LogTail()}");
            await Task.Delay(200);
        }

        // The same over S3, with boto3: a PutObject and a multipart part that do not fit.
        var s3 = await Boto3.RunAsync(_work, """
            import os, sys, boto3, botocore
            from botocore import UNSIGNED
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
            body = os.urandom(14 * 1024 * 1024)
            upload = s3.create_multipart_upload(Bucket="full", Key="s3-parts.bin")["UploadId"]
            try:
                s3.put_object(Bucket="full", Key="s3-big.bin", Body=body)
                print("put succeeded")
            except botocore.exceptions.ClientError as e:
                print("put", e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e.response["Error"]["Message"])
            try:
                s3.upload_part(Bucket="full", Key="s3-parts.bin", UploadId=upload, PartNumber=1, Body=body)
                print("part succeeded")
            except botocore.exceptions.ClientError as e:
                print("part", e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e.response["Error"]["Message"])
            s3.abort_multipart_upload(Bucket="full", Key="s3-parts.bin", UploadId=upload)
            """, new Dictionary<string, string> { ["S3_ENDPOINT"] = $"http://127.0.0.1:{_serve.S3Port}" }, _serve.LogTail);
        var lines = s3.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line =>
        {
            Assert.Contains("507 InternalError", line, StringComparison.Ordinal);
            Assert.Contains("disk is full", line, StringComparison.Ordinal);
        });
        AssertNoDebris();

        // Under the threshold: not ready, uploads refused before their body is read, deletes and reads still work.
        FillTo(3 * MiB);
        using (var ready = await client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("disk full", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var refused = await client.PutAsync("/api/v1/buckets/full/objects/small.jpg", new ByteArrayContent(TestData.ImageBytes("dog.jpg"))))
        {
            await AssertDiskFullAsync(refused);
        }

        Assert.Equal(TestData.ImageBytes("eagle.jpg"), await client.GetByteArrayAsync("/api/v1/buckets/full/objects/eagle.jpg"));
        using (var deleted = await client.DeleteAsync("/api/v1/buckets/full/objects/eagle.jpg"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        // Space back: ready again and uploads work, with no restart.
        File.Delete(Filler);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using (var ready = await client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var again = await PutAsync("eagle.jpg", TestData.ImageBytes("eagle.jpg"));
        Assert.False(string.IsNullOrEmpty(again));
    }

    private async Task<string> PutAsync(string key, byte[] content)
    {
        using var response = await _serve.Client.PutAsync($"/api/v1/buckets/full/objects/{key}", new ByteArrayContent(content));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{key}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("imageId").GetString()!;
    }

    private static async Task AssertDiskFullAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"{(int)response.StatusCode}: {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("DiskFull", problem.GetProperty("code").GetString());
        Assert.Contains("disk is full", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>No partial upload in tmp, no unfinished-upload note, no half-made multipart upload.</summary>
    private void AssertNoDebris()
    {
        Assert.Empty(Directory.GetFiles(Path.Combine(_serve.DataFolder, "tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_serve.DataFolder, "pending")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_serve.DataFolder, "multipart"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(_serve.DataFolder, "objects", "full"), "=*bin", SearchOption.AllDirectories));
    }

    private async Task<JsonElement> GetJsonAsync(string path) => JsonDocument.Parse(await _serve.Client.GetStringAsync(path)).RootElement;

    private static string? Status(JsonElement image) => image.GetProperty("image").GetProperty("status").GetString();

    /// <summary>Grows (or shrinks) the filler file until the filesystem has <paramref name="free"/> bytes left (0: until a write fails).</summary>
    private void FillTo(long free)
    {
        File.Delete(Filler);
        using var file = new FileStream(Filler, FileMode.CreateNew, FileAccess.Write);
        var chunk = new byte[MiB];
        try
        {
            while (true)
            {
                var left = new DriveInfo(_serve.DataFolder).AvailableFreeSpace - free;
                if (free > 0 && left <= 0)
                {
                    break;
                }

                file.Write(chunk, 0, free > 0 ? (int)Math.Min(chunk.Length, left) : chunk.Length);
                file.Flush();
            }
        }
        catch (IOException) when (free == 0)
        {
            // Full: the point.
        }
    }

    private static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
