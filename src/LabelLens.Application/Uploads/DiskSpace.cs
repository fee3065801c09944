using LabelLens.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Whether the data folder's disk can take more. Uploads are refused while free space is under
/// Server:MinFreeDiskBytes, which leaves that much for what must still work on a nearly full disk: deletes,
/// labeling results and the catalog's journal. A write that fails with "no space left" anyway (something else
/// filled the disk) marks the disk full until a test write succeeds again; /readyz reports both.
/// </summary>
public sealed class DiskSpace(string dataFolder, IOptions<UploadOptions> options, TimeProvider time, ILogger<DiskSpace> logger)
{
    /// <summary>A test write after a failure is tried at most this often, however often /readyz is asked.</summary>
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _probe = new();
    private bool _writeFailed;
    private long _probedAt = long.MinValue;

    public string DataFolder { get; } = Path.GetFullPath(dataFolder);

    /// <summary>Bytes this process may still write on the data folder's filesystem.</summary>
    public long FreeBytes => new DriveInfo(DataFolder).AvailableFreeSpace;

    /// <summary>Refuses an upload before its body is read when the disk is under the threshold or known to be full.</summary>
    /// <exception cref="StorageException">With <see cref="StorageError.DiskFull"/>.</exception>
    public void EnsureRoomForUpload()
    {
        if (NotReadyReason() is { } reason)
        {
            throw new StorageException(StorageError.DiskFull, $"The server's disk is full: {reason}. Nothing was written; free some space there (or delete objects) and retry.");
        }
    }

    /// <summary>A write failed with "no space left on device" (or the catalog's "database or disk is full").</summary>
    public void WriteFailed(Exception cause)
    {
        if (DiskFull.OnCatalogServer(cause) is { } database)
        {
            // Another machine's disk (the catalog's PostgreSQL server): this data folder is fine, so it is not marked
            // full (a test write here would only clear it again); the refusals say where space is missing.
            logger.LogError("The catalog database server's disk is full: {Error}. Writes to the catalog fail until space is freed there", database.Message);
            return;
        }

        lock (_probe)
        {
            if (!_writeFailed)
            {
                logger.LogError("The disk of {Folder} is full: {Error}. Uploads are refused and /readyz says not ready until space is free again", DataFolder, cause.Message);
            }

            _writeFailed = true;
            _probedAt = time.GetTimestamp();
        }
    }

    /// <summary>Why the disk cannot take uploads now, or null when it can.</summary>
    public string? NotReadyReason()
    {
        var free = FreeBytes;
        var minimum = options.Value.MinFreeDiskBytes;
        if (free < minimum)
        {
            return $"{free:N0} bytes free in {DataFolder}, under the {minimum:N0} bytes kept free (Server:MinFreeDiskBytes)";
        }

        lock (_probe)
        {
            if (!_writeFailed)
            {
                return null;
            }

            if (time.GetElapsedTime(_probedAt) >= ProbeInterval)
            {
                _probedAt = time.GetTimestamp();
                if (TestWrite())
                {
                    _writeFailed = false;
                    logger.LogInformation("The disk of {Folder} takes writes again ({Free:N0} bytes free)", DataFolder, free);
                    return null;
                }
            }

            return $"a write in {DataFolder} failed with 'no space left on device'";
        }
    }

    /// <summary>Writes and removes 1 MiB: true when the disk took it.</summary>
    private bool TestWrite()
    {
        var probe = Path.Combine(DataFolder, "tmp", $"space-probe-{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(probe, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(new byte[1 << 20]);
                file.Flush(flushToDisk: true);
            }

            return true;
        }
        catch (IOException ex) when (DiskFull.Is(ex))
        {
            return false;
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
