using System.Diagnostics;

namespace LabelLens.Tests;

/// <summary>
/// Temporary folders that live as long as the test run (made videos and text cards, the PostgreSQL server's data).
/// Their names carry the test process's id. Deleting them when the process exits is not enough: the test host is
/// often ended before its exit handlers finish, and a run cut short never gets there, so each run also removes the
/// folders of runs whose process is gone (350 MB of PostgreSQL data each otherwise piles up in /tmp).
/// </summary>
public static class RunFolders
{
    /// <summary>A new folder <c>{prefix}{pid}-{random}</c> in the temporary folder, after sweeping dead runs' ones.</summary>
    public static string Create(string prefix, Action<string>? beforeDelete = null)
    {
        SweepDeadRuns(prefix, beforeDelete);
        var folder = Directory.CreateTempSubdirectory($"{prefix}{Environment.ProcessId}-").FullName;
        if (beforeDelete is null)
        {
            // A folder with something running in it (a server) is removed by its owner after stopping it.
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(folder);
        }

        return folder;
    }

    /// <summary>Removes <c>{prefix}{pid}-*</c> folders whose process no longer runs (beforeDelete first, e.g. stop a server).</summary>
    public static void SweepDeadRuns(string prefix, Action<string>? beforeDelete = null)
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var rest = Path.GetFileName(folder)[prefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(rest[..dash], out var pid) || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            beforeDelete?.Invoke(folder);
            TryDelete(folder);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Another run sweeping at the same moment, or a file still open: the next run tries again.
        }
    }
}
