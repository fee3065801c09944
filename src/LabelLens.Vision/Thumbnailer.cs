using LabelLens.Detection;
using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Vision;

/// <summary>An encoded thumbnail (JPEG) and its pixel size.</summary>
public sealed record Thumbnail(byte[] Jpeg, int Width, int Height);

/// <summary>
/// Small JPEG previews for the web UI, made with libvips. Inputs go through the decoder's checks first (the
/// format allow-list, the byte and pixel limits read from the header, BlockUntrusted), so a hostile file is
/// refused here exactly as it is refused for labeling.
/// </summary>
public sealed class Thumbnailer(VipsImageDecoder decoder)
{
    /// <summary>
    /// The sizes served (longest edge, pixels). A request is rounded up to one of them, so the disk cache holds at
    /// most four files per image whatever sizes clients ask for.
    /// </summary>
    public static readonly IReadOnlyList<int> Sizes = [160, 320, 640, 1280];

    /// <summary>The smallest served size at least <paramref name="requested"/> (the largest when none is).</summary>
    public static int NormalizeSize(int requested) => Sizes.FirstOrDefault(s => s >= requested, Sizes[^1]);

    /// <summary>
    /// Scales the image so its longest edge is at most <paramref name="size"/> (never enlarged), upright
    /// (EXIF orientation applied), in 8-bit sRGB with transparency flattened onto white, as a progressive JPEG.
    /// </summary>
    /// <exception cref="ImageRejectedException">Not an allowed image format, over a limit, corrupt or truncated.</exception>
    public Thumbnail Create(byte[] encoded, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var format = decoder.DetectFormat(encoded);
        decoder.ReadHeader(encoded);
        try
        {
            // thumbnail shrinks on load (JPEG DCT scaling, WebP/HEIF pyramid levels) and applies the orientation.
            using var scaled = Image.ThumbnailBuffer(encoded, size, optionString: "fail_on=truncated", height: size, size: Enums.Size.Down);
            using var rgb = VipsImageDecoder.ToSrgb8(scaled);
            var jpeg = rgb.JpegsaveBuffer(q: 82, optimizeCoding: true, interlace: true, keep: Enums.ForeignKeep.None);
            return new Thumbnail(jpeg, rgb.Width, rgb.Height);
        }
        catch (VipsException ex) when (format == "heif")
        {
            // HEIC: as in the decoder, Debian's libheif reads what the bundled libvips cannot.
            var png = HeifTranscoder.ToPng(encoded, out var problem)
                ?? throw new ImageRejectedException(ImageError.InvalidImageFormat, $"cannot decode this heif image: {problem} ({VipsImageDecoder.FirstLine(ex.Message)})", ex);
            return Create(png, size);
        }
        catch (VipsException ex)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, $"corrupt or truncated {format} image ({VipsImageDecoder.FirstLine(ex.Message)})", ex);
        }
    }
}
