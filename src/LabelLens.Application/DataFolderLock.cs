namespace LabelLens.Application;

/// <summary>
/// One server per data folder: an exclusive lock on data/serve.lock, held for the process's life. It is
/// what lets a new server take back the jobs of a dead one at once instead of waiting out their leases.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    private readonly FileStream _lock;

    public DataFolderLock(string dataFolder)
    {
        Directory.CreateDirectory(dataFolder);
        var path = Path.Combine(dataFolder, "serve.lock");
        try
        {
            _lock = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Another LabelLens server is using {dataFolder} ({path} is locked).", ex);
        }
    }

    public void Dispose() => _lock.Dispose();
}
