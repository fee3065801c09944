using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using LabelLens.Server.Aws.S3;

namespace LabelLens.Tests;

/// <summary>Who may use the S3 listener: nobody without credentials, anyone only when anonymous access is configured.</summary>
public sealed class S3AccessTests
{
    [Fact]
    public async Task Without_credentials_and_anonymous_off_everything_is_access_denied()
    {
        var fixture = new S3ServerFixture(new Dictionary<string, string?>
        {
            ["Server:S3Credentials:0:AccessKey"] = "",
            ["Server:S3Credentials:0:SecretKey"] = "",
        });
        await fixture.InitializeAsync();
        try
        {
            using (var unsigned = await fixture.Http.GetAsync(fixture.S3Address))
            {
                var message = await S3ApiTests.AssertErrorAsync(unsigned, HttpStatusCode.Forbidden, "AccessDenied");
                Assert.Contains("no S3 credentials are configured", message, StringComparison.Ordinal);
            }

            using (var put = await fixture.Http.PutAsync(new Uri(fixture.S3Address, "/photos"), new ByteArrayContent([])))
            {
                await S3ApiTests.AssertErrorAsync(put, HttpStatusCode.Forbidden, "AccessDenied");
            }

            var signed = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => fixture.S3.ListBucketsAsync());
            Assert.Equal("InvalidAccessKeyId", signed.ErrorCode);
            Assert.Empty(Directory.EnumerateDirectories(Path.Combine(fixture.Server.DataFolder, "objects"))); // no bucket was made
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Anonymous_access_works_only_when_configured()
    {
        var fixture = new S3ServerFixture(new Dictionary<string, string?> { ["Server:S3AllowAnonymous"] = "true" });
        await fixture.InitializeAsync();
        try
        {
            using var anonymous = new AmazonS3Client(new AnonymousAWSCredentials(), fixture.Config());
            await anonymous.PutBucketAsync(new PutBucketRequest { BucketName = "open" });
            await anonymous.PutObjectAsync(new PutObjectRequest { BucketName = "open", Key = "hello.txt", ContentBody = "hello" });
            using var get = await fixture.Http.GetAsync(new Uri(fixture.S3Address, "/open/hello.txt"));
            Assert.Equal("hello", await get.Content.ReadAsStringAsync());

            // A browser form upload (POST Object with a signed policy) is not supported: a clean 501 says so.
            using var form = new MultipartFormDataContent { { new StringContent("k.txt"), "key" }, { new ByteArrayContent("x"u8.ToArray()), "file", "k.txt" } };
            using var posted = await fixture.Http.PostAsync(new Uri(fixture.S3Address, "/open"), form);
            Assert.Equal(HttpStatusCode.NotImplemented, posted.StatusCode);
            Assert.Contains("<Code>NotImplemented</Code>", await posted.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // A Content-MD5 header that is there but empty checks nothing: refused, not stored unchecked.
            using var emptyDigest = new HttpRequestMessage(HttpMethod.Put, new Uri(fixture.S3Address, "/open/unchecked.txt")) { Content = new ByteArrayContent("y"u8.ToArray()) };
            Assert.True(emptyDigest.Content.Headers.TryAddWithoutValidation("Content-MD5", ""));
            using var refused = await fixture.Http.SendAsync(emptyDigest);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("<Code>InvalidDigest</Code>", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // Signed requests still have to be right.
            using var wrong = fixture.Client(S3ServerFixture.AccessKey, "wrong");
            Assert.Equal("SignatureDoesNotMatch", (await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => wrong.ListBucketsAsync())).ErrorCode);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public void Checksums_match_the_reference_check_values()
    {
        var data = "123456789"u8.ToArray();
        string Hex(string algorithm)
        {
            using var checksum = S3Checksums.Create(algorithm);
            checksum.Append(data.AsSpan(0, 4));
            checksum.Append(data.AsSpan(4));
            return Convert.ToHexStringLower(checksum.GetDigest());
        }

        Assert.Equal("cbf43926", Hex("crc32"));
        Assert.Equal("e3069283", Hex("crc32c"));
        Assert.Equal("ae8b14860a799888", Hex("crc64nvme"));

        // Slicing by 8 against the bytewise reference on a longer, unaligned input.
        var random = new byte[10_007];
        new Random(7).NextBytes(random);
        using var whole = S3Checksums.Create("crc32");
        whole.Append(random);
        Assert.Equal(System.IO.Hashing.Crc32.Hash(random).Reverse().ToArray(), whole.GetDigest());
    }

    [Fact]
    public async Task Unsigned_chunked_bodies_with_trailing_checksums_are_accepted_when_right()
    {
        var fixture = new S3ServerFixture();
        await fixture.InitializeAsync();
        try
        {
            await fixture.S3.PutBucketAsync(new PutBucketRequest { BucketName = "trailers" });
            var body = new byte[150_000];
            new Random(3).NextBytes(body);
            foreach (var (algorithm, digest) in new[] { ("crc32", Crc(body, "crc32")), ("crc32c", Crc(body, "crc32c")), ("crc64nvme", Crc(body, "crc64nvme")) })
            {
                var chunked = new MemoryStream();
                for (var offset = 0; offset < body.Length; offset += 65_536)
                {
                    var length = Math.Min(65_536, body.Length - offset);
                    chunked.Write(Encoding.ASCII.GetBytes($"{length:x}\r\n"));
                    chunked.Write(body, offset, length);
                    chunked.Write("\r\n"u8);
                }

                chunked.Write(Encoding.ASCII.GetBytes($"0\r\nx-amz-checksum-{algorithm}:{digest}\r\n\r\n"));
                using var request = S3TestSigner.Request(fixture.S3Address, HttpMethod.Put, $"/trailers/{algorithm}.bin", chunked.ToArray(), payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers: new Dictionary<string, string>
                {
                    ["x-amz-trailer"] = $"x-amz-checksum-{algorithm}",
                    ["x-amz-decoded-content-length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["content-encoding"] = "aws-chunked",
                });
                using var response = await fixture.Http.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
                Assert.Equal(digest, response.Headers.GetValues($"x-amz-checksum-{algorithm}").Single());
                using var get = await fixture.S3.GetObjectAsync("trailers", $"{algorithm}.bin");
                using var copy = new MemoryStream();
                await get.ResponseStream.CopyToAsync(copy);
                Assert.Equal(body, copy.ToArray());
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    private static string Crc(byte[] data, string algorithm)
    {
        using var checksum = S3Checksums.Create(algorithm);
        checksum.Append(data);
        return Convert.ToBase64String(checksum.GetDigest());
    }
}
