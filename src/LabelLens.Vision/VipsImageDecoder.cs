using LabelLens.Detection;
using Microsoft.Extensions.Options;
using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Vision;

/// <summary>An image scaled to fit a model's input and padded to its exact size (top-left aligned).</summary>
public sealed class LetterboxedImage(Image pixels, int orientedWidth, int orientedHeight, int resizedWidth, int resizedHeight, string format)
    : IDisposable
{
    /// <summary>sRGB, 3 bands, 8 bits, in memory, exactly the model's input size.</summary>
    public Image Pixels { get; } = pixels;

    /// <summary>Size of the picture as displayed (EXIF orientation applied), at full resolution.</summary>
    public int OrientedWidth { get; } = orientedWidth;

    public int OrientedHeight { get; } = orientedHeight;

    /// <summary>Size of the picture inside the padded input.</summary>
    public int ResizedWidth { get; } = resizedWidth;

    public int ResizedHeight { get; } = resizedHeight;

    public string Format { get; } = format;

    public void Dispose() => Pixels.Dispose();
}

/// <summary>Memory libvips allocated for a finished pixel buffer; freed with libvips' allocator.</summary>
public sealed class VipsBuffer(IntPtr pointer, long length) : IDisposable
{
    private IntPtr _pointer = pointer;

    public IntPtr Pointer => _pointer;

    public long Length { get; } = length;

    public void Dispose()
    {
        var pointer = Interlocked.Exchange(ref _pointer, IntPtr.Zero);
        if (pointer != IntPtr.Zero)
        {
            NetVips.NetVips.Free(pointer);
        }
    }
}

/// <summary>
/// Decodes encoded images with libvips for a model: checks byte and pixel limits from the header before any
/// pixel is decoded, applies EXIF orientation, shrinks on load (a 12 MP JPEG is decoded at 1/8 scale when
/// that is enough), flattens alpha, converts grayscale/CMYK/16-bit to 8-bit sRGB and pads to the input size.
/// </summary>
public sealed class VipsImageDecoder
{
    /// <summary>Formats accepted, keyed by a fragment of libvips' loader name. Anything else (SVG, PDF...) is refused.</summary>
    private static readonly (string LoaderFragment, string Format)[] AllowedLoaders =
    [
        ("Jpeg", "jpeg"), ("Png", "png"), ("Webp", "webp"), ("Tiff", "tiff"), ("Gif", "gif"), ("Heif", "heif"), ("Jxl", "jxl"),
    ];

    private static readonly Log.LogDelegate IgnoreLog = (_, _, _) => { };

    private readonly ImageOptions _options;

    static VipsImageDecoder()
    {
        // Each labeling worker decodes one image on one core; libvips' own thread pool would only fight
        // the workers for the same cores. Inputs are distinct files, so the operation cache only costs memory.
        NetVips.NetVips.Concurrency = 1;
        Cache.Max = 0;
        Cache.MaxFiles = 0;
        // Refuse loaders libvips marks as unsafe for untrusted input (ImageMagick, PDF, ...).
        NetVips.NetVips.BlockUntrusted = true;
        // libvips prints decoder warnings ("error in tile 0 x 168") straight to stderr; the same failure
        // reaches the caller as an exception with a clear reason, so the raw lines are only noise.
        Log.SetLogHandler("VIPS", Enums.LogLevelFlags.Warning | Enums.LogLevelFlags.Message | Enums.LogLevelFlags.Info, IgnoreLog);
    }

    public VipsImageDecoder(IOptions<ImageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
    }

    public ImageOptions Limits => _options;

