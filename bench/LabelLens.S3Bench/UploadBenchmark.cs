using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace LabelLens.S3Bench;

/// <summary>What one timed run of one upload path gave.</summary>
public sealed record Measurement(string Name, int Objects, long BytesEach, TimeSpan Elapsed, double[] LatenciesMs, TimeSpan ServerCpu, TimeSpan ClientCpu, TimeSpan MachineBusy)
{
    /// <summary>For multipart uploads: how long CompleteMultipartUpload alone took (the server assembles the parts into the object then).</summary>
    public TimeSpan? Complete { get; init; }

    /// <summary>Share of all cores that other processes (not this benchmark, not the server) kept busy meanwhile.</summary>
    public double OthersShare => Math.Max(0, (MachineBusy - ServerCpu - ClientCpu).TotalSeconds) / (Elapsed.TotalSeconds * Environment.ProcessorCount);

    public double ObjectsPerSecond => Objects / Elapsed.TotalSeconds;

    public double MiBPerSecond => Objects * (double)BytesEach / (1024 * 1024) / Elapsed.TotalSeconds;

    public double Percentile(double p)
    {
        var sorted = LatenciesMs.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// The upload paths under test against one server: S3 PutObject and multipart with AWSSDK.S3 (path style,
/// SigV4, the SDK's default body form and the plain signed one), and the REST PUT with HttpClient. Bodies are
/// random bytes, not images: every upload is still stored, cataloged and queued in one transaction, and its
/// labeling job fails at once as InvalidImageFormat, so the numbers measure the upload path, not the model.
/// </summary>
public sealed class UploadBenchmark : IDisposable
{
    public const string AccessKey = "LLBENCHACCESSKEY01";
    public const string SecretKey = "bench/secret+key/0123456789abcdefghijKLMN";

    private readonly ServeProcess _server;
    private readonly AmazonS3Client _s3;
    private readonly HttpClient _rest;

    public UploadBenchmark(ServeProcess server)
    {
        _server = server;
        _s3 = new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
        {
            ServiceURL = server.S3Address.ToString().TrimEnd('/'),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            Timeout = TimeSpan.FromMinutes(5),
            MaxErrorRetry = 0,
        });
        _rest = new HttpClient { BaseAddress = server.RestAddress, Timeout = TimeSpan.FromMinutes(5) };
    }

    public void Dispose()
    {
        _s3.Dispose();
        _rest.Dispose();
    }

    /// <summary>PutObject through the S3 listener; <paramref name="chunked"/> false sends the body with its SHA-256 signed instead of aws-chunked.</summary>
    public Task<Measurement> S3PutObjectsAsync(string name, string bucket, byte[][] bodies, int concurrency, bool chunked) =>
        TimeAsync(name, bodies.Length, bodies[0].LongLength, concurrency, async i =>
        {
            await using var stream = new MemoryStream(bodies[i], writable: false);
            var response = await _s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
                Key = $"small/{i:D5}.bin",
                InputStream = stream,
                ContentType = "application/octet-stream",
                UseChunkEncoding = chunked,
            });
            Check(response.HttpStatusCode == HttpStatusCode.OK, $"S3 PUT {i}: {response.HttpStatusCode}");
        });

    public Task<Measurement> RestPutObjectsAsync(string name, string bucket, byte[][] bodies, int concurrency) =>
        TimeAsync(name, bodies.Length, bodies[0].LongLength, concurrency, async i =>
        {
            using var content = new ByteArrayContent(bodies[i]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await _rest.PutAsync(new Uri($"/api/v1/buckets/{bucket}/objects/small/{i:D5}.bin", UriKind.Relative), content);
            Check(response.StatusCode == HttpStatusCode.Created, $"REST PUT {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        });

    /// <summary>CreateMultipartUpload, the parts <paramref name="partsInFlight"/> at a time, CompleteMultipartUpload: the whole time counts.</summary>
    public async Task<Measurement> S3MultipartAsync(string name, string bucket, string key, byte[] body, int partBytes, int partsInFlight)
    {
        var completeTime = TimeSpan.Zero;
        var measured = await TimeAsync(name, 1, body.LongLength, 1, async _ =>
        {
            var upload = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = "application/octet-stream" });
            var count = (body.Length + partBytes - 1) / partBytes;
            var etags = new PartETag[count];
            using var gate = new SemaphoreSlim(partsInFlight);
            await Task.WhenAll(Enumerable.Range(0, count).Select(async index =>
            {
                await gate.WaitAsync();
                try
                {
                    var offset = index * partBytes;
                    var length = Math.Min(partBytes, body.Length - offset);
                    await using var stream = new MemoryStream(body, offset, length, writable: false);
                    var part = await _s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = key, UploadId = upload.UploadId, PartNumber = index + 1, InputStream = stream, PartSize = length });
                    etags[index] = new PartETag(index + 1, part.ETag);
                }
                finally
                {
                    gate.Release();
                }
            }));
            var started = Stopwatch.GetTimestamp();
            var complete = await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = upload.UploadId, PartETags = [.. etags] });
            completeTime = Stopwatch.GetElapsedTime(started);
            Check(complete.ETag.EndsWith($"-{count}\"", StringComparison.Ordinal), $"multipart ETag {complete.ETag}");
        });
        return measured with { Complete = completeTime };
    }

    public Task<Measurement> S3PutBigAsync(string name, string bucket, string key, byte[] body) =>
        TimeAsync(name, 1, body.LongLength, 1, async _ =>
        {
            await using var stream = new MemoryStream(body, writable: false);
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = stream, ContentType = "application/octet-stream" });
        });

    public Task<Measurement> RestPutBigAsync(string name, string bucket, string key, byte[] body) =>
        TimeAsync(name, 1, body.LongLength, 1, async _ =>
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await _rest.PutAsync(new Uri($"/api/v1/buckets/{bucket}/objects/{key}", UriKind.Relative), content);
            Check(response.StatusCode == HttpStatusCode.Created, $"REST PUT {key}: {(int)response.StatusCode}");
        });

    public async Task CreateBucketAsync(string bucket) => await _s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });

    /// <summary>How many objects the REST API lists in the bucket: every acknowledged upload must be there.</summary>
    public async Task<int> CountObjectsAsync(string bucket)
    {
        var total = 0;
        string? token = null;
        do
        {
            var page = await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = token });
            total += page.KeyCount ?? 0;
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return total;
    }

    public async Task DeleteAsync(string bucket, string key)
    {
        using var response = await _rest.DeleteAsync(new Uri($"/api/v1/buckets/{bucket}/objects/{key}", UriKind.Relative));
        Check(response.StatusCode == HttpStatusCode.NoContent, $"DELETE {bucket}/{key}: {(int)response.StatusCode}");
    }

    /// <summary><paramref name="count"/> distinct random bodies (so no two uploads are the same bytes).</summary>
    public static byte[][] Bodies(int count, int size) => [.. Enumerable.Range(0, count).Select(_ => RandomNumberGenerator.GetBytes(size))];

    private async Task<Measurement> TimeAsync(string name, int count, long bytesEach, int concurrency, Func<int, Task> upload)
    {
        var latencies = new double[count];
        var next = -1;
        using var self = Process.GetCurrentProcess();
        var serverCpu = _server.CpuTime;
        var clientCpu = self.TotalProcessorTime;
        var machine = MachineBusy();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var start = Stopwatch.GetTimestamp();
                await upload(i);
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        })));
        watch.Stop();
        var machineBusy = MachineBusy() - machine;
        self.Refresh();
        return new Measurement(name, count, bytesEach, watch.Elapsed, latencies, _server.CpuTime - serverCpu, self.TotalProcessorTime - clientCpu, machineBusy);
    }

    /// <summary>CPU time all processes have used since boot, from the first line of /proc/stat (zero where there is none).</summary>
    private static TimeSpan MachineBusy()
    {
        if (!File.Exists("/proc/stat"))
        {
            return TimeSpan.Zero;
        }

        // cpu  user nice system idle iowait irq softirq steal ... in clock ticks (USER_HZ, 100 on Linux).
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        var busy = fields.Take(8).Sum() - fields[3] - fields[4];
        return TimeSpan.FromSeconds(busy / 100.0);
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
