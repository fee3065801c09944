using System.Buffers.Binary;
using System.Text;

namespace LabelLens.Vision.Video;

/// <summary>
/// Recognises video containers from their first bytes (never the name): MP4 and QuickTime (ISO base media
/// `ftyp`, or a bare QuickTime atom), Matroska and WebM (EBML), AVI (RIFF AVI). HEIF/AVIF photos are ISO
/// base media too: their brands keep them images.
/// </summary>
public static class VideoFormat
{
    /// <summary>Bytes of the file head <see cref="Sniff"/> needs to decide.</summary>
    public const int HeadLength = 64;

    private static readonly string[] ImageBrands = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis", "miaf", "MiHE", "MiHB", "jxl "];

    private static readonly string[] QuickTimeAtoms = ["moov", "mdat", "wide", "free", "skip", "pnot"];

    /// <summary>"mp4", "mov", "mkv", "webm", "avi", or null when the head is not one of them.</summary>
    public static string? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 12 && head[..4].SequenceEqual("RIFF"u8) && head.Slice(8, 4).SequenceEqual("AVI "u8))
        {
            return "avi";
        }

        if (head.Length >= 4 && head[..4].SequenceEqual(new byte[] { 0x1A, 0x45, 0xDF, 0xA3 }))
        {
            // The EBML header names the doctype; WebM is Matroska with a restricted codec set.
            return head.IndexOf("webm"u8) >= 0 ? "webm" : "mkv";
        }

        if (head.Length >= 12 && head.Slice(4, 4).SequenceEqual("ftyp"u8))
        {
            var size = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(head), (uint)head.Length);
            var brands = new List<string> { Encoding.ASCII.GetString(head.Slice(8, 4)) };
            for (var offset = 16; offset + 4 <= size; offset += 4)
            {
                brands.Add(Encoding.ASCII.GetString(head.Slice(offset, 4)));
            }

            if (brands.Any(b => ImageBrands.Contains(b, StringComparer.Ordinal)) && !brands.Any(b => b is "isom" or "mp41" or "mp42" or "avc1" or "qt  " or "M4V " or "dash" or "iso5" or "iso6"))
            {
                return null;
            }

            return brands[0] == "qt  " ? "mov" : "mp4";
        }

        if (head.Length >= 8 && QuickTimeAtoms.Contains(Encoding.ASCII.GetString(head.Slice(4, 4)), StringComparer.Ordinal))
        {
            return "mov";
        }

        return null;
    }

    /// <summary>Reads the head of a stream (as much as there is, up to <see cref="HeadLength"/>) and sniffs it.</summary>
    public static async Task<string?> SniffAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = new byte[HeadLength];
        var read = await stream.ReadAtLeastAsync(head, HeadLength, throwOnEndOfStream: false, cancellationToken);
        return Sniff(head.AsSpan(0, read));
    }
}
