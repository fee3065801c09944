using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LabelLens.Analysis;
using LabelLens.Detection;
using LabelLens.Labels;
using Microsoft.Extensions.Options;
using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Vision;

/// <summary>An image scaled to fit a model's input and padded to its exact size (top-left aligned).</summary>
public sealed class LetterboxedImage(VipsBuffer pixels, int width, int height, int orientedWidth, int orientedHeight, int resizedWidth, int resizedHeight, string format)
    : IDisposable
{
    /// <summary>sRGB, 8 bits, interleaved R, G, B, row after row: exactly the model's input size.</summary>
    public VipsBuffer Pixels { get; } = pixels;

    public int Width { get; } = width;

    public int Height { get; } = height;

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

    /// <summary>The bytes, read in place (no copy).</summary>
    public unsafe ReadOnlySpan<byte> Span => new((void*)_pointer, checked((int)Length));

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
/// that is enough), flattens alpha, converts grayscale/CMYK/16-bit to 8-bit sRGB and, for a model that wants one (DecodeLetterboxed), pads to its input size; Decode gives the picture at the working size every analysis can take its input from.
/// </summary>
public sealed class VipsImageDecoder : IPictureDecoder
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

    /// <summary>
    /// Decodes once, at the smallest size every analysis's <paramref name="needs"/> can take its input from
    /// (shrink-on-load for JPEG), into a pooled rgb24 buffer the picture returns when disposed.
    /// </summary>
    public Picture Decode(byte[] encoded, IReadOnlyList<PictureNeeds> needs, out ImageInfo info)
    {
        var format = DetectFormat(encoded);
        var header = ReadHeader(encoded);
        var (width, height) = PictureNeeds.WorkingSize(header.OrientedWidth, header.OrientedHeight, needs);
        try
        {
            using var fitted = format == "jpeg" ? LoadJpegFitted(encoded, header, width, height) : LoadFitted(encoded, width, height);
            using var rgb = ToSrgb8(fitted);
            var picture = ToPicture(rgb, header.OrientedWidth, header.OrientedHeight);
            info = new ImageInfo(header.OrientedWidth, header.OrientedHeight, format, encoded.LongLength);
            return picture;
        }
        catch (VipsException ex) when (format == "heif")
        {
            // HEVC (HEIC): libvips cannot, Debian's libheif can; the PNG it gives is decoded as any PNG.
            var png = HeifTranscoder.ToPng(encoded, out var problem)
                ?? throw new ImageRejectedException(ImageError.InvalidImageFormat, $"cannot decode this heif image: {problem} ({FirstLine(ex.Message)})", ex);
            var picture = Decode(png, needs, out var decoded);
            info = decoded with { Format = "heif", Bytes = encoded.LongLength };
            return picture;
        }
        catch (VipsException ex)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, $"corrupt or truncated {format} image ({FirstLine(ex.Message)})", ex);
        }
    }

    /// <summary>Writes an 8-bit sRGB image (decoding happens here) into a pooled buffer owned by the returned picture.</summary>
    internal static Picture ToPicture(Image rgb, int sourceWidth, int sourceHeight)
    {
        var pointer = rgb.WriteToMemory(out var size);
        try
        {
            var length = checked((int)size);
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            Marshal.Copy(pointer, buffer, 0, length);
            return new Picture(buffer, rgb.Width, rgb.Height, sourceWidth, sourceHeight, b => ArrayPool<byte>.Shared.Return(b));
        }
        finally
        {
            NetVips.NetVips.Free(pointer);
        }
    }

    /// <summary>Decodes and letterboxes for a model input of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public LetterboxedImage DecodeLetterboxed(byte[] encoded, int width, int height, double padValue)
    {
        var format = DetectFormat(encoded);
        var header = ReadHeader(encoded);
        try
        {
            using var fitted = format == "jpeg" ? LoadJpegFitted(encoded, header, width, height) : LoadFitted(encoded, width, height);
            using var rgb = ToSrgb8(fitted);
            using var padded = rgb.Embed(0, 0, width, height, extend: Enums.Extend.Background, background: [padValue, padValue, padValue]);
            // Decoding happens here, so errors surface here and the tensor stage starts from memory.
            var pixels = padded.WriteToMemory(out var size);
            return new LetterboxedImage(new VipsBuffer(pixels, (long)size), width, height, header.OrientedWidth, header.OrientedHeight, rgb.Width, rgb.Height, format);
        }
        catch (VipsException ex)
        {
            throw new ImageRejectedException(ImageError.InvalidImageFormat, $"corrupt or truncated {format} image ({FirstLine(ex.Message)})", ex);
        }
    }

    /// <summary>
    /// The model tensor for a letterboxed image: planar B, G, R float32 with raw 0-255 values, as YOLOX wants.
    /// Vectorised: 16 pixels at a time are gathered per channel with byte shuffles, widened and converted.
    /// </summary>
    public static void FillPlanarBgr(ReadOnlySpan<byte> rgb, Span<float> tensor)
    {
        var pixels = rgb.Length / 3;
        if (tensor.Length < pixels * 3)
        {
            throw new ArgumentException($"The tensor holds {tensor.Length} values; {pixels * 3} are needed.", nameof(tensor));
        }

        var blue = tensor[..pixels];
        var green = tensor.Slice(pixels, pixels);
        var red = tensor.Slice(2 * pixels, pixels);
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 16 <= pixels; i += 16)
            {
                var block = rgb.Slice(i * 3, 48);
                var a = Vector128.Create(block[..16]);
                var b = Vector128.Create(block.Slice(16, 16));
                var c = Vector128.Create(block.Slice(32, 16));
                StoreAsFloats(Gather(a, b, c, 0), red.Slice(i, 16));
                StoreAsFloats(Gather(a, b, c, 1), green.Slice(i, 16));
                StoreAsFloats(Gather(a, b, c, 2), blue.Slice(i, 16));
            }
        }

        for (; i < pixels; i++)
        {
            red[i] = rgb[3 * i];
            green[i] = rgb[(3 * i) + 1];
            blue[i] = rgb[(3 * i) + 2];
        }
    }

    /// <summary>Byte i of the 48-byte block that lands in lane j for channel c is 3j + c; the three shuffles each cover one 16-byte third.</summary>
    private static readonly Vector128<byte>[][] ChannelIndices = Enumerable.Range(0, 3)
        .Select(channel => Enumerable.Range(0, 3).Select(third => Vector128.Create(Enumerable.Range(0, 16)
            .Select(lane => (3 * lane) + channel - (16 * third))
            .Select(index => index is >= 0 and < 16 ? (byte)index : (byte)0xFF)
            .ToArray())).ToArray())
        .ToArray();

    private static Vector128<byte> Gather(Vector128<byte> a, Vector128<byte> b, Vector128<byte> c, int channel)
    {
        // Out-of-range indices (0xFF) give zero, so OR-ing the three shuffles assembles the channel.
        var indices = ChannelIndices[channel];
        return Vector128.Shuffle(a, indices[0]) | Vector128.Shuffle(b, indices[1]) | Vector128.Shuffle(c, indices[2]);
    }

    private static void StoreAsFloats(Vector128<byte> values, Span<float> destination)
    {
        var (low, high) = Vector128.Widen(values);
        var (q0, q1) = Vector128.Widen(low);
        var (q2, q3) = Vector128.Widen(high);
        Vector128.ConvertToSingle(q0).CopyTo(destination);
        Vector128.ConvertToSingle(q1).CopyTo(destination[4..]);
        Vector128.ConvertToSingle(q2).CopyTo(destination[8..]);
        Vector128.ConvertToSingle(q3).CopyTo(destination[12..]);
    }

    /// <summary>
    /// JPEG: libjpeg can decode at 1/2, 1/4 or 1/8 scale in the DCT domain, far cheaper than a full decode.
    /// libvips' thumbnail only does that when the reduction is at least twice the shrink factor (it keeps
    /// headroom for its own resampler), so a 2 MP photo going to 416 px would be decoded in full; here the
    /// largest factor that still leaves at least the target size is used, then the rest is resampled.
    /// </summary>
    private static Image LoadJpegFitted(byte[] encoded, ImageHeader header, int width, int height)
    {
        var reduction = Math.Min(header.OrientedWidth / (double)width, header.OrientedHeight / (double)height);
        var shrink = reduction >= 8 ? 8 : reduction >= 4 ? 4 : reduction >= 2 ? 2 : 1;
        using var loaded = Image.NewFromBuffer(encoded, $"shrink={shrink},fail_on=truncated");
        using var upright = loaded.Autorot();
        return upright.ThumbnailImage(width, height: height, size: Enums.Size.Both);
    }

    private static Image LoadFitted(byte[] encoded, int width, int height) =>
        // fail_on goes in the option string: the typed failOn argument is not passed on to the loader,
        // and a truncated file must be an error, not a picture with a grey bottom half.
        Image.ThumbnailBuffer(encoded, width, optionString: "fail_on=truncated", height: height, size: Enums.Size.Both);

    internal readonly record struct ImageHeader(int OrientedWidth, int OrientedHeight);

    internal ImageHeader ReadHeader(byte[] encoded)
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
                    $"the image is {header.Width:N0} x {header.Height:N0} pixels ({pixels:N0} pixels), over the {_options.MaxPixels:N0}-pixel limit");
            }

            var orientation = header.GetTypeOf("orientation") != IntPtr.Zero ? Convert.ToInt32(header.Get("orientation")) : 1;
            // Orientations 5-8 swap width and height when displayed.
            return orientation is >= 5 and <= 8 ? new ImageHeader(header.Height, header.Width) : new ImageHeader(header.Width, header.Height);
        }
    }

    internal static Image ToSrgb8(Image image)
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

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? message;
        return line.Length > 200 ? line[..200] : line;
    }
}
