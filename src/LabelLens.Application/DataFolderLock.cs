namespace LabelLens.Application;

/// <summary>
/// One server per data folder: an exclusive lock on data/serve.lock, held for the process's life. It is
/// what lets a new server take back the jobs of a dead one at once instead of waiting out their leases.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    /// <summary>What .NET reports when the lock is held by another process: Windows' sharing violation, or on Linux flock's EWOULDBLOCK (11) as the raw errno.</summary>
    private const int SharingViolation = unchecked((int)0x80070020);

    private const int WouldBlock = 11;

    private readonly FileStream? _lock;

    /// <param name="shared">
    /// The catalog is shared by several processes (PostgreSQL): they may share this folder too, so no process owns
    /// it; nothing is locked and nothing in tmp is removed (it may be another live process's upload).
    /// </param>
    public DataFolderLock(string dataFolder, bool shared = false)
    {
        Directory.CreateDirectory(dataFolder);
        if (shared)
        {
            return;
        }

        var path = Path.Combine(dataFolder, "serve.lock");
        try
        {
            _lock = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex.HResult is SharingViolation or WouldBlock)
        {
            throw new InvalidOperationException($"Another LabelLens server is using {dataFolder} ({path} is locked).", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only or foreign-owned folder is not "another server": say what it is.
            throw new InvalidOperationException($"The data folder {dataFolder} cannot be written ({ex.Message}); serve needs a writable data folder (--data DIR).", ex);
        }

        DebrisRemoved = RemoveDebris(dataFolder);
    }

    /// <summary>Files a crashed server left in data/tmp (uploads that never got an answer), removed at start.</summary>
    public int DebrisRemoved { get; }

    /// <summary>This process alone serves the folder (the embedded catalog); false when the catalog is shared.</summary>
    public bool Exclusive => _lock is not null;

    public void Dispose() => _lock?.Dispose();

    /// <summary>
    /// True while a server holds <paramref name="dataFolder"/>'s serve.lock. Checked by taking the lock for a moment
    /// (a lock file left by a dead server does not count: the kernel released its lock with the process).
    /// </summary>
    public static bool IsHeld(string dataFolder)
    {
        try
        {
            using var probe = new FileStream(Path.Combine(dataFolder, "serve.lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException ex) when (ex.HResult is SharingViolation or WouldBlock)
        {
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // no lock file (no server ever ran here), or not ours to open
        }
    }

    /// <summary>What the server on this folder runs with, for the CLI beside it (relabel finds its models there).</summary>
    public sealed record ServeInfo(int ProcessId, string ModelsFolder, DateTimeOffset Started);

    private const string InfoFileName = "serve.json";

    /// <summary>Writes data/serve.json (kept after the server stops: the folder's models are still the ones it used).</summary>
    public static void Describe(string dataFolder, ServeInfo info)
    {
        var path = Path.Combine(dataFolder, InfoFileName);
        File.WriteAllText(path + ".tmp", System.Text.Json.JsonSerializer.Serialize(info));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The last server's data/serve.json, or null when no server wrote one (or it cannot be read).</summary>
    public static ServeInfo? ReadInfo(string dataFolder)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<ServeInfo>(File.ReadAllText(Path.Combine(dataFolder, InfoFileName)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// With the lock held no other server writes here, and this one has not started: what is in tmp is what a
    /// crash left behind (a half-received upload never reached objects/, its client got no 2xx). Files touched in
    /// the last minute are left alone, for a CLI command's temporary copy.
    /// </summary>
    private static int RemoveDebris(string dataFolder)
    {
        var temp = Path.Combine(dataFolder, "tmp");
        if (!Directory.Exists(temp))
        {
            return 0;
        }

        var removed = 0;
        foreach (var file in new DirectoryInfo(temp).EnumerateFiles())
        {
            if (DateTime.UtcNow - file.LastWriteTimeUtc > TimeSpan.FromMinutes(1))
            {
                try
                {
                    file.Delete();
                    removed++;
                }
                catch (IOException)
                {
                    // In use after all: it stays for the next start.
                }
            }
        }

        return removed;
    }
}
