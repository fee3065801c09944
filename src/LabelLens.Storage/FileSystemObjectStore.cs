using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace LabelLens.Storage;

/// <summary>
/// Buckets are folders under <c>&lt;data&gt;/objects</c>, keys are paths inside them (validated by
/// <see cref="ObjectNames"/>, then checked again after resolution so nothing can land outside the bucket).
/// Writes stream to <c>&lt;data&gt;/tmp</c>, are flushed to disk, then renamed into place.
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
        Directory.CreateDirectory(_objects);
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

        EnsureNoConflict(bucket, key, target);
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

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(temp, target, overwrite: true);
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
        var segments = ObjectNames.ValidateKey(key);
        var path = Path.GetFullPath(Path.Combine([root, .. segments]));
        // Defence in depth: validation already refuses escapes; resolution must agree.
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            _logger.LogWarning("Refused key {Key}: it resolves outside bucket {Bucket}", ObjectNames.Printable(key), bucket);
            throw new StorageException(StorageError.InvalidKey, $"The object key '{ObjectNames.Printable(key)}' resolves outside its bucket.");
        }

        return path;
    }

    /// <summary>
    /// S3 lets "a" and "a/b" both be objects; a folder tree cannot (a file named a cannot also be a folder).
    /// Such a clash is refused with a clear error rather than one object silently replacing the other.
    /// </summary>
    private static void EnsureNoConflict(string bucket, string key, string target)
    {
        if (Directory.Exists(target))
        {
            throw new StorageException(StorageError.KeyConflict, $"'{ObjectNames.Printable(key)}' is a prefix of other objects in bucket '{bucket}' and cannot also be an object in the filesystem store.");
        }

        for (var folder = Path.GetDirectoryName(target); folder is not null && folder.Length > 0; folder = Path.GetDirectoryName(folder))
        {
            if (File.Exists(folder))
            {
                throw new StorageException(StorageError.KeyConflict, $"Part of '{ObjectNames.Printable(key)}' is already an object in bucket '{bucket}'; the filesystem store cannot nest objects under it.");
            }

            if (Directory.Exists(folder))
            {
                break;
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
