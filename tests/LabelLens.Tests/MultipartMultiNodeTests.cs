using System.Globalization;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Npgsql;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// Multipart uploads across api nodes, for real: two `serve --role api` processes sharing one PostgreSQL catalog
/// (<see cref="PostgresServer"/>) and an s3rver store (<see cref="S3rverProcess"/>), driven by AWSSDK.S3 as a client
/// behind a load balancer without sticky sessions would be: each request to whichever node. The upload and part
/// records are in the catalog, the part bytes in the shared bucket under a reserved prefix, so neither node keeps
/// state the other needs.
/// </summary>
public sealed class MultipartMultiNodeTests(ITestOutputHelper output)
{
    private const string AccessKey = "LLMULTIPARTKEY0001";
    private const string SecretKey = "multipart/secret+key/0123456789abcdef";
    private const string PartsPrefix = "labellens/.labellens-multipart/";
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Two_api_nodes_continue_list_complete_and_abort_each_others_multipart_uploads()
    {
        using var s3rver = new S3rverProcess("media");
        var catalogUrl = PostgresServer.Instance.CreateDatabase("multipart");
        var shared = new Dictionary<string, string?>
        {
            ["LABELLENS_CATALOG"] = catalogUrl,
            ["LABELLENS_STORAGE"] = "s3://media/labellens",
            ["LABELLENS_S3_ENDPOINT"] = s3rver.Endpoint,
            ["AWS_ACCESS_KEY_ID"] = S3rverProcess.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = S3rverProcess.AccessKey,
            ["LABELLENS_ACCESS_KEY"] = AccessKey,
            ["LABELLENS_SECRET_KEY"] = SecretKey,
            ["LABELLENS_MODELS"] = null,
        };
        using var nodeA = new ServeProcess("labellens-multipart-a-", ServeProcess.FreePort()) { ExtraArguments = ["--role", "api"] };
        using var nodeB = new ServeProcess("labellens-multipart-b-", ServeProcess.FreePort()) { ExtraArguments = ["--role", "api"] };
        await nodeA.StartAsync(shared);
        await nodeB.StartAsync(shared);
        using var a = Client($"http://127.0.0.1:{nodeA.S3Port}", AccessKey, SecretKey);
        using var b = Client($"http://127.0.0.1:{nodeB.S3Port}", AccessKey, SecretKey);
        using var store = Client(s3rver.Endpoint, S3rverProcess.AccessKey, S3rverProcess.AccessKey);
        await using var catalog = NpgsqlDataSource.Create(LabelLens.Storage.Postgres.PostgresConnectionString.ToNpgsql(catalogUrl));
        await a.PutBucketAsync("archive");

        // A real JPEG made bigger (decoders stop at its end marker): 5 MiB for part 1, the rest (1.5 MiB) for part 2.
        var photo = TestData.ImageBytes("dog.jpg");
        var body = new byte[(6 * MiB) + (MiB / 2)];
        RandomNumberGenerator.Fill(body);
        photo.CopyTo(body, 0);
        var first = body[..(5 * MiB)];
        var second = body[(5 * MiB)..];

        var upload = (await a.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest
        {
            BucketName = "archive",
            Key = "reels/dog-large.jpg",
            ContentType = "image/jpeg",
            Metadata = { ["scene"] = "42" },
        })).UploadId;
        var part1 = await UploadPartAsync(a, "reels/dog-large.jpg", upload, 1, first);
        var part2 = await UploadPartAsync(b, "reels/dog-large.jpg", upload, 2, second);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(first)), part1.ETag.Trim('"'));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(second)), part2.ETag.Trim('"'));

        // Node B lists what node A began and both received; the bytes are in the shared bucket, not on either node.
        var listed = await b.ListPartsAsync(new ListPartsRequest { BucketName = "archive", Key = "reels/dog-large.jpg", UploadId = upload });
        Assert.Equal([(1, part1.ETag, (long)first.Length), (2, part2.ETag, (long)second.Length)], (listed.Parts ?? []).Select(p => (p.PartNumber ?? 0, p.ETag, p.Size ?? 0)));
        Assert.Equal(2, (await StoredKeysAsync(store, PartsPrefix + upload + "/")).Count);
        Assert.Empty(LocalParts(nodeA));
        Assert.Empty(LocalParts(nodeB));
        var inProgress = await a.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = "archive" });
        Assert.Equal(upload, Assert.Single(inProgress.MultipartUploads ?? []).UploadId);

        // Node B completes it; node A serves the object: the same bytes, the multipart ETag, the user metadata.
        var completed = await b.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = "archive",
            Key = "reels/dog-large.jpg",
            UploadId = upload,
            PartETags = [new PartETag(1, part1.ETag), new PartETag(2, part2.ETag)],
        });
        var expectedETag = $"{Convert.ToHexStringLower(MD5.HashData([.. MD5.HashData(first), .. MD5.HashData(second)]))}-2";
        Assert.Equal(expectedETag, completed.ETag.Trim('"'));
        // The client retries on node A as if B's answer had been lost: the same answer, from the catalog.
        var retried = await a.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = "archive",
            Key = "reels/dog-large.jpg",
            UploadId = upload,
            PartETags = [new PartETag(1, part1.ETag), new PartETag(2, part2.ETag)],
        });
        Assert.Equal(completed.ETag, retried.ETag);
        using (var got = await a.GetObjectAsync("archive", "reels/dog-large.jpg"))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy);
            Assert.Equal(body, copy.ToArray());
            Assert.Equal(expectedETag, got.ETag.Trim('"'));
            Assert.Equal("42", got.Metadata["scene"]);
        }

        // Nothing left behind: no part objects under the reserved prefix, no part rows, no upload in progress.
        Assert.Empty(await StoredKeysAsync(store, PartsPrefix));
        Assert.Equal(0, await CountAsync(catalog, "SELECT COUNT(*) FROM s3_multipart_uploads WHERE completed_at IS NULL"));
        Assert.Equal(0, await CountAsync(catalog, "SELECT COUNT(*) FROM s3_multipart_parts"));
        Assert.Empty((await b.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = "archive" })).MultipartUploads ?? []);

        // Aborted on the other node: the parts both nodes wrote go, from the bucket and the catalog.
        var aborted = (await b.InitiateMultipartUploadAsync("archive", "reels/aborted.bin")).UploadId;
        await UploadPartAsync(a, "reels/aborted.bin", aborted, 1, first);
        await UploadPartAsync(b, "reels/aborted.bin", aborted, 2, second);
        await UploadPartAsync(b, "reels/aborted.bin", aborted, 1, second); // a re-sent part 1 replaces the first one's bytes
        Assert.Equal(2, (await StoredKeysAsync(store, PartsPrefix + aborted + "/")).Count);
        Assert.Equal(["archive"], (await a.ListBucketsAsync()).Buckets?.Select(x => x.BucketName) ?? []);
        await a.AbortMultipartUploadAsync("archive", "reels/aborted.bin", aborted);
        Assert.Empty(await StoredKeysAsync(store, PartsPrefix));
        Assert.Equal(0, await CountAsync(catalog, $"SELECT COUNT(*) FROM s3_multipart_uploads WHERE upload_id = '{aborted}'"));
        Assert.Equal(0, await CountAsync(catalog, "SELECT COUNT(*) FROM s3_multipart_parts"));
        var gone = await Assert.ThrowsAsync<AmazonS3Exception>(() => b.ListPartsAsync(new ListPartsRequest { BucketName = "archive", Key = "reels/aborted.bin", UploadId = aborted }));
        Assert.Equal("NoSuchUpload", gone.ErrorCode);
        var objects = await b.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "archive" });
        Assert.Equal(["reels/dog-large.jpg"], (objects.S3Objects ?? []).Select(o => o.Key));
        output.WriteLine($"{upload}: completed on node B, read through node A; {aborted}: aborted on node A");
    }

    [Fact]
    public async Task A_sqlite_server_completes_an_upload_an_older_version_left_in_data_multipart()
    {
        // What LabelLens wrote before uploads were records: data/multipart/<id>/upload.json, 00001-<md5>.part files,
        // and a part it was still writing when it stopped (a .tmp).
        using var node = new ServeProcess("labellens-multipart-legacy-", ServeProcess.FreePort());
        var uploadId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var folder = Directory.CreateDirectory(Path.Combine(node.DataFolder, "multipart", uploadId)).FullName;
        var first = new byte[5 * MiB];
        RandomNumberGenerator.Fill(first);
        TestData.ImageBytes("dog.jpg").CopyTo(first, 0);
        var second = RandomNumberGenerator.GetBytes(MiB / 3);
        var md5s = new[] { MD5.HashData(first), MD5.HashData(second) };
        await File.WriteAllTextAsync(Path.Combine(folder, "upload.json"), $$$"""
            {"UploadId":"{{{uploadId}}}","Bucket":"archive","Key":"old/dog.jpg","Initiated":"2026-11-30T10:00:00+00:00","ContentType":"image/jpeg","Metadata":{"scene":"7"},"Headers":{"cache-control":"no-cache"}}
            """);
        await File.WriteAllBytesAsync(Path.Combine(folder, $"00001-{Convert.ToHexStringLower(md5s[0])}.part"), first);
        await File.WriteAllBytesAsync(Path.Combine(folder, $"00002-{Convert.ToHexStringLower(md5s[1])}.part"), second);
        await File.WriteAllBytesAsync(Path.Combine(folder, $"{Guid.NewGuid():N}.tmp"), [1, 2, 3]);
        await node.StartAsync(new Dictionary<string, string?> { ["LABELLENS_ACCESS_KEY"] = AccessKey, ["LABELLENS_SECRET_KEY"] = SecretKey, ["LABELLENS_MODELS"] = null });
        using var s3 = Client($"http://127.0.0.1:{node.S3Port}", AccessKey, SecretKey);
        await s3.PutBucketAsync("archive");

        var uploads = await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = "archive" });
        var listed = Assert.Single(uploads.MultipartUploads ?? []);
        Assert.Equal((uploadId, "old/dog.jpg"), (listed.UploadId, listed.Key));
        Assert.False(File.Exists(Path.Combine(folder, "upload.json"))); // imported: the records are the truth now
        var parts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = "archive", Key = "old/dog.jpg", UploadId = uploadId });
        Assert.Equal(md5s.Select(m => $"\"{Convert.ToHexStringLower(m)}\""), (parts.Parts ?? []).Select(p => p.ETag));

        var completed = await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = "archive",
            Key = "old/dog.jpg",
            UploadId = uploadId,
            PartETags = (parts.Parts ?? []).Select(p => new PartETag(p.PartNumber ?? 0, p.ETag)).ToList(),
        });
        var expectedETag = $"{Convert.ToHexStringLower(MD5.HashData([.. md5s[0], .. md5s[1]]))}-2";
        Assert.Equal(expectedETag, completed.ETag.Trim('"'));
        using (var got = await s3.GetObjectAsync("archive", "old/dog.jpg"))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy);
            Assert.Equal([.. first, .. second], copy.ToArray());
            Assert.Equal("7", got.Metadata["scene"]);
            Assert.Equal("no-cache", got.Headers.CacheControl);
        }

        Assert.Empty(LocalParts(node));
        Assert.Empty((await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = "archive" })).MultipartUploads ?? []);
    }

    private static async Task<UploadPartResponse> UploadPartAsync(AmazonS3Client client, string key, string uploadId, int number, byte[] content)
    {
        using var stream = new MemoryStream(content);
        return await client.UploadPartAsync(new UploadPartRequest { BucketName = "archive", Key = key, UploadId = uploadId, PartNumber = number, InputStream = stream });
    }

    private static string[] LocalParts(ServeProcess node)
    {
        var folder = Path.Combine(node.DataFolder, "multipart");
        return Directory.Exists(folder) ? Directory.GetFiles(folder, "*", SearchOption.AllDirectories) : [];
    }

    private static async Task<List<string>> StoredKeysAsync(AmazonS3Client store, string prefix)
    {
        var listed = await store.ListObjectsAsync(new ListObjectsRequest { BucketName = "media", Prefix = prefix });
        return (listed.S3Objects ?? []).Select(o => o.Key).ToList();
    }

    private static async Task<long> CountAsync(NpgsqlDataSource catalog, string sql)
    {
        await using var command = catalog.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static AmazonS3Client Client(string endpoint, string accessKey, string secretKey) => new(
        new BasicAWSCredentials(accessKey, secretKey),
        new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", Timeout = TimeSpan.FromMinutes(2), MaxErrorRetry = 0 });
}
