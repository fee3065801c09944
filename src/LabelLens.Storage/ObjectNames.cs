using System.Text;

namespace LabelLens.Storage;

/// <summary>S3's rules for bucket names and object keys, plus what a filesystem store must add to them.</summary>
public static class ObjectNames
{
    public const int MaxKeyBytes = 1024;

    /// <summary>S3 general-purpose bucket naming rules.</summary>
    public static void ValidateBucket(string? bucket)
    {
        string? problem = bucket switch
        {
            null or { Length: < 3 or > 63 } => "must be 3 to 63 characters long",
            _ when bucket.Any(c => c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-')) => "may hold only lowercase letters, digits, '.' and '-'",
            _ when !char.IsAsciiLetterOrDigit(bucket[0]) || !char.IsAsciiLetterOrDigit(bucket[^1]) => "must begin and end with a letter or digit",
            _ when bucket.Contains("..", StringComparison.Ordinal) => "must not contain two adjacent periods",
            _ when System.Net.IPAddress.TryParse(bucket, out _) && bucket.Count(c => c == '.') == 3 => "must not be formatted as an IP address",
            _ when bucket.StartsWith("xn--", StringComparison.Ordinal) || bucket.StartsWith("sthree-", StringComparison.Ordinal) => "must not start with a reserved prefix",
            _ when bucket.EndsWith("-s3alias", StringComparison.Ordinal) || bucket.EndsWith("--ol-s3", StringComparison.Ordinal) => "must not end with a reserved suffix",
            _ => null,
        };
        if (problem is not null)
        {
            throw new StorageException(StorageError.InvalidBucketName, $"Bucket name '{Printable(bucket ?? "")}' is invalid: it {problem}.");
        }
    }

    /// <summary>
    /// S3 allows any UTF-8 key up to 1,024 bytes, and so does this server, with three exceptions that would
    /// escape a folder when a client mirrors the bucket to disk (aws s3 sync, rclone): control characters (NUL
    /// included), a leading '/', and "." or ".." segments. Empty segments are fine: "photos/" is a folder
    /// marker and "a//b" an ordinary key; the filesystem store never turns a key into a path directly
    /// (see <see cref="ObjectFileLayout"/>), so any key can sit beside any other.
    /// </summary>
    public static void ValidateKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new StorageException(StorageError.InvalidKey, "The object key is empty.");
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            throw new StorageException(StorageError.InvalidKey, $"The object key is longer than {MaxKeyBytes} bytes.");
        }

        if (key.Any(char.IsControl))
        {
            throw new StorageException(StorageError.InvalidKey, $"The object key '{Printable(key)}' contains a control character.");
        }

        if (!IsWellFormed(key))
        {
            throw new StorageException(StorageError.InvalidKey, "The object key is not valid UTF-8.");
        }

        if (key.StartsWith('/'))
        {
            throw new StorageException(StorageError.InvalidKey, $"The object key '{Printable(key)}' is absolute (starts with '/').");
        }

        if (key.Split('/').Any(segment => segment is "." or ".."))
        {
            throw new StorageException(StorageError.InvalidKey, $"The object key '{Printable(key)}' has a '.' or '..' path segment.");
        }
    }

    /// <summary>A key as it may be shown in an error message: control characters escaped, long keys cut.</summary>
    public static string Printable(string value)
    {
        var builder = new StringBuilder();
        foreach (var c in value.Length > 200 ? value[..200] + "…" : value)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return builder.ToString();
    }

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}
