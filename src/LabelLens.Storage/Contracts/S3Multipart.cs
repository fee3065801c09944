namespace LabelLens.Storage;

/// <summary>A multipart upload in progress: where it will land and what the object will carry.</summary>
public sealed record MultipartUpload(string UploadId, string Bucket, string Key, DateTimeOffset Initiated, string? ContentType, IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>
    /// The row both providers' stores select (upload_id, bucket, key, initiated, content_type, metadata, headers: the
    /// first seven columns, metadata and headers as JSON objects).
    /// </summary>
    public static MultipartUpload Read(System.Data.Common.DbDataReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(
            r.GetString(0),
            r.GetString(1),
            r.GetString(2),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
            r.IsDBNull(4) ? null : r.GetString(4),
            System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(5)) ?? [],
            System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(6)) ?? []);
    }
}

/// <summary>
/// A stored part: number, hex MD5 (its ETag), size, when written, and where its bytes are (a name the
/// <see cref="IMultipartPartStore"/> understands, unique per write so a re-upload never overwrites bytes in use).
/// </summary>
public sealed record MultipartPart(int Number, string ETag, long Size, DateTimeOffset LastModified, string Location);

/// <summary>
/// The answer a completed upload gave (ETag; checksum algorithm, value and type when it has one), kept in the
/// records for a while so that a CompleteMultipartUpload retried after a lost response gets it again, on any node.
/// </summary>
public sealed record MultipartCompletion(string ETag, string? ChecksumAlgorithm, string? ChecksumValue, string? ChecksumType, DateTimeOffset CompletedAt);

/// <summary>What recording a part did: whether the upload still exists, and the bytes the part replaced (to delete).</summary>
public sealed record MultipartPartRecorded(bool UploadExists, string? ReplacedLocation);

/// <summary>
/// Where the S3 endpoint keeps multipart uploads and their part records: beside the embedded catalog (s3meta.db),
/// or in the PostgreSQL catalog, so that any api node of a deployment can continue, list, complete or abort an
/// upload another node created. Only records: the part bytes are in an <see cref="IMultipartPartStore"/>.
/// </summary>
public interface IMultipartStore
{
    /// <summary>Records a new upload; an upload with the same id already recorded is left as it is (an import run twice).</summary>
    Task CreateUploadAsync(MultipartUpload upload, CancellationToken cancellationToken);

    /// <summary>The upload in progress, or null when the id is unknown (never created, completed or aborted).</summary>
    Task<MultipartUpload?> GetUploadAsync(string uploadId, CancellationToken cancellationToken);

    /// <summary>
    /// Records (or replaces: same number) a part of an existing upload. When the upload is gone (aborted or
    /// completed while the part streamed) nothing is recorded and <see cref="MultipartPartRecorded.UploadExists"/>
    /// is false: the caller deletes the bytes it just wrote. Otherwise the replaced part's location, if any and
    /// not the same, is returned for the caller to delete.
    /// </summary>
    Task<MultipartPartRecorded> PutPartAsync(string uploadId, MultipartPart part, CancellationToken cancellationToken);

    /// <summary>The upload's parts by number (empty when the upload is unknown).</summary>
    Task<IReadOnlyList<MultipartPart>> ListPartsAsync(string uploadId, CancellationToken cancellationToken);

    /// <summary>The bucket's uploads in progress, by key (bytewise), then by initiation time.</summary>
    Task<IReadOnlyList<MultipartUpload>> ListUploadsAsync(string bucket, CancellationToken cancellationToken);

    /// <summary>Deletes the upload and its part records; the part locations (for the caller to delete), or null when the upload was unknown.</summary>
    Task<IReadOnlyList<string>?> DeleteUploadAsync(string uploadId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks the upload completed with <paramref name="completion"/> (from then on it is no upload in progress: not
    /// listed, takes no part, cannot be aborted) and deletes its part records; the part locations (for the caller to
    /// delete), or null when the upload was unknown or completed already. Completions older than
    /// <paramref name="forgetBefore"/> are forgotten on the way.
    /// </summary>
    Task<IReadOnlyList<string>?> CompleteUploadAsync(string uploadId, MultipartCompletion completion, DateTimeOffset forgetBefore, CancellationToken cancellationToken);

    /// <summary>The completed upload (its bucket, key and answer), or null when the id is unknown, in progress or forgotten.</summary>
    Task<(MultipartUpload Upload, MultipartCompletion Completion)?> GetCompletionAsync(string uploadId, CancellationToken cancellationToken);
}

/// <summary>What writing a part's bytes produced: where they are, their hex MD5 and their size.</summary>
public sealed record MultipartPartBytes(string Location, string ETag, long Size);

/// <summary>
/// Where part bytes live until CompleteMultipartUpload or AbortMultipartUpload: files under data/multipart/
/// (one node), or objects under a reserved prefix of the shared S3 bucket (every api node reads them).
/// Bytes are streamed in and out, never held whole in memory.
/// </summary>
public interface IMultipartPartStore
{
    /// <summary>Streams the part to a new location (never one in use), hashing it on the way.</summary>
    Task<MultipartPartBytes> WriteAsync(string uploadId, int number, Stream content, CancellationToken cancellationToken);

    /// <summary>Opens the part for sequential reading.</summary>
    /// <exception cref="StorageException">NoSuchKey when the bytes are gone (the upload was aborted or completed meanwhile).</exception>
    Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken);

    /// <summary>Deletes the part's bytes (missing ones are fine); <paramref name="uploadId"/> lets a store tidy the upload's folder.</summary>
    Task DeleteAsync(string uploadId, IReadOnlyList<string> locations, CancellationToken cancellationToken);
}
