using System.ComponentModel.DataAnnotations;

namespace LabelLens.Vision;

/// <summary>Limits that protect the process from hostile or absurd inputs. Section "Images".</summary>
public sealed class ImageOptions
{
    public const string Section = "Images";

    /// <summary>Encoded files larger than this are refused before decoding (default 100 MiB).</summary>
    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>
    /// Images whose header declares more pixels than this are refused before any pixel is decoded
    /// (default 150 megapixels: above any camera, below what a decompression bomb declares).
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MaxPixels { get; set; } = 150_000_000;
}
