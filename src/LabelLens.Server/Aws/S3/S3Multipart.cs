using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace LabelLens.Server.Aws.S3;

/// <summary>A multipart upload in progress: where it will land and what the object will carry.</summary>
public sealed record MultipartUpload(string UploadId, string Bucket, string Key, DateTimeOffset Initiated, string? ContentType, Dictionary<string, string> Metadata, Dictionary<string, string> Headers);

/// <summary>A stored part: number, hex MD5 (its ETag), size, when written, and its file.</summary>
public sealed record MultipartPart(int Number, string ETag, long Size, DateTimeOffset LastModified, string Path);

/// <summary>
/// Multipart uploads on disk: <c>data/multipart/&lt;uploadId&gt;/upload.json</c> and one file per part,
/// <c>00001-&lt;md5&gt;.part</c>, streamed in (never whole in memory), flushed, then renamed into place.
/// Completing concatenates the part files into the object store through the normal upload path.
/// </summary>
public sealed class S3Multipart
{
    private const string Manifest = "upload.json";
    private readonly string _root;
    private readonly TimeProvider _time;

    public S3Multipart(string dataFolder, TimeProvider time)
    {
        _root = Path.GetFullPath(Path.Combine(dataFolder, "multipart"));
        _time = time;
        Directory.CreateDirectory(_root);
    }

    public async Task<MultipartUpload> CreateAsync(string bucket, string key, string? contentType, Dictionary<string, string> metadata, Dictionary<string, string> headers, CancellationToken cancellationToken)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var upload = new MultipartUpload(id, bucket, key, _time.GetUtcNow(), contentType, metadata, headers);
        var folder = Path.Combine(_root, id);
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, Manifest + ".tmp");
        try
        {
            await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(upload), cancellationToken);
            File.Move(temp, Path.Combine(folder, Manifest));
            return upload;
        }
        catch
        {
            // A full disk (or a cancelled request) must not leave a half-written upload.json.tmp behind.
            Directory.Delete(folder, recursive: true);
            throw;
        }
    }

    /// <summary>The upload, or null when the id is unknown (or not an id at all).</summary>
    public async Task<MultipartUpload?> GetAsync(string uploadId, CancellationToken cancellationToken)
    {
        if (!IsId(uploadId))
        {
            return null;
        }

        try
        {
            var json = await File.ReadAllTextAsync(Path.Combine(_root, uploadId, Manifest), cancellationToken);
            return JsonSerializer.Deserialize<MultipartUpload>(json);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public async Task<MultipartPart> PutPartAsync(MultipartUpload upload, int number, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        ArgumentNullException.ThrowIfNull(content);
        var folder = Path.Combine(_root, upload.UploadId);
        var temp = Path.Combine(folder, $"{Guid.NewGuid():N}.tmp");
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long size = 0;
            try
            {
                await using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    size += read;
                    md5.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }
            catch (DirectoryNotFoundException)
            {
                throw S3Exception.NoSuchUpload();
            }

            var etag = Convert.ToHexStringLower(md5.GetHashAndReset());
            var prefix = number.ToString("D5", CultureInfo.InvariantCulture);
            var target = Path.Combine(folder, $"{prefix}-{etag}.part");
            File.Move(temp, target, overwrite: true);
            foreach (var older in Directory.EnumerateFiles(folder, prefix + "-*.part").Where(p => p != target))
            {
                File.Delete(older);
            }

            if (!File.Exists(Path.Combine(folder, Manifest)))
            {
                throw S3Exception.NoSuchUpload(); // aborted while the part was streaming
            }

            return new MultipartPart(number, etag, size, _time.GetUtcNow(), target);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    public IReadOnlyList<MultipartPart> ListParts(MultipartUpload upload)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var parts = new List<MultipartPart>();
        var folder = Path.Combine(_root, upload.UploadId);
        if (!Directory.Exists(folder))
        {
            return parts;
        }

        foreach (var path in Directory.EnumerateFiles(folder, "*.part"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash != 5 || !int.TryParse(name[..5], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                continue;
            }

            var info = new FileInfo(path);
            parts.Add(new MultipartPart(number, name[(dash + 1)..], info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero), path));
        }

        parts.Sort((a, b) => a.Number.CompareTo(b.Number));
        return parts;
    }

    public async Task<IReadOnlyList<MultipartUpload>> ListUploadsAsync(string bucket, CancellationToken cancellationToken)
    {
        var uploads = new List<MultipartUpload>();
        foreach (var folder in Directory.EnumerateDirectories(_root))
        {
            if (await GetAsync(Path.GetFileName(folder), cancellationToken) is { } upload && upload.Bucket == bucket)
            {
                uploads.Add(upload);
            }
        }

        return uploads.OrderBy(u => u.Key, StringComparer.Ordinal).ThenBy(u => u.Initiated).ToList();
    }

    public void Delete(string uploadId)
    {
        if (!IsId(uploadId))
        {
            return;
        }

        var folder = Path.Combine(_root, uploadId);
        try
        {
            // Manifest first: a part still streaming notices the upload is gone.
            File.Delete(Path.Combine(folder, Manifest));
            Directory.Delete(folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static bool IsId(string value) => value.Length == 32 && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}

/// <summary>Reads several files one after the other, as one stream (a completed multipart object).</summary>
public sealed class ConcatenatedFileStream(IReadOnlyList<string> paths) : Stream
{
    private int _index;
    private FileStream? _current;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_current is null)
            {
                if (_index >= paths.Count)
                {
                    return 0;
                }

                _current = new FileStream(paths[_index++], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }

            var read = await _current.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                return read;
            }

            await _current.DisposeAsync();
            _current = null;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
        }

        base.Dispose(disposing);
    }
}
