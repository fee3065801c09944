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

            // PostgreSQL's disk_full (the catalog's server is out of space): SQLSTATE 53100, whatever the provider.
            if (ex is System.Data.Common.DbException { SqlState: "53100" })
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

    /// <summary>The refusal a client gets: what happened, that nothing was written, and what to do.</summary>
    public static StorageException Refusal(string dataFolder, Exception? cause = null)
    {
        var message = $"The server's disk is full (data folder {dataFolder}): nothing was written. Free some space there (or delete objects) and retry.";
        return cause is null ? new StorageException(StorageError.DiskFull, message) : new StorageException(StorageError.DiskFull, message, cause);
    }
}
