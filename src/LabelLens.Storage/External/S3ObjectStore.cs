using System.Net;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace LabelLens.Storage.External;

/// <summary>An object of an external bucket as a listing or a read reports it.</summary>
/// <param name="ETag">Without quotes, lower case.</param>
public sealed record ExternalObjectInfo(string Key, string ETag, long Size, DateTimeOffset? LastModified);

/// <summary>One page of an external listing.</summary>
public sealed record ExternalListPage(IReadOnlyList<ExternalObjectInfo> Objects, bool IsTruncated);

/// <summary>An external object opened for reading: its body (not seekable) and length.</summary>
public sealed class ExternalObjectBody(GetObjectResponse response) : IAsyncDisposable
{
    public Stream Body => response.ResponseStream;

    public long Length => response.ContentLength;

    public ValueTask DisposeAsync()
    {
        response.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>An <see cref="ExternalObjectBody"/> as a plain read-only stream that releases the response when disposed.</summary>
public sealed class ExternalBodyStream(ExternalObjectBody body) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => body.Length;

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => body.Body.Read(buffer, offset, count);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => body.Body.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => body.Body.ReadAsync(buffer, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await body.DisposeAsync();
        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            body.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// <see cref="IObjectStore"/> over any S3-compatible service with AWSSDK.S3: configurable endpoint, region,
/// credentials and path style. The labeling worker reads external objects through it; nothing is copied
/// into the data folder.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    private const long MemoryReadLimit = 32L * 1024 * 1024;

    private readonly AmazonS3Client _client;
    private readonly TimeProvider _time;

    public S3ObjectStore(string name, ExternalStoreOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        _time = time;
        var config = new AmazonS3Config
        {
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            MaxErrorRetry = 3,
            // Many S3-compatible services predate the SDK's default CRC checksums; send them only when required.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl.TrimEnd('/');
            config.AuthenticationRegion = options.Region;
            config.ForcePathStyle = options.ForcePathStyle ?? true;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
            config.ForcePathStyle = options.ForcePathStyle ?? false;
        }

        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey ?? ""), config);
    }

    /// <summary>The store's configuration name (the catalog's <c>source</c> of its images).</summary>
    public string Name { get; }

