using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>Recognises "no space left on device" however it surfaces: a file write, or the catalog's SQLite.</summary>
public static class DiskFull
{
    /// <summary>ENOSPC and EDQUOT (Linux errno, which .NET keeps as the HResult), ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL (Windows).</summary>
    private static readonly int[] DiskFullHResults = [28, 122, unchecked((int)0x80070070), unchecked((int)0x80070027)];

    /// <summary>SQLITE_FULL: "database or disk is full".</summary>
    private const int SqliteFull = 13;

    /// <summary>True when <paramref name="exception"/> or one it wraps says the disk is full.</summary>
    public static bool Is(Exception? exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is IOException io && DiskFullHResults.Contains(io.HResult))
            {
                return true;
            }

            if (ex is SqliteException { SqliteErrorCode: SqliteFull })
            {
                return true;
            }

            if (OnCatalogServer(ex) is not null)
            {
                return true;
            }

            if (ex is StorageException { Error: StorageError.DiskFull })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The database server's own error when it is the catalog's server (PostgreSQL) that is out of space, not this
    /// machine's disk; null otherwise. The two need different remedies, so the messages tell them apart.
    /// </summary>
    public static System.Data.Common.DbException? OnCatalogServer(Exception? exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            // PostgreSQL's disk_full (e.g. "could not extend file ...: No space left on device"): SQLSTATE 53100,
            // whatever the provider.
            if (ex is System.Data.Common.DbException { SqlState: "53100" } db)
            {
                return db;
            }
        }

        return null;
    }

    /// <summary>The refusal a client gets: what happened, that nothing was written, and what to do.</summary>
    public static StorageException Refusal(string dataFolder, Exception? cause = null)
    {
        var message = OnCatalogServer(cause) is { } database
            ? $"The catalog database server's disk is full ({database.Message}): nothing was written. Free some space on the database server and retry."
            : $"The server's disk is full (data folder {dataFolder}): nothing was written. Free some space there (or delete objects) and retry.";
        return cause is null ? new StorageException(StorageError.DiskFull, message) : new StorageException(StorageError.DiskFull, message, cause);
    }
}
