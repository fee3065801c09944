using System.Text.Json;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// The S3 endpoint's multipart uploads and part records in the PostgreSQL catalog (tables s3_multipart_uploads and
/// s3_multipart_parts): every api node sees every upload. Times are Unix milliseconds, as everywhere in this schema.
/// </summary>
public sealed class PostgresMultipartStore(PostgresCatalog catalog) : IMultipartStore
{
    private const string UploadColumns = "upload_id, bucket, key, initiated, content_type, metadata, headers";

    public async Task CreateUploadAsync(MultipartUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await PostgresCatalog.ExecuteAsync(
            connection,
            null,
            $"INSERT INTO s3_multipart_uploads ({UploadColumns}) VALUES (@id, @b, @k, @t, @ct, @m, @h) ON CONFLICT (upload_id) DO NOTHING",
            cancellationToken,
            ("id", upload.UploadId), ("b", upload.Bucket), ("k", upload.Key), ("t", upload.Initiated.ToUnixTimeMilliseconds()), ("ct", upload.ContentType),
            ("m", JsonSerializer.Serialize(upload.Metadata)), ("h", JsonSerializer.Serialize(upload.Headers)));
    }

    public async Task<MultipartUpload?> GetUploadAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        var rows = await PostgresCatalog.QueryAsync(connection, null, $"SELECT {UploadColumns} FROM s3_multipart_uploads WHERE upload_id = @id AND completed_at IS NULL", MultipartUpload.Read, cancellationToken, ("id", uploadId));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<MultipartPartRecorded> PutPartAsync(string uploadId, MultipartPart part, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(part);
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The upload's row locked first: writers of the same upload's parts take turns (so a replaced part's location
        // is always seen, never lost to a concurrent insert of the same number), and an abort waits for this one.
        // NO KEY UPDATE does not block the foreign key checks of other parts' rows.
        if (await PostgresCatalog.ScalarAsync(connection, transaction, "SELECT 1 FROM s3_multipart_uploads WHERE upload_id = @id AND completed_at IS NULL FOR NO KEY UPDATE", cancellationToken, ("id", uploadId)) is null)
        {
            return new MultipartPartRecorded(false, null);
        }

        var replaced = await PostgresCatalog.ScalarAsync(connection, transaction, "SELECT location FROM s3_multipart_parts WHERE upload_id = @id AND number = @n", cancellationToken, ("id", uploadId), ("n", part.Number)) as string;
        await PostgresCatalog.ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO s3_multipart_parts (upload_id, number, etag, size, last_modified, location) VALUES (@id, @n, @e, @s, @t, @l)
            ON CONFLICT (upload_id, number) DO UPDATE SET etag = excluded.etag, size = excluded.size, last_modified = excluded.last_modified, location = excluded.location
            """,
            cancellationToken,
            ("id", uploadId), ("n", part.Number), ("e", part.ETag), ("s", part.Size), ("t", part.LastModified.ToUnixTimeMilliseconds()), ("l", part.Location));
        await transaction.CommitAsync(cancellationToken);
        return new MultipartPartRecorded(true, replaced == part.Location ? null : replaced);
    }

    public async Task<IReadOnlyList<MultipartPart>> ListPartsAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        return await PostgresCatalog.QueryAsync(
            connection,
            null,
            "SELECT number, etag, size, last_modified, location FROM s3_multipart_parts WHERE upload_id = @id ORDER BY number",
            r => new MultipartPart(r.GetInt32(0), r.GetString(1), r.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetString(4)),
            cancellationToken,
            ("id", uploadId));
    }

    public async Task<IReadOnlyList<MultipartUpload>> ListUploadsAsync(string bucket, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        return await PostgresCatalog.QueryAsync(
            connection,
            null,
            $"SELECT {UploadColumns} FROM s3_multipart_uploads WHERE bucket = @b AND completed_at IS NULL ORDER BY key, initiated, upload_id",
            MultipartUpload.Read,
            cancellationToken,
            ("b", bucket));
    }

    public async Task<IReadOnlyList<string>?> DeleteUploadAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Locked as a part write locks it: a part being recorded finishes first, so its location is in the list.
        if (await PostgresCatalog.ScalarAsync(connection, transaction, "SELECT 1 FROM s3_multipart_uploads WHERE upload_id = @id AND completed_at IS NULL FOR UPDATE", cancellationToken, ("id", uploadId)) is null)
        {
            return null;
        }

        var locations = await PostgresCatalog.QueryAsync(connection, transaction, "DELETE FROM s3_multipart_parts WHERE upload_id = @id RETURNING location", r => r.GetString(0), cancellationToken, ("id", uploadId));
        await PostgresCatalog.ExecuteAsync(connection, transaction, "DELETE FROM s3_multipart_uploads WHERE upload_id = @id", cancellationToken, ("id", uploadId));
        await transaction.CommitAsync(cancellationToken);
        return locations;
    }

    public async Task<IReadOnlyList<string>?> CompleteUploadAsync(string uploadId, MultipartCompletion completion, DateTimeOffset forgetBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(completion);
        await using var connection = await catalog.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Locked as for an abort: a part being recorded finishes first (its location is in the list), and of two
        // nodes completing the same upload at once only the first marks it.
        if (await PostgresCatalog.ScalarAsync(connection, transaction, "SELECT 1 FROM s3_multipart_uploads WHERE upload_id = @id AND completed_at IS NULL FOR UPDATE", cancellationToken, ("id", uploadId)) is null)
        {
            return null;
        }

        var locations = await PostgresCatalog.QueryAsync(connection, transaction, "DELETE FROM s3_multipart_parts WHERE upload_id = @id RETURNING location", r => r.GetString(0), cancellationToken, ("id", uploadId));
        await PostgresCatalog.ExecuteAsync(
            connection,
            transaction,
            "UPDATE s3_multipart_uploads SET completed_at = @t, completed_etag = @e, checksum_algorithm = @ca, checksum_value = @cv, checksum_type = @ct WHERE upload_id = @id",
            cancellationToken,
            ("id", uploadId), ("t", completion.CompletedAt.ToUnixTimeMilliseconds()), ("e", completion.ETag), ("ca", completion.ChecksumAlgorithm), ("cv", completion.ChecksumValue), ("ct", completion.ChecksumType));
        await PostgresCatalog.ExecuteAsync(connection, transaction, "DELETE FROM s3_multipart_uploads WHERE completed_at < @before", cancellationToken, ("before", forgetBefore.ToUnixTimeMilliseconds()));
        await transaction.CommitAsync(cancellationToken);
        return locations;
    }

    public async Task<(MultipartUpload Upload, MultipartCompletion Completion)?> GetCompletionAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await catalog.OpenAsync(cancellationToken);
        var rows = await PostgresCatalog.QueryAsync(
            connection,
            null,
            $"SELECT {UploadColumns}, completed_etag, checksum_algorithm, checksum_value, checksum_type, completed_at FROM s3_multipart_uploads WHERE upload_id = @id AND completed_at IS NOT NULL",
            r => (MultipartUpload.Read(r), new MultipartCompletion(
                r.GetString(7),
                r.IsDBNull(8) ? null : r.GetString(8),
                r.IsDBNull(9) ? null : r.GetString(9),
                r.IsDBNull(10) ? null : r.GetString(10),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(11)))),
            cancellationToken,
            ("id", uploadId));
        return rows.Count == 0 ? null : rows[0];
    }
}
