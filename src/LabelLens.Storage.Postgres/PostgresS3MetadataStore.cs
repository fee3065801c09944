using System.Text.Json;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>The S3 endpoint's object metadata in the PostgreSQL catalog (table s3_object_meta): the same on every api node.</summary>
public sealed class PostgresS3MetadataStore(PostgresCatalog catalog) : IS3MetadataStore
{
    public async Task SetAsync(string bucket, string key, S3ObjectMeta meta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(meta);
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await PostgresCatalog.ExecuteAsync(
            connection,
            null,
            """
            INSERT INTO s3_object_meta (bucket, key, sha256, etag, metadata, headers) VALUES (@b, @k, @s, @e, @m, @h)
            ON CONFLICT (bucket, key) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag, metadata = excluded.metadata, headers = excluded.headers
            """,
            cancellationToken,
            ("b", bucket), ("k", key), ("s", meta.Sha256), ("e", meta.ETag), ("m", JsonSerializer.Serialize(meta.Metadata)), ("h", JsonSerializer.Serialize(meta.Headers)));
    }

    public async Task<S3ObjectMeta?> GetAsync(string bucket, string key, string sha256, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(bucket, [key], cancellationToken);
        return rows.TryGetValue(key, out var meta) && meta.Sha256 == sha256 ? meta : null;
    }

    public Task<Dictionary<string, S3ObjectMeta>> GetManyAsync(string bucket, IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        ReadAsync(bucket, keys, cancellationToken);

    public async Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await PostgresCatalog.ExecuteAsync(connection, null, "DELETE FROM s3_object_meta WHERE bucket = @b AND key = @k", cancellationToken, ("b", bucket), ("k", key));
    }

    private async Task<Dictionary<string, S3ObjectMeta>> ReadAsync(string bucket, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            return new Dictionary<string, S3ObjectMeta>(StringComparer.Ordinal);
        }

        await using var connection = await catalog.OpenAsync(cancellationToken);
        var rows = await PostgresCatalog.QueryAsync(
            connection,
            null,
            "SELECT key, sha256, etag, metadata, headers FROM s3_object_meta WHERE bucket = @b AND key = ANY(@keys)",
            r => (Key: r.GetString(0), Meta: new S3ObjectMeta(
                r.GetString(1),
                r.IsDBNull(2) ? null : r.GetString(2),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(3)) ?? [],
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4)) ?? [])),
            cancellationToken,
            ("b", bucket), ("keys", keys.ToArray()));
        return rows.ToDictionary(r => r.Key, r => r.Meta, StringComparer.Ordinal);
    }
}
