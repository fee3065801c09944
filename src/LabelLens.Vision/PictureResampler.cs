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
            var memory = cropped.WriteToMemory(out var size);
            try
            {
                var length = checked((int)size);
                var buffer = ArrayPool<byte>.Shared.Rent(length);
                System.Runtime.InteropServices.Marshal.Copy(memory, buffer, 0, length);
                return new ResampledPixels(buffer, cropped.Width, cropped.Height);
            }
            finally
            {
                NetVips.NetVips.Free(memory);
            }
        }
    }
}
