using System.Buffers;
using LabelLens.Analysis;
using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Vision;

/// <summary>An analysis's own view of a decoded picture: tight rgb24 in a pooled buffer (dispose to return it).</summary>
public sealed class ResampledPixels(byte[] buffer, int width, int height) : IDisposable
{
    private byte[]? _buffer = buffer;

    public int Width { get; } = width;

    public int Height { get; } = height;

    public ReadOnlySpan<byte> Rgb => (_buffer ?? throw new ObjectDisposedException(nameof(ResampledPixels))).AsSpan(0, Width * Height * 3);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Resizes and crops a decoded <see cref="Picture"/> in memory with libvips (the same resampler the decode
/// uses), for analyses whose input differs from the working size: no file is decoded again.
/// </summary>
public static class PictureResampler
{
    /// <summary>
    /// The <paramref name="width"/> × <paramref name="height"/> area at <paramref name="left"/>, <paramref name="top"/>
    /// of the picture, resized to <paramref name="outWidth"/> × <paramref name="outHeight"/> with an antialiasing
    /// bilinear filter (libvips scales the kernel with the reduction): cropping first means only the pixels the
    /// model sees are resampled. A result a pixel short of the size asked (rounding) is left as it is.
    /// </summary>
    public static unsafe ResampledPixels ResampleArea(Picture picture, int left, int top, int width, int height, int outWidth, int outHeight)
    {
        ArgumentNullException.ThrowIfNull(picture);
        var rgb = picture.Rgb;
        fixed (byte* pointer = rgb)
        {
            using var source = Image.NewFromMemory((IntPtr)pointer, (ulong)rgb.Length, picture.Width, picture.Height, 3, Enums.BandFormat.Uchar);
            left = Math.Clamp(left, 0, picture.Width - 1);
            top = Math.Clamp(top, 0, picture.Height - 1);
            width = Math.Clamp(width, 1, picture.Width - left);
            height = Math.Clamp(height, 1, picture.Height - top);
            using var area = source.ExtractArea(left, top, width, height);
            using var scaled = width == outWidth && height == outHeight
                ? area.Copy()
                : area.Resize(outWidth / (double)width, kernel: Enums.Kernel.Linear, vscale: outHeight / (double)height);
            using var exact = scaled.Width > outWidth || scaled.Height > outHeight
                ? scaled.ExtractArea(0, 0, Math.Min(outWidth, scaled.Width), Math.Min(outHeight, scaled.Height))
                : scaled.Copy();
            return ToPooled(exact);
        }
    }

    /// <summary>
    /// The picture scaled by <paramref name="scale"/> (1 copies it), then the <paramref name="cropWidth"/> ×
    /// <paramref name="cropHeight"/> area at <paramref name="cropLeft"/>, <paramref name="cropTop"/> of the result
    /// (clamped to what the scaled picture has).
    /// </summary>
    public static unsafe ResampledPixels Resample(Picture picture, double scale, int cropLeft, int cropTop, int cropWidth, int cropHeight)
    {
        ArgumentNullException.ThrowIfNull(picture);
        var rgb = picture.Rgb;
        fixed (byte* pointer = rgb)
        {
            // The vips pipeline reads the pinned bytes and finishes inside this block (WriteToMemory).
            using var source = Image.NewFromMemory((IntPtr)pointer, (ulong)rgb.Length, picture.Width, picture.Height, 3, Enums.BandFormat.Uchar);
            using var scaled = Math.Abs(scale - 1) < 1e-9 ? source.Copy() : source.Resize(scale);
            var left = Math.Clamp(cropLeft, 0, scaled.Width - 1);
            var top = Math.Clamp(cropTop, 0, scaled.Height - 1);
            var width = Math.Clamp(cropWidth, 1, scaled.Width - left);
            var height = Math.Clamp(cropHeight, 1, scaled.Height - top);
            using var cropped = left == 0 && top == 0 && width == scaled.Width && height == scaled.Height ? scaled.Copy() : scaled.ExtractArea(left, top, width, height);
            return ToPooled(cropped);
        }
    }

    /// <summary>Runs the pipeline (WriteToMemory) into a pooled buffer.</summary>
    private static ResampledPixels ToPooled(Image image)
    {
        var memory = image.WriteToMemory(out var size);
        try
        {
            var length = checked((int)size);
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            System.Runtime.InteropServices.Marshal.Copy(memory, buffer, 0, length);
            return new ResampledPixels(buffer, image.Width, image.Height);
        }
        finally
        {
            NetVips.NetVips.Free(memory);
        }
    }
}
