using System.Security.Cryptography;
using LabelLens.Storage;
using Microsoft.Extensions.Logging;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// Multipart uploads for the S3 endpoint: the upload and part records in an <see cref="IMultipartStore"/> (the
/// catalog's, so with PostgreSQL every api node sees them) and the part bytes in an <see cref="IMultipartPartStore"/>
/// (data/multipart/ or the shared S3 bucket), so any node can continue, list, complete or abort any upload.
/// A part's bytes are written first, under a new location, then recorded; bytes no record points at are deleted.
/// </summary>
public sealed class S3Multipart(IMultipartStore records, IMultipartPartStore parts, TimeProvider time, ILogger<S3Multipart> logger) : IDisposable
{
    /// <summary>How long a completed upload's answer is kept for a client that retries its Complete after a lost response.</summary>
    public static readonly TimeSpan CompletedUploadMemory = TimeSpan.FromHours(1);

    private readonly SemaphoreSlim _importing = new(1, 1);
    private volatile bool _imported;

    public async Task<MultipartUpload> CreateAsync(string bucket, string key, string? contentType, Dictionary<string, string> metadata, Dictionary<string, string> headers, CancellationToken cancellationToken)
    {
        await EnsureImportedAsync(cancellationToken);
        var upload = new MultipartUpload(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), bucket, key, time.GetUtcNow(), contentType, metadata, headers);
        await records.CreateUploadAsync(upload, cancellationToken);
        return upload;
    }

    /// <summary>The upload, or null when the id is unknown (or not an id at all).</summary>
    public async Task<MultipartUpload?> GetAsync(string uploadId, CancellationToken cancellationToken)
    {
        await EnsureImportedAsync(cancellationToken);
        return IsId(uploadId) ? await records.GetUploadAsync(uploadId, cancellationToken) : null;
    }

    public async Task<MultipartPart> PutPartAsync(MultipartUpload upload, int number, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var bytes = await parts.WriteAsync(upload.UploadId, number, content, cancellationToken);
        var part = new MultipartPart(number, bytes.ETag, bytes.Size, time.GetUtcNow(), bytes.Location);
        MultipartPartRecorded recorded;
        try
        {
            recorded = await records.PutPartAsync(upload.UploadId, part, cancellationToken);
        }
        catch
        {
            await DeleteBytesAsync(upload.UploadId, [bytes.Location]);
            throw;
        }

        if (!recorded.UploadExists)
        {
            await DeleteBytesAsync(upload.UploadId, [bytes.Location]);
            throw S3Exception.NoSuchUpload(); // aborted or completed (maybe on another node) while the part was streaming
        }

        if (recorded.ReplacedLocation is { } replaced)
        {
            await DeleteBytesAsync(upload.UploadId, [replaced]);
        }

        return part;
    }

    public Task<IReadOnlyList<MultipartPart>> ListPartsAsync(MultipartUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        return records.ListPartsAsync(upload.UploadId, cancellationToken);
    }

    public async Task<IReadOnlyList<MultipartUpload>> ListUploadsAsync(string bucket, CancellationToken cancellationToken)
    {
        await EnsureImportedAsync(cancellationToken);
        return await records.ListUploadsAsync(bucket, cancellationToken);
    }

    /// <summary>Opens a part's bytes; NoSuchUpload when they are gone (completed or aborted meanwhile, perhaps on another node).</summary>
    public async Task<Stream> OpenPartAsync(MultipartPart part, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(part);
        try
        {
            return await parts.OpenReadAsync(part.Location, cancellationToken);
        }
        catch (StorageException ex) when (ex.Error == StorageError.NoSuchKey)
        {
            throw S3Exception.NoSuchUpload();
        }
    }

    /// <summary>The parts' bytes one after the other, each opened when the previous one ends (a completed multipart object).</summary>
    public Stream OpenConcatenated(IReadOnlyList<MultipartPart> chosen) => new ConcatenatedStream(chosen.Select(p => (Func<CancellationToken, Task<Stream>>)(ct => OpenPartAsync(p, ct))).ToList());

    /// <summary>Deletes the upload's records, then its part bytes; false when the upload was unknown.</summary>
    public async Task<bool> DeleteAsync(string uploadId, CancellationToken cancellationToken)
    {
        if (!IsId(uploadId) || await records.DeleteUploadAsync(uploadId, cancellationToken) is not { } locations)
        {
            return false;
        }

        await DeleteBytesAsync(uploadId, locations);
        return true;
    }

    /// <summary>
    /// Records the upload as completed with the answer the client got (so a retry on any node gets it too), then
    /// deletes its part bytes. False when another request completed or aborted it first (the object is stored all the same).
    /// </summary>
    public async Task<bool> CompleteAsync(MultipartUpload upload, string etag, MultipartChecksum? checksum, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var now = time.GetUtcNow();
        var completion = new MultipartCompletion(etag, checksum?.Algorithm, checksum?.Value, checksum?.Type, now);
        if (await records.CompleteUploadAsync(upload.UploadId, completion, now - CompletedUploadMemory, cancellationToken) is not { } locations)
        {
            return false;
        }

        await DeleteBytesAsync(upload.UploadId, locations);
        return true;
    }

    /// <summary>The answer of this upload's completion within the last hour, if it was of this bucket and key.</summary>
    public async Task<MultipartCompletion?> CompletedEarlierAsync(string uploadId, string bucket, string key, CancellationToken cancellationToken)
    {
        if (!IsId(uploadId) || await records.GetCompletionAsync(uploadId, cancellationToken) is not { } done)
        {
            return null;
        }

        return done.Upload.Bucket == bucket && done.Upload.Key == key && time.GetUtcNow() - done.Completion.CompletedAt <= CompletedUploadMemory ? done.Completion : null;
    }

    /// <summary>
    /// Best effort and not cancellable: once no record points at the bytes nothing else would ever delete them, so a
    /// client hanging up must not stop it halfway; a failure is logged (the bytes are then orphans under the prefix).
    /// </summary>
    private async Task DeleteBytesAsync(string uploadId, IReadOnlyList<string> locations)
    {
        try
        {
            await parts.DeleteAsync(uploadId, locations, CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Amazon.Runtime.AmazonServiceException or HttpRequestException)
        {
            logger.LogWarning(ex, "Could not delete {Count} part(s) of multipart upload {UploadId}", locations.Count, uploadId);
        }
    }

    /// <summary>Once per process, before the first request: uploads an older LabelLens kept in data/multipart/ join the records.</summary>
    private async Task EnsureImportedAsync(CancellationToken cancellationToken)
    {
        if (_imported)
        {
            return;
        }

        await _importing.WaitAsync(cancellationToken);
        try
        {
            if (!_imported)
            {
                if (parts is FileMultipartPartStore files && await files.ImportLegacyAsync(records, cancellationToken) is > 0 and var count)
                {
                    logger.LogInformation("Imported {Count} multipart upload(s) in progress from data/multipart into the catalog", count);
                }

                _imported = true;
            }
        }
        finally
        {
            _importing.Release();
        }
    }

    public void Dispose() => _importing.Dispose();

    private static bool IsId(string value) => value.Length == 32 && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}

/// <summary>Reads several streams one after the other, as one stream, opening each only when it is reached.</summary>
public sealed class ConcatenatedStream(IReadOnlyList<Func<CancellationToken, Task<Stream>>> sources) : Stream
{
    private int _index;
    private Stream? _current;

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
                if (_index >= sources.Count)
                {
                    return 0;
                }

                _current = await sources[_index++](cancellationToken);
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

    public override async ValueTask DisposeAsync()
    {
        if (_current is not null)
        {
            await _current.DisposeAsync();
            _current = null;
        }

        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
        }

        base.Dispose(disposing);
    }
}