    /// <summary>The format name ("jpeg", "png", ...) or an <see cref="ImageRejectedException"/>.</summary>
    public string DetectFormat(byte[] encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        if (encoded.Length == 0)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, "empty file (0 bytes)");
        }

        if (encoded.LongLength > _options.MaxBytes)
        {
            throw new ImageRejectedException(ImageError.ImageTooLarge, $"{encoded.LongLength:N0} bytes is over the {_options.MaxBytes:N0}-byte limit");
        }

        var loader = Image.FindLoadBuffer(encoded);
        if (loader is null)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, "not an image (no supported image format recognised)");
        }

        foreach (var (fragment, format) in AllowedLoaders)
        {
            if (loader.Contains(fragment, StringComparison.OrdinalIgnoreCase))
            {
                return format;
            }
        }

        throw new ImageRejectedException(ImageError.InvalidImageFormat, $"unsupported image format ({loader.Replace("VipsForeignLoad", "", StringComparison.Ordinal)})");
    }

    /// <summary>Decodes and letterboxes for a model input of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public LetterboxedImage DecodeLetterboxed(byte[] encoded, int width, int height, double padValue)
    {
        var format = DetectFormat(encoded);
        var (orientedWidth, orientedHeight) = ReadOrientedSize(encoded);
        try
        {
            // fail_on goes in the option string: the typed failOn argument is not passed on to the loader,
            // and a truncated file must be an error, not a picture with a grey bottom half.
            using var thumbnail = Image.ThumbnailBuffer(encoded, width, optionString: "fail_on=truncated", height: height, size: Enums.Size.Both);
            using var rgb = ToSrgb8(thumbnail);
            using var padded = rgb.Embed(0, 0, width, height, extend: Enums.Extend.Background, background: [padValue, padValue, padValue]);
            // Materialise now so decode errors surface here and the tensor stage starts from memory.
            var pixels = padded.CopyMemory();
            return new LetterboxedImage(pixels, orientedWidth, orientedHeight, rgb.Width, rgb.Height, format);
        }
        catch (VipsException ex)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, $"corrupt or truncated {format} image ({FirstLine(ex.Message)})", ex);
        }
    }

    /// <summary>
    /// The model tensor for a letterboxed image: planar B, G, R float32 with raw 0-255 values, as YOLOX wants.
    /// libvips does the deinterleave and conversion: the bands are stacked vertically (B above G above R),
    /// which is exactly the planar CHW layout in memory, then cast to float.
    /// </summary>
    public static VipsBuffer ToPlanarBgrFloat(Image letterboxed)
    {
        ArgumentNullException.ThrowIfNull(letterboxed);
        var bands = letterboxed.Bandsplit();
        try
        {
            using var planar = Image.Arrayjoin([bands[2], bands[1], bands[0]], across: 1);
            using var floats = planar.Cast(Enums.BandFormat.Float);
            var pointer = floats.WriteToMemory(out var size);
            return new VipsBuffer(pointer, (long)size);
        }
        finally
        {
            foreach (var band in bands)
            {
                band.Dispose();
            }
        }
    }

    private (int Width, int Height) ReadOrientedSize(byte[] encoded)
    {
        Image header;
        try
        {
            // Opening is lazy: only the header is parsed here, no pixel is decoded.
            header = Image.NewFromBuffer(encoded, access: Enums.Access.Sequential);
        }
        catch (VipsException ex)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, $"unreadable image header ({FirstLine(ex.Message)})", ex);
        }

        using (header)
        {
            var pixels = (long)header.Width * header.Height;
            if (pixels > _options.MaxPixels)
            {
                throw new ImageRejectedException(
                    ImageError.ImageTooLarge,
                    $"{header.Width:N0} x {header.Height:N0} pixels is over the {_options.MaxPixels:N0}-pixel limit");
            }

            var orientation = header.GetTypeOf("orientation") != IntPtr.Zero ? Convert.ToInt32(header.Get("orientation")) : 1;
            // Orientations 5-8 swap width and height when displayed.
            return orientation is >= 5 and <= 8 ? (header.Height, header.Width) : (header.Width, header.Height);
        }
    }

    private static Image ToSrgb8(Image image)
    {
        var current = image;
        var owned = new List<Image>();
        try
        {
            if (current.HasAlpha())
            {
                // Transparent areas become white, as they look in a browser or a viewer.
                current = Track(current.Flatten(background: [255.0]), owned);
            }

            if (current.Interpretation != Enums.Interpretation.Srgb || current.Format != Enums.BandFormat.Uchar)
            {
                // Handles B_W, grey16, RGB16, CMYK, LAB...
                current = Track(current.Colourspace(Enums.Interpretation.Srgb), owned);
            }

            if (current.Bands > 3)
            {
                current = Track(current.ExtractBand(0, 3), owned);
            }
            else if (current.Bands < 3)
            {
                current = Track(current.Bandjoin(current, current), owned);
            }

            if (current.Format != Enums.BandFormat.Uchar)
            {
                current = Track(current.Cast(Enums.BandFormat.Uchar), owned);
            }

            // Hand the last image to the caller; dispose the intermediates (libvips keeps what it still needs).
            owned.Remove(current);
            return ReferenceEquals(current, image) ? image.Copy() : current;
        }
        finally
        {
            foreach (var intermediate in owned)
            {
                intermediate.Dispose();
            }
        }
    }

    private static Image Track(Image image, List<Image> owned)
    {
        owned.Add(image);
        return image;
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? message;
        return line.Length > 200 ? line[..200] : line;
    }
}
