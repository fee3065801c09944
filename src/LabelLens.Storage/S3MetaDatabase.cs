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

    /// <summary>A connection with the pragmas every user of the file sets: NORMAL sync under WAL, and a 30 s wait for the lock.</summary>
    public static SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;";
        pragma.ExecuteNonQuery();
        return connection;
    }
}
