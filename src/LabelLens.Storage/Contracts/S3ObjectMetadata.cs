namespace LabelLens.Storage;

/// <summary>What S3 keeps about an object beyond the catalog: user metadata (x-amz-meta-*), a few stored
/// headers, and the multipart ETag. Valid only for the bytes it was written with (its SHA-256).</summary>
public sealed record S3ObjectMeta(string Sha256, string? ETag, IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// Where the S3 endpoint keeps <see cref="S3ObjectMeta"/>: beside the embedded catalog (s3meta.db), or in the
/// PostgreSQL catalog, so that every api node of a deployment answers HEAD and GET with the same metadata.
/// A row whose SHA-256 differs from the catalog's (the object was replaced through the REST API) is ignored.
/// </summary>
public interface IS3MetadataStore
{
    Task SetAsync(string bucket, string key, S3ObjectMeta meta, CancellationToken cancellationToken);

    /// <summary>The metadata of the object if it was written for these bytes.</summary>
    Task<S3ObjectMeta?> GetAsync(string bucket, string key, string sha256, CancellationToken cancellationToken);

    /// <summary>The rows of several keys of a bucket (for listings; <paramref name="keys"/> in key order); the caller checks each row's SHA-256.</summary>
    Task<Dictionary<string, S3ObjectMeta>> GetManyAsync(string bucket, IReadOnlyList<string> keys, CancellationToken cancellationToken);

    Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken);
}
