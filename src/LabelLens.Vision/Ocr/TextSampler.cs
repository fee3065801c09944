using System.Numerics;

namespace LabelLens.Vision.Ocr;

/// <summary>
/// Fills a planar B, G, R tensor (PaddleOCR's models read BGR) from an rgb24 picture, sampling a
/// quadrilateral of it bilinearly: the detector's whole-picture resize and each line's straightened crop are
/// the same operation. A reduction of more than 1.5x averages several samples per output pixel (an
/// antialiasing box), so small type is not lost to aliasing.
/// </summary>
internal static class TextSampler
{
    /// <param name="box">The area of the picture that becomes the <paramref name="outWidth"/> × <paramref name="outHeight"/> output (its top edge is the output's top row).</param>
    /// <param name="tensor">Planar, <paramref name="tensorWidth"/> wide (≥ <paramref name="outWidth"/>); columns past <paramref name="outWidth"/> are left as they are (the caller's padding).</param>
    /// <param name="mean">Per channel in B, G, R order: value = (x/255 - mean) / deviation.</param>
    public static void Fill(
        ReadOnlySpan<byte> rgb, int width, int height, TextQuad box, int outWidth, int outHeight, Span<float> tensor, int tensorWidth, int tensorHeight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> deviation)
    {
        var origin = box.TopLeft;
        var stepX = (box.TopRight - box.TopLeft) / outWidth;
        var stepY = (box.BottomLeft - box.TopLeft) / outHeight;
        var reduction = MathF.Max(stepX.Length(), stepY.Length());
        var samples = reduction > 1.5f ? Math.Min(4, (int)MathF.Ceiling(reduction)) : 1;
        var plane = tensorWidth * tensorHeight;
        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            scale[c] = 1f / (255f * deviation[c]);
            offset[c] = mean[c] / deviation[c];
        }

        Span<float> sum = stackalloc float[3];
        var weight = 1f / (samples * samples);
        for (var y = 0; y < outHeight; y++)
        {
            for (var x = 0; x < outWidth; x++)
            {
                sum.Clear();
                for (var sy = 0; sy < samples; sy++)
                {
                    for (var sx = 0; sx < samples; sx++)
                    {
                        var point = origin + (stepX * (x + ((sx + 0.5f) / samples))) + (stepY * (y + ((sy + 0.5f) / samples)));
                        Bilinear(rgb, width, height, point - new Vector2(0.5f, 0.5f), sum);
                    }
                }

                var at = (y * tensorWidth) + x;
                // Planar B, G, R: the picture's channel 2 goes first.
                tensor[at] = (sum[2] * weight * scale[0]) - offset[0];
                tensor[plane + at] = (sum[1] * weight * scale[1]) - offset[1];
                tensor[(2 * plane) + at] = (sum[0] * weight * scale[2]) - offset[2];
            }
        }
    }

    /// <summary>Adds the bilinear sample at <paramref name="p"/> (pixel indices, clamped to the edges) to <paramref name="sum"/> (R, G, B).</summary>
    private static void Bilinear(ReadOnlySpan<byte> rgb, int width, int height, Vector2 p, Span<float> sum)
    {
        var fx = Math.Clamp(p.X, 0, width - 1);
        var fy = Math.Clamp(p.Y, 0, height - 1);
        var x0 = (int)fx;
        var y0 = (int)fy;
        var x1 = Math.Min(x0 + 1, width - 1);
        var y1 = Math.Min(y0 + 1, height - 1);
        var ax = fx - x0;
        var ay = fy - y0;
        var row0 = y0 * width * 3;
        var row1 = y1 * width * 3;
        for (var c = 0; c < 3; c++)
        {
            var top = rgb[row0 + (x0 * 3) + c] + ((rgb[row0 + (x1 * 3) + c] - rgb[row0 + (x0 * 3) + c]) * ax);
            var bottom = rgb[row1 + (x0 * 3) + c] + ((rgb[row1 + (x1 * 3) + c] - rgb[row1 + (x0 * 3) + c]) * ax);
            sum[c] += top + ((bottom - top) * ay);
        }
    }
}
