namespace LabelLens.Storage;

/// <summary>An object as stored: its size and the hashes computed while it was written.</summary>
/// <param name="ETag">Hex MD5 of the content, as S3 gives for single-part uploads.</param>
/// <param name="Sha256">Hex SHA-256 of the content: identifies the content for "same bytes again" checks.</param>
public sealed record StoredObject(string Bucket, string Key, long Size, string ETag, string Sha256, DateTimeOffset LastModified);

/// <summary>
/// Where object bytes live. The filesystem store is the embedded default; an S3-compatible store is the
/// other implementation (bring your own bucket). Object metadata (content type, labels) lives in the
/// catalog, which is also the listing index.
/// </summary>
public interface IObjectStore
{
    /// <summary>Creates the bucket if it does not exist (idempotent).</summary>
    Task CreateBucketAsync(string bucket, CancellationToken cancellationToken);

    Task<bool> BucketExistsAsync(string bucket, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> ListBucketsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes an empty bucket.</summary>
    /// <exception cref="StorageException">BucketNotEmpty or NoSuchBucket.</exception>
    Task DeleteBucketAsync(string bucket, CancellationToken cancellationToken);

    /// <summary>
    /// Streams <paramref name="content"/> into the object, replacing any previous version atomically: a
    /// reader sees the old bytes or the new ones, never a mix, and a failed write leaves the old ones.
    /// </summary>
    /// <exception cref="StorageException">InvalidKey, EntityTooLarge, NoSuchBucket.</exception>
    Task<StoredObject> PutAsync(string bucket, string key, Stream content, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Opens the object for reading (seekable), or null when it does not exist.</summary>
    Task<Stream?> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>Deletes the object; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>
    /// The object as a file on this machine, for a child process that reads by path (ffmpeg seeks in MP4s, so
    /// no pipe), or null when the object does not exist. A store whose objects are files hands out the file
    /// itself; any other store copies the object to a temporary file that disposing deletes.
    /// </summary>
    Task<LocalObjectFile?> OpenLocalFileAsync(string bucket, string key, CancellationToken cancellationToken);
}

/// <summary>
/// An object readable by path. <see cref="Stream"/> stays open while it is used, so the bytes at
/// <see cref="Path"/> stay the ones opened even if the key is overwritten meanwhile (a rename leaves this inode alone).
/// </summary>
public sealed class LocalObjectFile(string path, Stream stream, bool temporary) : IAsyncDisposable
{
    public string Path { get; } = path;

    public Stream Stream { get; } = stream;

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        if (temporary)
        {
            File.Delete(Path);
        }
    }

    /// <summary>Copies <paramref name="source"/> to a new temporary file (for stores that are not local files).</summary>
    public static async Task<LocalObjectFile> CopyToTemporaryAsync(Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"labellens-{Guid.NewGuid():N}.tmp");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
        try
        {
            await source.CopyToAsync(file, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Position = 0;
            return new LocalObjectFile(path, file, temporary: true);
        }
        catch
        {
            await file.DisposeAsync();
            File.Delete(path);
            throw;
        }
    }
}
