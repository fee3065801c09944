namespace LabelLens.Storage.External;

/// <summary>
/// The primary object store in one bucket of any S3-compatible service (Storage:Provider=s3, or LABELLENS_STORAGE=s3://BUCKET[/PREFIX]):
/// what uploads through any api node write and every worker reads. Each LabelLens bucket is a folder of that
/// bucket (PREFIX/photos/dog.jpg), created with a folder marker (PREFIX/photos/) so an empty bucket still lists.
/// Multipart part bytes are objects under PREFIX/.labellens-multipart/ (see <see cref="MultipartFolder"/>), where every
/// api node reads them.
/// </summary>
public sealed class S3PrimaryStore : IObjectStore, IMultipartPartStore, IDisposable
{
    /// <summary>
    /// The folder of part bytes: a bucket name begins with a letter or digit (<see cref="ObjectNames.ValidateBucket"/>),
    /// so no LabelLens bucket's folder is ever this one, no user key lands in it, and bucket listings skip it.
    /// </summary>
    public const string MultipartFolder = ".labellens-multipart/";

    private readonly S3ObjectStore _s3;
    private readonly string _bucket;
    private readonly string _prefix;

    public S3PrimaryStore(StorageOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        (_bucket, _prefix) = options.Location();
        _s3 = new S3ObjectStore("primary", options.S3, time);
    }

    /// <summary>s3://bucket/prefix, for logs.</summary>
    public string Location => $"s3://{_bucket}/{_prefix}";

    public async Task CreateBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        if (!await BucketExistsAsync(bucket, cancellationToken))
        {
            await _s3.PutAsync(_bucket, Folder(bucket), Stream.Null, 0, cancellationToken);
        }
    }

    public Task<bool> BucketExistsAsync(string bucket, CancellationToken cancellationToken) => _s3.ExistsAsync(_bucket, Folder(bucket), cancellationToken);

    public async Task<IReadOnlyList<string>> ListBucketsAsync(CancellationToken cancellationToken) =>
        (await _s3.ListFoldersAsync(_bucket, _prefix, cancellationToken))
            .Select(f => f[_prefix.Length..].TrimEnd('/'))
            .Where(b => b.Length > 0 && char.IsAsciiLetterOrDigit(b[0])) // not the multipart folder (nor anything else no bucket can be)
            .Order(StringComparer.Ordinal)
            .ToList();

    public async Task DeleteBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        var keys = await _s3.FirstKeysAsync(_bucket, Folder(bucket), 2, cancellationToken);
        if (!keys.Contains(Folder(bucket)))
        {
            throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
        }

        if (keys.Any(k => k != Folder(bucket)))
        {
            throw new StorageException(StorageError.BucketNotEmpty, $"Bucket '{bucket}' is not empty.");
        }

        await _s3.DeleteAsync(_bucket, Folder(bucket), cancellationToken);
    }

    public async Task<StoredObject> PutAsync(string bucket, string key, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        if (!await BucketExistsAsync(bucket, cancellationToken))
        {
            throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
        }

        var stored = await _s3.PutAsync(_bucket, Path(bucket, key), content, maxBytes, cancellationToken);
        return stored with { Bucket = bucket, Key = key };
    }

    public Task<Stream?> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken) => _s3.OpenReadAsync(_bucket, Path(bucket, key), cancellationToken);

    public Task<bool> DeleteAsync(string bucket, string key, CancellationToken cancellationToken) => _s3.DeleteAsync(_bucket, Path(bucket, key), cancellationToken);

    /// <summary>A temporary local copy (ffmpeg reads videos by path and seeks).</summary>
    public Task<LocalObjectFile?> OpenLocalFileAsync(string bucket, string key, CancellationToken cancellationToken) => _s3.OpenLocalFileAsync(_bucket, Path(bucket, key), cancellationToken);

    /// <summary>Spooled to a temporary file on the way (as every put to the service: its length must be known), never held in memory.</summary>
    public async Task<MultipartPartBytes> WriteAsync(string uploadId, int number, Stream content, CancellationToken cancellationToken)
    {
        var location = $"{uploadId}/{number.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}";
        var stored = await _s3.PutAsync(_bucket, PartKey(location), content, long.MaxValue, cancellationToken);
        return new MultipartPartBytes(location, stored.ETag, stored.Size);
    }

    /// <summary>The part as it streams from the service.</summary>
    public async Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken) =>
        await _s3.OpenStreamAsync(_bucket, PartKey(location), cancellationToken) is { } body
            ? new ExternalBodyStream(body)
            : throw new StorageException(StorageError.NoSuchKey, "The part's bytes are gone (the upload was completed or aborted meanwhile).");

    public async Task DeleteAsync(string uploadId, IReadOnlyList<string> locations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(locations);
        foreach (var location in locations)
        {
            await _s3.DeleteAsync(_bucket, PartKey(location), cancellationToken);
        }
    }

    public void Dispose() => _s3.Dispose();

    private string PartKey(string location) => $"{_prefix}{MultipartFolder}{location}";

    private string Folder(string bucket) => $"{_prefix}{bucket}/";

    private string Path(string bucket, string key) => $"{_prefix}{bucket}/{key}";
}

/// <summary>Where objects are kept. Section "Storage"; LABELLENS_STORAGE=s3://BUCKET[/PREFIX] and LABELLENS_S3_ENDPOINT set it too.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>"files" (the data folder's objects/, the default) or "s3" (one bucket of an S3-compatible service, shared by every node).</summary>
    [System.ComponentModel.DataAnnotations.RegularExpression("^(files|s3)$", ErrorMessage = "Storage:Provider is files or s3.")]
    public string Provider { get; set; } = "files";

    /// <summary>The bucket (and optional folder) objects go in, as s3://BUCKET[/PREFIX]; Storage:Bucket names the bucket alone.</summary>
    public string? Url { get; set; }

    public string? Bucket { get; set; }

    /// <summary>The service: endpoint (ServiceUrl), region, credentials (empty: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the SDK's chain), path style.</summary>
    public ExternalStoreOptions S3 { get; set; } = new();

    public bool IsS3 => Provider == "s3";

    /// <summary>The bucket and the key prefix ("" or "folder/").</summary>
    public (string Bucket, string Prefix) Location()
    {
        if (!string.IsNullOrWhiteSpace(Url))
        {
            if (!Url.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || Url.Length <= 5)
            {
                throw new InvalidOperationException($"Storage:Url '{Url}' is not s3://BUCKET[/PREFIX].");
            }

            var rest = Url[5..].Trim('/');
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            return slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..] + "/");
        }

        return string.IsNullOrWhiteSpace(Bucket)
            ? throw new InvalidOperationException("Storage:Provider is s3 but no bucket is set (LABELLENS_STORAGE=s3://BUCKET, or Storage:Bucket).")
            : (Bucket, "");
    }
}
