using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace LabelLens.Storage;

/// <summary>
/// Buckets are folders under <c>&lt;data&gt;/objects</c>; an object is a file inside its bucket folder at the path
/// <see cref="ObjectFileLayout"/> gives its key (so "a/b" and "a/b/c", or "photos/", fit beside each other),
/// checked again after resolution so nothing can land outside the bucket. Writes stream to
/// <c>&lt;data&gt;/tmp</c>, are flushed to disk, then renamed into place. A folder written by an older version
/// (keys as plain paths) is converted at start: see <see cref="ObjectLayoutMigration"/>.
/// </summary>
public sealed class FileSystemObjectStore : IObjectStore
{
    private readonly string _objects;
    private readonly string _temp;
    private readonly TimeProvider _time;
    private readonly ILogger<FileSystemObjectStore> _logger;

    public FileSystemObjectStore(string dataFolder, TimeProvider time, ILogger<FileSystemObjectStore> logger)
    {
        _objects = Path.GetFullPath(Path.Combine(dataFolder, "objects"));
        _temp = Path.GetFullPath(Path.Combine(dataFolder, "tmp"));
        _time = time;
        _logger = logger;
        ObjectLayoutMigration.Run(_objects, logger);
        Directory.CreateDirectory(_temp);
        // Leftovers of writes interrupted by a crash: never visible as objects, safe to remove.
        foreach (var stale in Directory.EnumerateFiles(_temp, "*.upload"))
        {
            File.Delete(stale);
        }
    }

    public Task CreateBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(BucketPath(bucket));
        return Task.CompletedTask;
    }

    public Task<bool> BucketExistsAsync(string bucket, CancellationToken cancellationToken) =>
        Task.FromResult(Directory.Exists(BucketPath(bucket)));

    public Task<IReadOnlyList<string>> ListBucketsAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> buckets = Directory.EnumerateDirectories(_objects).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        return Task.FromResult(buckets);
    }

    public Task DeleteBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        var path = BucketPath(bucket);
        if (!Directory.Exists(path))
        {
            throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
        }

        if (Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Any())
        {
            throw new StorageException(StorageError.BucketNotEmpty, $"Bucket '{bucket}' is not empty.");
        }

        Directory.Delete(path, recursive: true);
        return Task.CompletedTask;
    }

    public async Task<StoredObject> PutAsync(string bucket, string key, Stream content, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = ObjectPath(bucket, key);
        if (!Directory.Exists(BucketPath(bucket)))
        {
            throw new StorageException(StorageError.NoSuchBucket, $"Bucket '{bucket}' does not exist.");
        }

        var temp = Path.Combine(_temp, $"{Guid.NewGuid():N}.upload");
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                // Streamed in 64 KiB pieces: a 200 MB upload never sits in memory.
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

                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }

            MoveIntoPlace(temp, target);
            return new StoredObject(
                bucket,
                key,
                size,
                Convert.ToHexStringLower(md5.GetHashAndReset()),
                Convert.ToHexStringLower(sha256.GetHashAndReset()),
                _time.GetUtcNow());
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    public Task<Stream?> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var path = ObjectPath(bucket, key);
        try
        {
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task<LocalObjectFile?> OpenLocalFileAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var path = ObjectPath(bucket, key);
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            return Task.FromResult<LocalObjectFile?>(new LocalObjectFile(path, stream, temporary: false));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return Task.FromResult<LocalObjectFile?>(null);
        }
    }

    public Task<bool> DeleteAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var path = ObjectPath(bucket, key);
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        File.Delete(path);
        RemoveEmptyFolders(Path.GetDirectoryName(path)!, BucketPath(bucket));
        return Task.FromResult(true);
    }

    private string BucketPath(string bucket)
    {
        ObjectNames.ValidateBucket(bucket);
        return Path.Combine(_objects, bucket);
    }

    private string ObjectPath(string bucket, string key)
    {
        var root = BucketPath(bucket);
        ObjectNames.ValidateKey(key);
        var path = Path.GetFullPath(Path.Combine([root, .. ObjectFileLayout.PathOf(key)]));
        // Defence in depth: every component starts with a kind character, so none can be "..": resolution must agree.
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            _logger.LogWarning("Refused key {Key}: it resolves outside bucket {Bucket}", ObjectNames.Printable(key), bucket);
            throw new StorageException(StorageError.InvalidKey, $"The object key '{ObjectNames.Printable(key)}' resolves outside its bucket.");
        }

        return path;
    }

    /// <summary>
    /// Renames a finished temporary file to the object's path. A delete of the last object in a folder removes
    /// the folder; if that happens between creating the folder and the rename here, the folder is made again.
    /// </summary>
    internal static void MoveIntoPlace(string temp, string target)
    {
        for (var attempt = 1; ; attempt++)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            try
            {
                File.Move(temp, target, overwrite: true);
                return;
            }
            catch (DirectoryNotFoundException) when (attempt < 5)
            {
            }
        }
    }

    private static void RemoveEmptyFolders(string folder, string bucketRoot)
    {
        while (folder.Length > bucketRoot.Length && folder.StartsWith(bucketRoot, StringComparison.Ordinal))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(folder).Any())
                {
                    return;
                }

                Directory.Delete(folder);
            }
            catch (IOException)
            {
                return; // another upload just created something here
            }

            folder = Path.GetDirectoryName(folder)!;
        }
    }
}
