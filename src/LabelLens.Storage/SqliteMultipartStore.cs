using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>
/// The S3 endpoint's multipart uploads and part records for the embedded catalog, in the S3 endpoint's sidecar
/// database (data/s3meta.db, beside the S3 object metadata), not in catalog.db: they are S3-only state of one node
/// (the part bytes are files in data/multipart/ anyway), so the catalog's schema, its single writer and
/// `catalog migrate` stay as they are. Times are Unix milliseconds.
/// </summary>
public sealed class SqliteMultipartStore : IMultipartStore
{
    private const string UploadColumns = "upload_id, bucket, key, initiated, content_type, metadata, headers";
    private readonly string _connectionString;

    public SqliteMultipartStore(string dataFolder)
    {
        Directory.CreateDirectory(dataFolder);
        _connectionString = S3MetaDatabase.ConnectionString(dataFolder);
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS multipart_uploads (
                upload_id    TEXT PRIMARY KEY,
                bucket       TEXT NOT NULL,
                key          TEXT NOT NULL,
                initiated    INTEGER NOT NULL,
                content_type TEXT,
                metadata     TEXT NOT NULL,
                headers      TEXT NOT NULL,
                completed_at       INTEGER,
                completed_etag     TEXT,
                checksum_algorithm TEXT,
                checksum_value     TEXT,
                checksum_type      TEXT
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS multipart_uploads_by_key ON multipart_uploads (bucket, key, initiated) WHERE completed_at IS NULL;
            CREATE INDEX IF NOT EXISTS multipart_uploads_completed ON multipart_uploads (completed_at) WHERE completed_at IS NOT NULL;
            CREATE TABLE IF NOT EXISTS multipart_parts (
                upload_id     TEXT NOT NULL,
                number        INTEGER NOT NULL,
                etag          TEXT NOT NULL,
                size          INTEGER NOT NULL,
                last_modified INTEGER NOT NULL,
                location      TEXT NOT NULL,
                PRIMARY KEY (upload_id, number)
            ) WITHOUT ROWID;
            """;
        command.ExecuteNonQuery();
    }

    public async Task CreateUploadAsync(MultipartUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO multipart_uploads ({UploadColumns}) VALUES ($id, $b, $k, $t, $ct, $m, $h) ON CONFLICT (upload_id) DO NOTHING";
        command.Parameters.AddWithValue("$id", upload.UploadId);
        command.Parameters.AddWithValue("$b", upload.Bucket);
        command.Parameters.AddWithValue("$k", upload.Key);
        command.Parameters.AddWithValue("$t", upload.Initiated.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$ct", (object?)upload.ContentType ?? DBNull.Value);
        command.Parameters.AddWithValue("$m", JsonSerializer.Serialize(upload.Metadata));
        command.Parameters.AddWithValue("$h", JsonSerializer.Serialize(upload.Headers));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<MultipartUpload?> GetUploadAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {UploadColumns} FROM multipart_uploads WHERE upload_id = $id AND completed_at IS NULL";
        command.Parameters.AddWithValue("$id", uploadId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? MultipartUpload.Read(reader) : null;
    }

    public async Task<MultipartPartRecorded> PutPartAsync(string uploadId, MultipartPart part, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(part);
        await using var connection = Open();
        // IMMEDIATE: the write lock from the start, so the upload's existence, the replaced location and the new row
        // are one step (a concurrent abort or a re-upload of the same number waits, and no location is lost).
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var exists = connection.CreateCommand())
        {
            exists.Transaction = transaction;
            exists.CommandText = "SELECT 1 FROM multipart_uploads WHERE upload_id = $id AND completed_at IS NULL";
            exists.Parameters.AddWithValue("$id", uploadId);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                return new MultipartPartRecorded(false, null);
            }
        }

        string? replaced;
        await using (var old = connection.CreateCommand())
        {
            old.Transaction = transaction;
            old.CommandText = "SELECT location FROM multipart_parts WHERE upload_id = $id AND number = $n";
            old.Parameters.AddWithValue("$id", uploadId);
            old.Parameters.AddWithValue("$n", part.Number);
            replaced = await old.ExecuteScalarAsync(cancellationToken) as string;
        }

        await using (var write = connection.CreateCommand())
        {
            write.Transaction = transaction;
            write.CommandText = """
                INSERT INTO multipart_parts (upload_id, number, etag, size, last_modified, location) VALUES ($id, $n, $e, $s, $t, $l)
                ON CONFLICT (upload_id, number) DO UPDATE SET etag = excluded.etag, size = excluded.size, last_modified = excluded.last_modified, location = excluded.location
                """;
            write.Parameters.AddWithValue("$id", uploadId);
            write.Parameters.AddWithValue("$n", part.Number);
            write.Parameters.AddWithValue("$e", part.ETag);
            write.Parameters.AddWithValue("$s", part.Size);
            write.Parameters.AddWithValue("$t", part.LastModified.ToUnixTimeMilliseconds());
            write.Parameters.AddWithValue("$l", part.Location);
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new MultipartPartRecorded(true, replaced == part.Location ? null : replaced);
    }

    public async Task<IReadOnlyList<MultipartPart>> ListPartsAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT number, etag, size, last_modified, location FROM multipart_parts WHERE upload_id = $id ORDER BY number";
        command.Parameters.AddWithValue("$id", uploadId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var parts = new List<MultipartPart>();
        while (await reader.ReadAsync(cancellationToken))
        {
            parts.Add(new MultipartPart(reader.GetInt32(0), reader.GetString(1), reader.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.GetString(4)));
        }

        return parts;
    }

    public async Task<IReadOnlyList<MultipartUpload>> ListUploadsAsync(string bucket, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        // SQLite compares TEXT bytewise (BINARY), as S3 orders keys.
        command.CommandText = $"SELECT {UploadColumns} FROM multipart_uploads WHERE bucket = $b AND completed_at IS NULL ORDER BY key, initiated, upload_id";
        command.Parameters.AddWithValue("$b", bucket);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var uploads = new List<MultipartUpload>();
        while (await reader.ReadAsync(cancellationToken))
        {
            uploads.Add(MultipartUpload.Read(reader));
        }

        return uploads;
    }

    public async Task<IReadOnlyList<string>?> DeleteUploadAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$id", uploadId);
        command.CommandText = "DELETE FROM multipart_uploads WHERE upload_id = $id AND completed_at IS NULL";
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            return null;
        }

        var locations = await TakePartsAsync(command, cancellationToken);

        await transaction.CommitAsync(cancellationToken);
        return locations;
    }

    public async Task<IReadOnlyList<string>?> CompleteUploadAsync(string uploadId, MultipartCompletion completion, DateTimeOffset forgetBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(completion);
        await using var connection = Open();
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$id", uploadId);
        command.Parameters.AddWithValue("$t", completion.CompletedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$e", completion.ETag);
        command.Parameters.AddWithValue("$ca", (object?)completion.ChecksumAlgorithm ?? DBNull.Value);
        command.Parameters.AddWithValue("$cv", (object?)completion.ChecksumValue ?? DBNull.Value);
        command.Parameters.AddWithValue("$ct", (object?)completion.ChecksumType ?? DBNull.Value);
        command.Parameters.AddWithValue("$before", forgetBefore.ToUnixTimeMilliseconds());
        command.CommandText = """
            UPDATE multipart_uploads SET completed_at = $t, completed_etag = $e, checksum_algorithm = $ca, checksum_value = $cv, checksum_type = $ct
            WHERE upload_id = $id AND completed_at IS NULL
            """;
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            return null;
        }

        var locations = await TakePartsAsync(command, cancellationToken);

        command.CommandText = "DELETE FROM multipart_uploads WHERE completed_at < $before";
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return locations;
    }

    public async Task<(MultipartUpload Upload, MultipartCompletion Completion)?> GetCompletionAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {UploadColumns}, completed_etag, checksum_algorithm, checksum_value, checksum_type, completed_at FROM multipart_uploads WHERE upload_id = $id AND completed_at IS NOT NULL";
        command.Parameters.AddWithValue("$id", uploadId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return (MultipartUpload.Read(reader), new MultipartCompletion(
            reader.GetString(7),
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.IsDBNull(9) ? null : reader.GetString(9),
            reader.IsDBNull(10) ? null : reader.GetString(10),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(11))));
    }

    private SqliteConnection Open() => S3MetaDatabase.Open(_connectionString);

    /// <summary>Deletes the upload's part records (command parameter $id) and returns where their bytes are, to remove.</summary>
    private static async Task<List<string>> TakePartsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        command.CommandText = "DELETE FROM multipart_parts WHERE upload_id = $id RETURNING location";
        var locations = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            locations.Add(reader.GetString(0));
        }

        return locations;
    }
}
