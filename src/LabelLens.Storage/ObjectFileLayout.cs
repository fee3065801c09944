using System.Text;

namespace LabelLens.Storage;

/// <summary>
/// How the filesystem store names an object's file inside its bucket folder. S3 keys are not paths: "a/b" and
/// "a/b/c" are both objects, "photos/" (a folder marker) ends in a slash, "a//b" has an empty segment, and one
/// segment may be longer than a file name may be. A plain key-as-path layout can hold none of those beside
/// the others, so every path component carries a one-character kind that no other kind can be confused with:
/// <list type="bullet">
/// <item><c>@name</c>: a folder for the key segment "name" (the key continues after a '/');</item>
/// <item><c>=name</c>: the object file, holding the key's last segment (possibly empty: "photos/" is <c>@photos/=</c>);</item>
/// <item><c>+piece</c>: a folder for the first 254 bytes of a segment too long for one file name; the rest follows below.</item>
/// </list>
/// A file name never starts with '@' or '+' and a folder never with '=', so no object's file can be another
/// key's folder. The mapping is one-to-one and reversible (<see cref="KeyOf"/>), which is what start-up
/// migration and clean-up need; names stay readable in a shell ("photos/@zoo/=giraffe.jpg").
/// </summary>
public static class ObjectFileLayout
{
    public const char FolderMark = '@';
    public const char FileMark = '=';
    public const char ContinuedMark = '+';

    /// <summary>Longest file name ext4, xfs and btrfs accept, in bytes, less the kind character.</summary>
    private const int MaxPieceBytes = 254;

    /// <summary>The path components of <paramref name="key"/>'s file, relative to its bucket folder.</summary>
    public static IReadOnlyList<string> PathOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var segments = key.Split('/');
        var components = new List<string>(segments.Length);
        for (var i = 0; i < segments.Length; i++)
        {
            var pieces = Pieces(segments[i]);
            for (var p = 0; p < pieces.Count - 1; p++)
            {
                components.Add(ContinuedMark + pieces[p]);
            }

            components.Add((i == segments.Length - 1 ? FileMark : FolderMark) + pieces[^1]);
        }

        return components;
    }

    /// <summary>The key whose file is at <paramref name="components"/>, or null when that path is not an object's file.</summary>
    public static string? KeyOf(IReadOnlyList<string> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        var key = new StringBuilder();
        for (var i = 0; i < components.Count; i++)
        {
            var component = components[i];
            var last = i == components.Count - 1;
            switch (component.Length > 0 ? component[0] : '\0')
            {
                case FileMark when last:
                    return key.Append(component, 1, component.Length - 1).ToString();
                case FolderMark when !last:
                    key.Append(component, 1, component.Length - 1).Append('/');
                    break;
                case ContinuedMark when !last:
                    key.Append(component, 1, component.Length - 1);
                    break;
                default:
                    return null;
            }
        }

        return null;
    }

    /// <summary>Splits a segment into pieces of at most <see cref="MaxPieceBytes"/> UTF-8 bytes, never inside a character.</summary>
    private static List<string> Pieces(string segment)
    {
        var pieces = new List<string>();
        var piece = new StringBuilder();
        var bytes = 0;
        foreach (var rune in segment.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > MaxPieceBytes)
            {
                pieces.Add(piece.ToString());
                piece.Clear();
                bytes = 0;
            }

            piece.Append(rune.ToString());
            bytes += rune.Utf8SequenceLength;
        }

        pieces.Add(piece.ToString());
        return pieces;
    }
}
