namespace LabelLens.Bench;

/// <summary>Where the benchmarks find the repository, the model and the sample photos by default.</summary>
public static class BenchPaths
{
    /// <summary>The folder holding LabelLens.slnx, found from the binary's location so the defaults work from any directory.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>$LABELLENS_MODELS, else ../shared/models beside the repository.</summary>
    public static string DefaultModels =>
        Environment.GetEnvironmentVariable("LABELLENS_MODELS") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models"));

    /// <summary>../shared/images beside the repository.</summary>
    public static string DefaultImages => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "images"));

    private static string FindRepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "LabelLens.slnx")))
            {
                return folder.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
