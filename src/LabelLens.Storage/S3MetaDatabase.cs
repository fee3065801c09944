using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>
/// The embedded catalog's companion database for the S3 endpoint (data/s3meta.db): object metadata and multipart
/// uploads. Its own file, so a busy S3 endpoint never queues behind the catalog's writers.
/// </summary>
public static class S3MetaDatabase
{
    public static string ConnectionString(string dataFolder) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.Combine(dataFolder, "s3meta.db"),
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();
}
