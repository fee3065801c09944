using System.Text.Json;
using LabelLens.Storage;
using Microsoft.Data.Sqlite;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// A small sidecar database (data/s3meta.db) beside the catalog. A row whose SHA-256 differs from the
/// catalog's (the object was replaced through the REST API) is ignored.
/// </summary>
public sealed class S3MetadataStore : IS3MetadataStore
{
    private readonly string _connectionString;

    public S3MetadataStore(string dataFolder)
    {
        Directory.CreateDirectory(dataFolder);
        _connectionString = S3MetaDatabase.ConnectionString(dataFolder);
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS object_meta (
                bucket   TEXT NOT NULL,
                key      TEXT NOT NULL,
                sha256   TEXT NOT NULL,
                etag     TEXT,
                metadata TEXT NOT NULL,
                headers  TEXT NOT NULL,
                PRIMARY KEY (bucket, key)
            ) WITHOUT ROWID;
            """;
        command.ExecuteNonQuery();
    }

    public async Task SetAsync(string bucket, string key, S3ObjectMeta meta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(meta);
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO object_meta (bucket, key, sha256, etag, metadata, headers) VALUES ($b, $k, $s, $e, $m, $h)
            ON CONFLICT (bucket, key) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag, metadata = excluded.metadata, headers = excluded.headers
            """;
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$s", meta.Sha256);
        command.Parameters.AddWithValue("$e", (object?)meta.ETag ?? DBNull.Value);
        command.Parameters.AddWithValue("$m", JsonSerializer.Serialize(meta.Metadata));
        command.Parameters.AddWithValue("$h", JsonSerializer.Serialize(meta.Headers));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The metadata of the object if it was written for these bytes.</summary>
    public async Task<S3ObjectMeta?> GetAsync(string bucket, string key, string sha256, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT sha256, etag, metadata, headers FROM object_meta WHERE bucket = $b AND key = $k";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken) || reader.GetString(0) != sha256)
        {
            return null;
        }

        return new S3ObjectMeta(
            reader.GetString(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2)) ?? [],
            JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(3)) ?? []);
    }

    /// <summary>The rows of several keys of a bucket (for listings); the caller checks each row's SHA-256.</summary>
    public async Task<Dictionary<string, S3ObjectMeta>> GetManyAsync(string bucket, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var result = new Dictionary<string, S3ObjectMeta>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return result;
        }

        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, sha256, etag, metadata, headers FROM object_meta WHERE bucket = $b AND key >= $first AND key <= $last";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$first", keys[0]);
        command.Parameters.AddWithValue("$last", keys[^1]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var wanted = keys.ToHashSet(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = reader.GetString(0);
            if (wanted.Contains(key))
            {
                result[key] = new S3ObjectMeta(
                    reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(3)) ?? [],
                    JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4)) ?? []);
            }
        }

        return result;
    }

    public async Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM object_meta WHERE bucket = $b AND key = $k";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private SqliteConnection Open() => S3MetaDatabase.Open(_connectionString);
}
