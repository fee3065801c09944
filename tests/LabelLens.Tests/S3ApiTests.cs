using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Amazon.S3;
using Amazon.S3.Model;
using LabelLens.Storage;

namespace LabelLens.Tests;

/// <summary>The S3-compatible listener with the real AWSSDK.S3 client (v4: flexible checksums, aws-chunked bodies) against an in-process server.</summary>
public sealed class S3ApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private AmazonS3Client S3 => fixture.S3;

    private static string NewBucket() => "t-" + Guid.NewGuid().ToString("N")[..16];

    private async Task<string> CreateBucketAsync()
    {
        var bucket = NewBucket();
        await S3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        return bucket;
    }

    private async Task PutAsync(string bucket, string key, byte[] content, string contentType = "application/octet-stream")
    {
        using var stream = new MemoryStream(content);
        await S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = stream, ContentType = contentType });
    }

    private async Task<byte[]> GetBytesAsync(string bucket, string key)
    {
        using var response = await S3.GetObjectAsync(bucket, key);
        using var memory = new MemoryStream();
        await response.ResponseStream.CopyToAsync(memory);
        return memory.ToArray();
    }

    private static async Task<AmazonS3Exception> S3Error(Func<Task> action) => await Assert.ThrowsAnyAsync<AmazonS3Exception>(action);

    [Fact]
    public async Task Buckets_are_created_listed_located_headed_and_deleted()
    {
        var bucket = NewBucket();
        await S3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        // us-east-1 semantics: creating a bucket you already own succeeds.
        await S3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });

        var list = await S3.ListBucketsAsync();
        Assert.Contains(list.Buckets, b => b.BucketName == bucket);
        var location = await S3.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = bucket });
        Assert.True(location.HttpStatusCode == HttpStatusCode.OK);
        var head = await S3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket });
        Assert.Equal(HttpStatusCode.OK, head.HttpStatusCode);

        // The same bucket through the REST API.
        var rest = await fixture.Server.GetJsonAsync("/api/v1/buckets");
        Assert.Contains(rest.GetProperty("buckets").EnumerateArray(), b => b.GetString() == bucket);

        await PutAsync(bucket, "a.txt", "x"u8.ToArray());
        var notEmpty = await S3Error(() => S3.DeleteBucketAsync(bucket));
        Assert.Equal("BucketNotEmpty", notEmpty.ErrorCode);
        Assert.Equal(HttpStatusCode.Conflict, notEmpty.StatusCode);

        await S3.DeleteObjectAsync(bucket, "a.txt");
        await S3.DeleteBucketAsync(bucket);
        var missing = await S3Error(() => S3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var noBucket = await S3Error(() => S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }));
        Assert.Equal("NoSuchBucket", noBucket.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, noBucket.StatusCode);
        var noBucketPut = await S3Error(() => PutAsync(bucket, "b.txt", "y"u8.ToArray()));
        Assert.Equal("NoSuchBucket", noBucketPut.ErrorCode);
    }

    [Fact]
    public async Task A_bucket_created_again_outside_us_east_1_is_already_owned_and_bad_names_are_refused()
    {
        var bucket = await CreateBucketAsync();
        using var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, "/" + bucket);
        // Re-sign for another region: the signer is us-east-1 only, so check the us-east-1 path returns 200 here.
        using var again = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.True(again.Headers.Contains("x-amz-request-id"));

        using var bad = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, "/Bad_Bucket");
        using var refused = await fixture.Http.SendAsync(bad);
        await AssertErrorAsync(refused, HttpStatusCode.BadRequest, "InvalidBucketName");
    }

    [Fact]
    public async Task Put_get_head_with_metadata_range_and_conditions()
    {
        var bucket = await CreateBucketAsync();
        var content = RandomNumberGenerator.GetBytes(100_000);
        using (var stream = new MemoryStream(content))
        {
            var request = new PutObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", InputStream = stream, ContentType = "application/x-test" };
            request.Metadata.Add("x-amz-meta-owner", "alice");
            request.Metadata.Add("project", "lens");
            var put = await S3.PutObjectAsync(request);
            Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(content))}\"", put.ETag);
        }

        Assert.Equal(content, await GetBytesAsync(bucket, "docs/file one ü.bin"));

        var head = await S3.GetObjectMetadataAsync(bucket, "docs/file one ü.bin");
        Assert.Equal(content.Length, head.ContentLength);
        Assert.Equal("application/x-test", head.Headers.ContentType);
        Assert.Equal("alice", head.Metadata["x-amz-meta-owner"]);
        Assert.Equal("lens", head.Metadata["x-amz-meta-project"]);
        var etag = head.ETag;

        using (var ranged = await S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", ByteRange = new ByteRange(1000, 1999) }))
        {
            Assert.Equal(HttpStatusCode.PartialContent, ranged.HttpStatusCode);
            using var memory = new MemoryStream();
            await ranged.ResponseStream.CopyToAsync(memory);
            Assert.Equal(content[1000..2000], memory.ToArray());
        }

        var badRange = await S3Error(() => S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", ByteRange = new ByteRange(200_000, 200_100) }));
        Assert.Equal("InvalidRange", badRange.ErrorCode);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, badRange.StatusCode);

        var notModified = await S3Error(() => S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", EtagToNotMatch = etag }));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        var failed = await S3Error(() => S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", EtagToMatch = "\"0123\"" }));
        Assert.Equal("PreconditionFailed", failed.ErrorCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, failed.StatusCode);
        using (var matched = await S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", EtagToMatch = etag }))
        {
            Assert.Equal(HttpStatusCode.OK, matched.HttpStatusCode);
        }

        var sinceFuture = await S3Error(() => S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", ModifiedSinceDate = DateTime.UtcNow.AddHours(1) }));
        Assert.Equal(HttpStatusCode.NotModified, sinceFuture.StatusCode);
        using (var sincePast = await S3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "docs/file one ü.bin", ModifiedSinceDate = DateTime.UtcNow.AddHours(-1) }))
        {
            Assert.Equal(HttpStatusCode.OK, sincePast.HttpStatusCode);
        }

        var noKey = await S3Error(() => S3.GetObjectAsync(bucket, "docs/nothing.bin"));
        Assert.Equal("NoSuchKey", noKey.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, noKey.StatusCode);

        await S3.DeleteObjectAsync(bucket, "docs/file one ü.bin");
        var gone = await S3Error(() => S3.GetObjectMetadataAsync(bucket, "docs/file one ü.bin"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        // Deleting a missing key is a success, as in S3.
        await S3.DeleteObjectAsync(bucket, "docs/file one ü.bin");
    }

    [Theory]
    [InlineData("CRC32")]
    [InlineData("CRC32C")]
    [InlineData("CRC64NVME")]
    [InlineData("SHA1")]
    [InlineData("SHA256")]
    public async Task Every_flexible_checksum_the_sdk_sends_is_accepted(string algorithm)
    {
        var bucket = await CreateBucketAsync();
        var content = RandomNumberGenerator.GetBytes(300_000);
        using var stream = new MemoryStream(content);
        var put = await S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "c.bin", InputStream = stream, ChecksumAlgorithm = new ChecksumAlgorithm(algorithm) });
        Assert.Equal(HttpStatusCode.OK, put.HttpStatusCode);
        Assert.Equal(content, await GetBytesAsync(bucket, "c.bin"));
    }

    [Fact]
    public async Task Unchunked_signed_payloads_are_accepted()
    {
        var bucket = await CreateBucketAsync();
        var content = RandomNumberGenerator.GetBytes(50_000);
        using var stream = new MemoryStream(content);
        await S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "plain.bin", InputStream = stream, UseChunkEncoding = false });
        Assert.Equal(content, await GetBytesAsync(bucket, "plain.bin"));
    }

    [Fact]
    public async Task Signed_aws_chunked_bodies_are_verified_chunk_by_chunk()
    {
        var bucket = await CreateBucketAsync();
        var content = RandomNumberGenerator.GetBytes(200_000);
        var headers = new Dictionary<string, string>
        {
            ["content-encoding"] = "aws-chunked",
            ["x-amz-decoded-content-length"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var tamper in new[] { -1, 1 })
        {
            var now = DateTime.UtcNow;
            using var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/{bucket}/chunked-{tamper}.bin", payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", headers: headers, now: now);
            var body = S3TestSigner.SignedChunks(content, 65_536, S3TestSigner.SeedSignature(request), now, tamperChunk: tamper);
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.TryAddWithoutValidation("content-encoding", "aws-chunked");
            using var response = await fixture.Http.SendAsync(request);
            if (tamper < 0)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(content, await GetBytesAsync(bucket, "chunked--1.bin"));
            }
            else
            {
                await AssertErrorAsync(response, HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
                Assert.Equal(HttpStatusCode.NotFound, (await S3Error(() => S3.GetObjectMetadataAsync(bucket, "chunked-1.bin"))).StatusCode);
            }
        }
    }

    [Fact]
    public async Task Listing_v2_and_v1_with_prefix_delimiter_pagination_and_start_after()
    {
        var bucket = await CreateBucketAsync();
        string[] keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d/4.txt", "e.txt", "f.txt"];
        foreach (var key in keys)
        {
            await PutAsync(bucket, key, Encoding.UTF8.GetBytes(key));
        }

        var all = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
        Assert.Equal(keys, all.S3Objects.Select(o => o.Key));
        Assert.Equal(7, all.KeyCount);
        Assert.False(all.IsTruncated ?? false);

        var top = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/" });
        Assert.Equal(["c.txt", "e.txt", "f.txt"], top.S3Objects.Select(o => o.Key));
        Assert.Equal(["a/", "d/"], top.CommonPrefixes);

        var underA = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "a/", Delimiter = "/" });
        Assert.Equal(["a/1.txt", "a/2.txt"], underA.S3Objects.Select(o => o.Key));
        Assert.Equal(["a/b/"], underA.CommonPrefixes);

        // Pages of two, prefixes counting as entries, resumed with the continuation token.
        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/", MaxKeys = 2, ContinuationToken = token });
            Assert.True(page.KeyCount <= 2);
            seen.AddRange(page.S3Objects?.Select(o => o.Key) ?? []);
            seen.AddRange(page.CommonPrefixes ?? []);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            pages++;
        }
        while (token is not null);
        Assert.Equal(["a/", "c.txt", "d/", "e.txt", "f.txt"], seen.Order(StringComparer.Ordinal));
        Assert.Equal(3, pages);

        var after = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, StartAfter = "d/4.txt" });
        Assert.Equal(["e.txt", "f.txt"], after.S3Objects.Select(o => o.Key));

        var v1 = await S3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, MaxKeys = 3 });
        Assert.True(v1.IsTruncated);
        Assert.Equal(["a/1.txt", "a/2.txt", "a/b/3.txt"], v1.S3Objects.Select(o => o.Key));
        var v1Next = await S3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Marker = v1.NextMarker ?? v1.S3Objects[^1].Key });
        Assert.Equal(["c.txt", "d/4.txt", "e.txt", "f.txt"], v1Next.S3Objects.Select(o => o.Key));
        var v1Delimited = await S3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", MaxKeys = 1 });
        Assert.Equal(["a/"], v1Delimited.CommonPrefixes);
        var v1Resumed = await S3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", Marker = v1Delimited.NextMarker });
        Assert.Equal(["c.txt", "e.txt", "f.txt"], v1Resumed.S3Objects.Select(o => o.Key));
        Assert.Equal(["d/"], v1Resumed.CommonPrefixes);
    }

    [Fact]
    public async Task Delete_objects_copy_and_malformed_xml()
    {
        var bucket = await CreateBucketAsync();
        await PutAsync(bucket, "one.txt", "1"u8.ToArray(), "text/plain");
        await PutAsync(bucket, "two.txt", "2"u8.ToArray());
        using (var stream = new MemoryStream("3"u8.ToArray()))
        {
            var put = new PutObjectRequest { BucketName = bucket, Key = "three.txt", InputStream = stream, ContentType = "text/x-three" };
            put.Metadata.Add("color", "blue");
            await S3.PutObjectAsync(put);
        }

        var copy = await S3.CopyObjectAsync(new CopyObjectRequest { SourceBucket = bucket, SourceKey = "three.txt", DestinationBucket = bucket, DestinationKey = "copies/three.txt" });
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData("3"u8.ToArray()))}\"", copy.ETag);
        var copied = await S3.GetObjectMetadataAsync(bucket, "copies/three.txt");
        Assert.Equal("blue", copied.Metadata["x-amz-meta-color"]);
        Assert.Equal("text/x-three", copied.Headers.ContentType);
        var replaced = new CopyObjectRequest { SourceBucket = bucket, SourceKey = "three.txt", DestinationBucket = bucket, DestinationKey = "copies/four.txt", MetadataDirective = S3MetadataDirective.REPLACE, ContentType = "text/x-four" };
        replaced.Metadata.Add("color", "red");
        await S3.CopyObjectAsync(replaced);
        var four = await S3.GetObjectMetadataAsync(bucket, "copies/four.txt");
        Assert.Equal("red", four.Metadata["x-amz-meta-color"]);
        Assert.Equal("3"u8.ToArray(), await GetBytesAsync(bucket, "copies/four.txt"));
        var missingSource = await S3Error(() => S3.CopyObjectAsync(new CopyObjectRequest { SourceBucket = bucket, SourceKey = "nope", DestinationBucket = bucket, DestinationKey = "x" }));
        Assert.Equal("NoSuchKey", missingSource.ErrorCode);

        // Malformed XML: refused, nothing deleted.
        var xml = Encoding.UTF8.GetBytes("<Delete><Object><Key>one.txt</Key></Object>");
        using (var malformed = S3TestSigner.Request(fixture.S3Address, HttpMethod.Post, $"/{bucket}?delete", xml, headers: new Dictionary<string, string> { ["content-md5"] = Convert.ToBase64String(MD5.HashData(xml)) }))
        using (var response = await fixture.Http.SendAsync(malformed))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MalformedXML");
        }

        var dtd = Encoding.UTF8.GetBytes("<!DOCTYPE d [<!ENTITY x \"one.txt\">]><Delete><Object><Key>&x;</Key></Object></Delete>");
        using (var withDtd = S3TestSigner.Request(fixture.S3Address, HttpMethod.Post, $"/{bucket}?delete", dtd))
        using (var response = await fixture.Http.SendAsync(withDtd))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MalformedXML");
        }

        Assert.Equal("1"u8.ToArray(), await GetBytesAsync(bucket, "one.txt"));

        var deleted = await S3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = bucket,
            Objects = [new KeyVersion { Key = "one.txt" }, new KeyVersion { Key = "two.txt" }, new KeyVersion { Key = "never-there.txt" }],
        });
        Assert.Equal(["never-there.txt", "one.txt", "two.txt"], deleted.DeletedObjects.Select(d => d.Key).Order(StringComparer.Ordinal));
        var left = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
        Assert.Equal(["copies/four.txt", "copies/three.txt", "three.txt"], left.S3Objects.Select(o => o.Key));
    }

    [Fact]
    public async Task Multipart_upload_of_50_MB_has_the_s3_etag_and_reads_back_identical()
    {
        var bucket = await CreateBucketAsync();
        const int partSize = 8 * 1024 * 1024;
        var content = new byte[50 * 1024 * 1024];
        new Random(42).NextBytes(content);
        var key = "big/fifty.bin";

        var init = await S3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = "application/x-big" });
        var etags = new List<PartETag>();
        var md5s = new List<byte[]>();
        for (int offset = 0, number = 1; offset < content.Length; offset += partSize, number++)
        {
            var length = Math.Min(partSize, content.Length - offset);
            using var stream = new MemoryStream(content, offset, length, writable: false);
            var part = await S3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = key, UploadId = init.UploadId, PartNumber = number, InputStream = stream, PartSize = length });
            var md5 = MD5.HashData(content.AsSpan(offset, length));
            Assert.Equal($"\"{Convert.ToHexStringLower(md5)}\"", part.ETag);
            etags.Add(new PartETag(number, part.ETag));
            md5s.Add(md5);
        }

        var parts = await S3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = key, UploadId = init.UploadId });
        Assert.Equal(7, parts.Parts.Count);
        Assert.Equal(partSize, parts.Parts[0].Size);
        var uploads = await S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        Assert.Contains(uploads.MultipartUploads, u => u.UploadId == init.UploadId && u.Key == key);

        // Out of order and unknown parts are refused, and the upload stays usable.
        // (The SDK sorts parts itself, so the wrong order is sent by hand.)
        var wrongOrder = Encoding.UTF8.GetBytes($"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{etags[1].ETag}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>{etags[0].ETag}</ETag></Part></CompleteMultipartUpload>");
        using (var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Post, $"/{bucket}/{key}?uploadId={init.UploadId}", wrongOrder))
        using (var response = await fixture.Http.SendAsync(request))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "InvalidPartOrder");
        }

        var unknown = await S3Error(() => S3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = init.UploadId, PartETags = [new PartETag(1, "\"00000000000000000000000000000000\"")] }));
        Assert.Equal("InvalidPart", unknown.ErrorCode);
        using (var malformed = S3TestSigner.Request(fixture.S3Address, HttpMethod.Post, $"/{bucket}/{key}?uploadId={init.UploadId}", "<CompleteMultipartUpload><Part>"u8.ToArray()))
        using (var response = await fixture.Http.SendAsync(malformed))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MalformedXML");
        }

        var complete = await S3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = init.UploadId, PartETags = etags });
        var expected = $"\"{Convert.ToHexStringLower(MD5.HashData(md5s.SelectMany(m => m).ToArray()))}-7\"";
        Assert.Equal(expected, complete.ETag);

        var head = await S3.GetObjectMetadataAsync(bucket, key);
        Assert.Equal(expected, head.ETag);
        Assert.Equal(content.Length, head.ContentLength);
        Assert.Equal("application/x-big", head.Headers.ContentType);
        var listed = await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "big/" });
        Assert.Equal(expected, Assert.Single(listed.S3Objects).ETag);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await GetBytesAsync(bucket, key)));
        Assert.False(Directory.Exists(Path.Combine(fixture.Server.DataFolder, "multipart", init.UploadId)));

        var done = await S3Error(() => S3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = key, UploadId = init.UploadId }));
        Assert.Equal("NoSuchUpload", done.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, done.StatusCode);
    }

    [Fact]
    public async Task An_aborted_upload_is_gone_and_small_middle_parts_are_refused()
    {
        var bucket = await CreateBucketAsync();
        var init = await S3.InitiateMultipartUploadAsync(bucket, "small.bin");
        var etags = new List<PartETag>();
        for (var number = 1; number <= 2; number++)
        {
            using var stream = new MemoryStream(new byte[1000]);
            var part = await S3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "small.bin", UploadId = init.UploadId, PartNumber = number, InputStream = stream });
            etags.Add(new PartETag(number, part.ETag));
        }

        var small = await S3Error(() => S3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = "small.bin", UploadId = init.UploadId, PartETags = etags }));
        Assert.Equal("EntityTooSmall", small.ErrorCode);

        await S3.AbortMultipartUploadAsync(bucket, "small.bin", init.UploadId);
        var gone = await S3Error(() => S3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "small.bin", UploadId = init.UploadId }));
        Assert.Equal("NoSuchUpload", gone.ErrorCode);
        var badId = await S3Error(() => S3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "small.bin", UploadId = "../../objects", PartNumber = 1, InputStream = new MemoryStream(new byte[10]) }));
        Assert.Equal("NoSuchUpload", badId.ErrorCode);
        var uploads = await S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        Assert.DoesNotContain(uploads.MultipartUploads ?? [], u => u.UploadId == init.UploadId);
        var noObject = await S3Error(() => S3.GetObjectMetadataAsync(bucket, "small.bin"));
        Assert.Equal(HttpStatusCode.NotFound, noObject.StatusCode);
    }

    [Fact]
    public async Task Presigned_get_and_put_work_and_expire()
    {
        var bucket = await CreateBucketAsync();
        var content = RandomNumberGenerator.GetBytes(5000);
        var putUrl = await S3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre/signed.bin", Verb = HttpVerb.PUT, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Protocol.HTTP });
        using (var put = await fixture.Http.PutAsync(putUrl, new ByteArrayContent(content)))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var getUrl = await S3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre/signed.bin", Verb = HttpVerb.GET, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Protocol.HTTP });
        Assert.Contains("X-Amz-Signature=", getUrl, StringComparison.Ordinal);
        Assert.Equal(content, await fixture.Http.GetByteArrayAsync(getUrl));

        // A tampered presigned URL (another key) is refused.
        using (var tampered = await fixture.Http.GetAsync(getUrl.Replace("signed.bin", "other.bin", StringComparison.Ordinal)))
        {
            await AssertErrorAsync(tampered, HttpStatusCode.Forbidden, "SignatureDoesNotMatch");
        }

        var shortUrl = await S3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre/signed.bin", Verb = HttpVerb.GET, Expires = DateTime.UtcNow.AddSeconds(2), Protocol = Protocol.HTTP });
        var expiresIn = int.Parse(System.Text.RegularExpressions.Regex.Match(shortUrl, "X-Amz-Expires=([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresIn, 1, 5); // the SDK rounds and corrects for clock skew
        await Task.Delay(TimeSpan.FromSeconds(expiresIn + 2));
        using (var expired = await fixture.Http.GetAsync(shortUrl))
        {
            var error = await AssertErrorAsync(expired, HttpStatusCode.Forbidden, "AccessDenied");
            Assert.Contains("expired", error, StringComparison.OrdinalIgnoreCase);
        }

        var expiredPut = await S3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre/late.bin", Verb = HttpVerb.PUT, Expires = DateTime.UtcNow.AddSeconds(2), Protocol = Protocol.HTTP });
        Assert.Contains($"X-Amz-Expires=", expiredPut, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(expiresIn + 2));
        using (var late = await fixture.Http.PutAsync(expiredPut, new ByteArrayContent(content)))
        {
            await AssertErrorAsync(late, HttpStatusCode.Forbidden, "AccessDenied");
        }

        Assert.Equal(HttpStatusCode.NotFound, (await S3Error(() => S3.GetObjectMetadataAsync(bucket, "pre/late.bin"))).StatusCode);
    }

    [Fact]
    public async Task Wrong_secret_and_unknown_key_are_refused_and_write_nothing()
    {
        var bucket = await CreateBucketAsync();
        using var wrong = fixture.Client(S3ServerFixture.AccessKey, "not-the-secret");
        var refused = await S3Error(() => wrong.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "x.txt", ContentBody = "hello" }));
        Assert.Equal("SignatureDoesNotMatch", refused.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var listing = await S3Error(() => wrong.ListBucketsAsync());
        Assert.Equal("SignatureDoesNotMatch", listing.ErrorCode);

        using var unknown = fixture.Client("NOSUCHKEY", S3ServerFixture.SecretKey);
        var unknownError = await S3Error(() => unknown.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }));
        Assert.Equal("InvalidAccessKeyId", unknownError.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, unknownError.StatusCode);

        using (var skewed = S3TestSigner.Request(fixture.S3Address, HttpMethod.Get, "/" + bucket, now: DateTime.UtcNow.AddMinutes(-20)))
        using (var response = await fixture.Http.SendAsync(skewed))
        {
            await AssertErrorAsync(response, HttpStatusCode.Forbidden, "RequestTimeTooSkewed");
        }

        using (var unsigned = await fixture.Http.GetAsync(new Uri(fixture.S3Address, "/" + bucket)))
        {
            await AssertErrorAsync(unsigned, HttpStatusCode.Forbidden, "AccessDenied");
        }

        Assert.Empty((await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket })).S3Objects ?? []);
    }

    [Fact]
    public async Task Tampered_bodies_fail_their_digests_and_write_nothing()
    {
        var bucket = await CreateBucketAsync();
        await PutAsync(bucket, "kept.bin", "original"u8.ToArray());

        // Content-MD5 of other bytes: BadDigest, the old object stays.
        using (var stream = new MemoryStream("replacement"u8.ToArray()))
        {
            var error = await S3Error(() => S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "kept.bin", InputStream = stream, MD5Digest = Convert.ToBase64String(MD5.HashData("something else"u8.ToArray())) }));
            Assert.Equal("BadDigest", error.ErrorCode);
            Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        }

        Assert.Equal("original"u8.ToArray(), await GetBytesAsync(bucket, "kept.bin"));

        // A signed SHA-256 that does not match the body.
        var body = "tampered"u8.ToArray();
        using (var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/{bucket}/sha.bin", body, payloadHash: S3TestSigner.Hex(SHA256.HashData("intended"u8.ToArray()))))
        using (var response = await fixture.Http.SendAsync(request))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "XAmzContentSHA256Mismatch");
        }

        // An x-amz-checksum-crc32 header of other bytes; a malformed Content-MD5.
        using (var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/{bucket}/crc.bin", body, payloadHash: "UNSIGNED-PAYLOAD", headers: new Dictionary<string, string> { ["x-amz-checksum-crc32"] = "AAAAAA==" }))
        using (var response = await fixture.Http.SendAsync(request))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "BadDigest");
        }

        using (var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/{bucket}/md5.bin", body, payloadHash: "UNSIGNED-PAYLOAD", headers: new Dictionary<string, string> { ["content-md5"] = "not base64!" }))
        using (var response = await fixture.Http.SendAsync(request))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "InvalidDigest");
        }

        // An unsigned aws-chunked body whose CRC32 trailer does not match.
        var chunked = Encoding.ASCII.GetBytes($"{body.Length:x}\r\n").Concat(body).Concat(Encoding.ASCII.GetBytes("\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")).ToArray();
        using (var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/{bucket}/trailer.bin", chunked, payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers: new Dictionary<string, string> { ["x-amz-trailer"] = "x-amz-checksum-crc32", ["x-amz-decoded-content-length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), ["content-encoding"] = "aws-chunked" }))
        using (var response = await fixture.Http.SendAsync(request))
        {
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "BadDigest");
        }

        var keys = (await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket })).S3Objects.Select(o => o.Key);
        Assert.Equal(["kept.bin"], keys);
    }

    [Fact]
    public async Task Path_escapes_and_oversized_metadata_are_clean_errors_that_write_nothing()
    {
        var bucket = await CreateBucketAsync();
        foreach (var path in new[] { $"/{bucket}/a/%2E%2E/%2E%2E/escape.txt", $"/{bucket}/..%2F..%2Fescape.txt", $"/{bucket}/%2Fetc%2Fescape.txt" })
        {
            using var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, path, "x"u8.ToArray(), payloadHash: "UNSIGNED-PAYLOAD");
            using var response = await fixture.Http.SendAsync(request);
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "InvalidArgument");
        }

        var sdk = await S3Error(() => S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "a/../../escape.txt", ContentBody = "x" }));
        Assert.Equal(HttpStatusCode.BadRequest, sdk.StatusCode);

        var tooLong = await S3Error(() => S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = new string('k', 1100), ContentBody = "x" }));
        Assert.Equal("KeyTooLongError", tooLong.ErrorCode);

        var big = new PutObjectRequest { BucketName = bucket, Key = "meta.txt", ContentBody = "x" };
        big.Metadata.Add("huge", new string('m', 3000));
        var metadataError = await S3Error(() => S3.PutObjectAsync(big));
        Assert.Equal("MetadataTooLarge", metadataError.ErrorCode);

        Assert.Empty(Directory.EnumerateFiles(fixture.Server.DataFolder, "*escape.txt", SearchOption.AllDirectories));
        Assert.Empty((await S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket })).S3Objects ?? []);
    }

    [Fact]
    public async Task A_photo_put_over_s3_is_labeled_tagged_and_unlabeled_by_delete()
    {
        var bucket = await CreateBucketAsync();
        await PutAsync(bucket, "pets/dog.jpg", TestData.ImageBytes("dog.jpg"), "image/jpeg");
        var id = SqliteCatalog.ImageId(bucket, "pets/dog.jpg");
        var image = await fixture.Server.WaitForImageAsync(id);
        Assert.Equal("labeled", image.GetProperty("image").GetProperty("status").GetString());
        Assert.Contains("Dog", ServerFixture.LabelNames(image));

        var tagging = await S3.GetObjectTaggingAsync(new GetObjectTaggingRequest { BucketName = bucket, Key = "pets/dog.jpg" });
        Assert.InRange(tagging.Tagging.Count, 1, 10);
        var dog = Assert.Single(tagging.Tagging, t => t.Key == "label:Dog");
        Assert.InRange(double.Parse(dog.Value, System.Globalization.CultureInfo.InvariantCulture), 55, 100);

        // CopyObject is an upload too: the copy is labeled.
        await S3.CopyObjectAsync(bucket, "pets/dog.jpg", bucket, "pets/dog-copy.jpg");
        var copy = await fixture.Server.WaitForImageAsync(SqliteCatalog.ImageId(bucket, "pets/dog-copy.jpg"));
        Assert.Contains("Dog", ServerFixture.LabelNames(copy));

        var found = await fixture.Server.GetJsonAsync($"/api/v1/images?label=Dog&bucket={bucket}");
        Assert.Equal(2, found.GetProperty("images").GetArrayLength());

        await S3.DeleteObjectAsync(bucket, "pets/dog.jpg");
        await S3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = bucket, Objects = [new KeyVersion { Key = "pets/dog-copy.jpg" }] });
        using var gone = await fixture.Server.Client.GetAsync($"/api/v1/images/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var after = await fixture.Server.GetJsonAsync($"/api/v1/images?label=Dog&bucket={bucket}");
        Assert.Equal(0, after.GetProperty("images").GetArrayLength());
    }

    [Fact]
    public async Task A_multipart_photo_is_labeled()
    {
        var bucket = await CreateBucketAsync();
        var photo = TestData.ImageBytes("dog.jpg");
        var init = await S3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = "mp/dog.jpg", ContentType = "image/jpeg" });
        using var stream = new MemoryStream(photo);
        var part = await S3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "mp/dog.jpg", UploadId = init.UploadId, PartNumber = 1, InputStream = stream });
        await S3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = "mp/dog.jpg", UploadId = init.UploadId, PartETags = [new PartETag(1, part.ETag)] });
        var image = await fixture.Server.WaitForImageAsync(SqliteCatalog.ImageId(bucket, "mp/dog.jpg"));
        Assert.Contains("Dog", ServerFixture.LabelNames(image));
    }

    [Fact]
    public async Task The_rest_api_and_s3_stay_on_their_own_ports()
    {
        // The REST API is not served on the S3 port: an unsigned request there is an S3 error.
        using (var rest = await fixture.Http.GetAsync(new Uri(fixture.S3Address, "/api/v1/buckets")))
        {
            await AssertErrorAsync(rest, HttpStatusCode.Forbidden, "AccessDenied");
        }

        // And S3 is not served on the REST port.
        using var s3OnRest = await fixture.Server.Client.GetAsync("/");
        Assert.False(s3OnRest.Headers.Contains("x-amz-request-id"));
        Assert.NotEqual(fixture.S3Address.Port, fixture.Server.Client.BaseAddress!.Port);
    }

    internal static async Task<string> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.True(response.Headers.Contains("x-amz-request-id"), "no x-amz-request-id");
        var error = XElement.Parse(text);
        Assert.Equal("Error", error.Name.LocalName);
        Assert.Equal(code, error.Element("Code")?.Value);
        Assert.False(string.IsNullOrEmpty(error.Element("RequestId")?.Value));
        Assert.NotNull(error.Element("Resource"));
        return error.Element("Message")?.Value ?? "";
    }
}
