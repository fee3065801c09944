using Microsoft.Extensions.Logging;

namespace LabelLens.Storage;

/// <summary>
/// Brings <c>&lt;data&gt;/objects</c> to the current layout (<see cref="ObjectFileLayout"/>) before the store
/// serves anything. Versions before it stored a key as a plain path ("zoo/giraffe.jpg"); that folder is set aside
/// as <c>objects.v1</c> in one rename, then each file is renamed to its new path. Every step is a rename on the same
/// filesystem, so nothing is copied and nothing is lost: a crash part-way leaves <c>objects.v1</c> behind, and
/// the next start carries on from there (a file already moved is no longer in it). <c>objects/.layout</c> records
/// that the folder is current; it is written before <c>objects.v1</c>, by then only empty folders, is removed.
/// </summary>
public static class ObjectLayoutMigration
{
    public const string LayoutFileName = ".layout";
    private const string CurrentLayout = "2";

    /// <summary>Makes <paramref name="objects"/> exist in the current layout; returns how many files were moved.</summary>
    public static int Run(string objects, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(logger);
        var marker = Path.Combine(objects, LayoutFileName);
        var old = objects.TrimEnd(Path.DirectorySeparatorChar) + ".v1";
        if (!Directory.Exists(old))
        {
            if (File.Exists(marker))
            {
                return 0;
            }

            if (!Directory.Exists(objects) || !Directory.EnumerateFileSystemEntries(objects).Any())
            {
                Directory.CreateDirectory(objects);
                WriteMarker(marker);
                return 0;
            }

            logger.LogWarning("Converting {Objects} to the layout that lets any key sit beside any other (keys as plain paths could not hold \"a/b\" with \"a/b/c\", or \"photos/\")", objects);
            Directory.Move(objects, old);
        }

        Directory.CreateDirectory(objects);
        var moved = 0;
        var everything = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        foreach (var bucketFolder in Directory.GetDirectories(old))
        {
            var bucket = Path.Combine(objects, Path.GetFileName(bucketFolder));
            Directory.CreateDirectory(bucket);
            foreach (var file in Directory.GetFiles(bucketFolder, "*", everything))
            {
                var key = Path.GetRelativePath(bucketFolder, file).Replace(Path.DirectorySeparatorChar, '/');
                FileSystemObjectStore.MoveIntoPlace(file, Path.Combine([bucket, .. ObjectFileLayout.PathOf(key)]));
                moved++;
            }
        }

        // Only folders are left in objects.v1 (every file was moved, or an exception stopped us above).
        WriteMarker(marker);
        Directory.Delete(old, recursive: true);
        logger.LogWarning("Converted {Objects}: {Moved} object files moved to the new layout", objects, moved);
        return moved;
    }

    private static void WriteMarker(string marker)
    {
        var temp = marker + ".tmp";
        File.WriteAllText(temp, CurrentLayout);
        File.Move(temp, marker, overwrite: true);
    }
}