    public async Task CreateBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = bucket }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "BucketAlreadyOwnedByYou")
        {
        }
    }

    public async Task<bool> BucketExistsAsync(string bucket, CancellationToken cancellationToken)
    {
        try
        {
            await _client.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<string>> ListBucketsAsync(CancellationToken cancellationToken)
    {
        var response = await _client.ListBucketsAsync(new ListBucketsRequest(), cancellationToken);
        return (response.Buckets ?? []).Select(b => b.BucketName).Order(StringComparer.Ordinal).ToList();
    }

    public async Task DeleteBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteBucketAsync(new DeleteBucketRequest { BucketName = bucket }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "BucketNotEmpty")
        {
            throw new StorageException(StorageError.BucketNotEmpty, $"Bucket '{bucket}' is not empty.");
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "NoSuchBucket")
        {
            throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
        }
    }

    /// <summary>Spools the content to a temporary file (hashing it on the way, within the limit), then uploads it with its length.</summary>
    public async Task<StoredObject> PutAsync(string bucket, string key, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var temp = Path.Combine(Path.GetTempPath(), $"labellens-{Guid.NewGuid():N}.upload");
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    size += read;
                    if (size > maxBytes)
                    {
                        throw new StorageException(StorageError.EntityTooLarge, $"The object is larger than the {maxBytes:N0}-byte limit.");
                    }

                    md5.AppendData(buffer, 0, read);
                    sha256.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            try
            {
                // Plain (not aws-chunked) bodies: some S3-compatible servers store the chunk signatures as content.
                await _client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, FilePath = temp, UseChunkEncoding = false }, cancellationToken);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode is "NoSuchBucket")
            {
                throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
            }

            return new StoredObject(bucket, key, size, Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha256.GetHashAndReset()), _time.GetUtcNow());
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Downloads the object into a seekable stream (memory up to 32 MiB, a self-deleting temporary file above).</summary>
    public async Task<LocalObjectFile?> OpenLocalFileAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await using var stream = await OpenReadAsync(bucket, key, cancellationToken);
        return stream is null ? null : await LocalObjectFile.CopyToTemporaryAsync(stream, cancellationToken);
    }

    public async Task<Stream?> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await using var source = await OpenStreamAsync(bucket, key, cancellationToken);
        if (source is null)
        {
            return null;
        }

        Stream target = source.Length <= MemoryReadLimit
            ? new MemoryStream((int)Math.Max(0, source.Length))
            : new FileStream(Path.Combine(Path.GetTempPath(), $"labellens-{Guid.NewGuid():N}.download"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await source.Body.CopyToAsync(target, cancellationToken);
            target.Position = 0;
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens the object's body as it streams from the service (length known before any byte is read); null when missing.</summary>
    public async Task<ExternalObjectBody?> OpenStreamAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cancellationToken);
            return new ExternalObjectBody(response);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode is "NoSuchKey" or "NoSuchBucket" or "NotFound")
        {
            return null;
        }
    }

    public async Task<bool> DeleteAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key }, cancellationToken);
        return true;
    }

    /// <summary>One ListObjectsV2 page of keys after <paramref name="startAfter"/> (StartAfter rather than a continuation token, so a saved position never expires).</summary>
    public async Task<ExternalListPage> ListPageAsync(string bucket, string? prefix, string? startAfter, int maxKeys, CancellationToken cancellationToken)
    {
        var response = await _client.ListObjectsV2Async(
            new ListObjectsV2Request
            {
                BucketName = bucket,
                Prefix = string.IsNullOrEmpty(prefix) ? null : prefix,
                StartAfter = string.IsNullOrEmpty(startAfter) ? null : startAfter,
                MaxKeys = Math.Clamp(maxKeys, 1, 1000),
            },
            cancellationToken);
        var objects = (response.S3Objects ?? [])
            .Select(o => new ExternalObjectInfo(o.Key, NormalizeETag(o.ETag), o.Size ?? 0, o.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero) : null))
            .ToList();
        return new ExternalListPage(objects, response.IsTruncated == true);
    }

    /// <summary>True when the object exists (HEAD).</summary>
    public async Task<bool> ExistsAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Up to <paramref name="maxKeys"/> keys under <paramref name="prefix"/>, one ListObjects (v1) call: v1 because some
    /// S3-compatible servers (s3rver) fail a truncated ListObjectsV2 page.
    /// </summary>
    public async Task<IReadOnlyList<string>> FirstKeysAsync(string bucket, string prefix, int maxKeys, CancellationToken cancellationToken)
    {
        var response = await _client.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Prefix = prefix, MaxKeys = maxKeys }, cancellationToken);
        return (response.S3Objects ?? []).Select(o => o.Key).ToList();
    }

    /// <summary>The "folders" directly under <paramref name="prefix"/> (ListObjectsV2 with delimiter '/'), every page.</summary>
    public async Task<IReadOnlyList<string>> ListFoldersAsync(string bucket, string prefix, CancellationToken cancellationToken)
    {
        var folders = new List<string>();
        string? token = null;
        do
        {
            var response = await _client.ListObjectsV2Async(
                new ListObjectsV2Request { BucketName = bucket, Prefix = prefix.Length == 0 ? null : prefix, Delimiter = "/", ContinuationToken = token },
                cancellationToken);
            folders.AddRange(response.CommonPrefixes ?? []);
            token = response.IsTruncated == true ? response.NextContinuationToken : null;
        }
        while (token is not null);
        return folders;
    }

    /// <summary>S3 ETags come quoted in XML and headers, bare in event notifications: one form for comparisons.</summary>
    public static string NormalizeETag(string? etag) => (etag ?? "").Trim().Trim('"').ToLowerInvariant();

    public void Dispose() => _client.Dispose();
}
