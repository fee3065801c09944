using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using LabelLens.Labels;

namespace LabelLens.Properties;

/// <summary>
/// Image properties as Rekognition reports them (quality, dominant colours of the image, its foreground and
/// background, and of each detected instance), computed from the model's small resized copy of the image.
/// Colours are clustered with k-means in CIELAB on a few thousand sampled pixels; quality is measured on luma.
/// Everything is deterministic: the same pixels always give the same answer.
/// </summary>
public static class ImagePropertiesAnalyzer
{
    public const int DefaultMaxDominantColors = 10;
    public const int MaxDominantColorsLimit = 20;

    /// <summary>
    /// About this many pixels are sampled for colour clustering, whatever the region's size: enough for shares to
    /// about a percent, and it keeps 10-colour k-means well under a millisecond per region.
    /// </summary>
    private const int ColorSamples = 1024;

    /// <summary>
    /// Fewer samples for each detected instance: a box's few main colours to a few percent need no more, and a
    /// busy photo has a dozen boxes.
    /// </summary>
    private const int InstanceColorSamples = 256;

    /// <summary>Clusters closer than this (CIE76 ΔE) are one colour to the eye and are merged.</summary>
    private const float MergeDistance = 7f;

    private const int KMeansRounds = 8;

    /// <summary>Mean squared Laplacian at which sharpness reads 50; set on the sample photos (crisp photos land at 60-90).</summary>
    private const double SharpnessHalfPoint = 120;

    /// <summary>The brightness and sharpness (0-100, as the foreground's) of each box's own pixels: a face's quality from its crop.</summary>
    public static IReadOnlyList<ImageQuality> QualityIn(RgbImage image, IReadOnlyList<BoundingBox> boxes)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(boxes);
        if (boxes.Count == 0)
        {
            return [];
        }

        var luma = Luma(image);
        try
        {
            return boxes.Select(box =>
            {
                var mask = BoxMask(image, [box]);
                try
                {
                    var (front, _) = Statistics(luma, mask, image.Width, image.Height);
                    return front.Pixels > 0 ? new ImageQuality(Round(front.MeanLuma / 255 * 100), front.Sharpness, null) : new ImageQuality(0, 0, null);
                }
                finally
                {
                    ArrayPool<bool>.Shared.Return(mask);
                }
            }).ToList();
        }
        finally
        {
            ArrayPool<float>.Shared.Return(luma);
        }
    }

    public static ImageProperties Analyze(RgbImage image, IReadOnlyList<BoundingBox> foreground, int maxDominantColors)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(foreground);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDominantColors);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDominantColors, MaxDominantColorsLimit);

        // Luma and mask are pooled: at 416x312 they are 520 and 130 KB, large-object-heap arrays that, allocated per
        // image, made the labeling process run a full (gen 2) collection every few images.
        var luma = Luma(image);
        var mask = foreground.Count > 0 ? BoxMask(image, foreground) : SaliencyMask(image);
        try
        {
            return Analyze(image, luma, mask, maxDominantColors);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(luma);
            ArrayPool<bool>.Shared.Return(mask);
        }
    }

    private static ImageProperties Analyze(RgbImage image, float[] luma, bool[] mask, int maxDominantColors)
    {
        var (front, back) = Statistics(luma, mask, image.Width, image.Height);
        var whole = front + back;
        var quality = new ImageQuality(
            Round(whole.MeanLuma / 255 * 100),
            whole.Sharpness,
            Round(Math.Min(100, whole.StdLuma / 127.5 * 100)));
        var colors = DominantColors(image, null, true, whole.Pixels, 0, 0, image.Width, image.Height, maxDominantColors);
        return new ImageProperties(
            quality,
            colors,
            front.Pixels > 0 ? Region(image, front, mask, true, maxDominantColors) : null,
            back.Pixels > 0 ? Region(image, back, mask, false, maxDominantColors) : null);
    }

    /// <summary>The dominant colours inside one box (a detected instance).</summary>
    public static IReadOnlyList<DominantColor> ColorsIn(RgbImage image, BoundingBox box, int maxDominantColors)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(box);
        var (x0, y0, x1, y1) = Pixels(image, box);
        return DominantColors(image, null, true, Math.Max(0, x1 - x0) * Math.Max(0, y1 - y0), x0, y0, x1, y1, maxDominantColors, InstanceColorSamples);
    }

    private static ImageRegion Region(RgbImage image, Sums sums, bool[] mask, bool side, int maxColors) => new(
        new ImageQuality(Round(sums.MeanLuma / 255 * 100), sums.Sharpness, null),
        DominantColors(image, mask, side, sums.Pixels, 0, 0, image.Width, image.Height, maxColors));

    private static float[] Luma(RgbImage image)
    {
        var pixels = image.Pixels;
        var count = image.Width * image.Height;
        var luma = ArrayPool<float>.Shared.Rent(count);
        for (int i = 0, p = 0; i < count; i++, p += 3)
        {
            luma[i] = (0.2126f * pixels[p]) + (0.7152f * pixels[p + 1]) + (0.0722f * pixels[p + 2]);
        }

        return luma;
    }

    /// <summary>
    /// Luma and edge sums of the foreground (mask true) and the background in one pass. Sharpness is the mean
    /// squared 4-neighbour Laplacian (high where edges are crisp) over the pixels off the border.
    /// </summary>
    private static (Sums Front, Sums Back) Statistics(float[] luma, bool[] mask, int width, int height)
    {
        var front = default(Sums);
        var back = default(Sums);
        for (var y = 0; y < height; y++)
        {
            var row = y * width;
            var inner = y > 0 && y < height - 1;
            for (var x = 0; x < width; x++)
            {
                var i = row + x;
                ref var sums = ref mask[i] ? ref front : ref back;
                var value = luma[i];
                sums.Pixels++;
                sums.Luma += value;
                sums.LumaSquares += value * (double)value;
                if (inner && x > 0 && x < width - 1)
                {
                    var edge = (4 * value) - luma[i - 1] - luma[i + 1] - luma[i - width] - luma[i + width];
                    sums.Edges += edge * edge;
                    sums.EdgePixels++;
                }
            }
        }

        return (front, back);
    }

    /// <summary>Running sums over a set of pixels; adding two gives the sums of both.</summary>
    private struct Sums
    {
        public long Pixels;
        public double Luma;
        public double LumaSquares;
        public double Edges;
        public long EdgePixels;

        public readonly double MeanLuma => Pixels == 0 ? 0 : Luma / Pixels;

        public readonly double StdLuma => Pixels == 0 ? 0 : Math.Sqrt(Math.Max(0, (LumaSquares / Pixels) - (MeanLuma * MeanLuma)));

        public readonly double Sharpness
        {
            get
            {
                if (EdgePixels == 0)
                {
                    return 0;
                }

                var energy = Edges / EdgePixels;
                return Round(100 * energy / (energy + SharpnessHalfPoint));
            }
        }

        public static Sums operator +(Sums a, Sums b) => new()
        {
            Pixels = a.Pixels + b.Pixels,
            Luma = a.Luma + b.Luma,
            LumaSquares = a.LumaSquares + b.LumaSquares,
            Edges = a.Edges + b.Edges,
            EdgePixels = a.EdgePixels + b.EdgePixels,
        };
    }

    /// <summary>A box's pixel rectangle in the image: x0, y0 inclusive; x1, y1 exclusive.</summary>
    private static (int X0, int Y0, int X1, int Y1) Pixels(RgbImage image, BoundingBox box) => (
        Math.Clamp((int)Math.Floor(box.Left * image.Width), 0, image.Width),
        Math.Clamp((int)Math.Floor(box.Top * image.Height), 0, image.Height),
        Math.Clamp((int)Math.Ceiling((box.Left + box.Width) * image.Width), 0, image.Width),
        Math.Clamp((int)Math.Ceiling((box.Top + box.Height) * image.Height), 0, image.Height));

    /// <summary>A pooled all-false mask the size of the image (return it to <see cref="ArrayPool{T}.Shared"/>).</summary>
    private static bool[] RentMask(RgbImage image)
    {
        var mask = ArrayPool<bool>.Shared.Rent(image.Width * image.Height);
        Array.Clear(mask, 0, image.Width * image.Height);
        return mask;
    }

    private static bool[] BoxMask(RgbImage image, IReadOnlyList<BoundingBox> boxes)
    {
        var mask = RentMask(image);
        foreach (var box in boxes)
        {
            var (x0, y0, x1, y1) = Pixels(image, box);
            for (var y = y0; y < y1; y++)
            {
                Array.Fill(mask, true, (y * image.Width) + x0, x1 - x0);
            }
        }

        return mask;
    }

    /// <summary>
    /// Where nothing was detected, the foreground is what stands out: blocks whose colour is far from the
    /// image's mean colour (frequency-tuned saliency), more than twice the mean distance, favouring the centre.
    /// </summary>
    private static bool[] SaliencyMask(RgbImage image)
    {
        var step = Step(image.Width * image.Height);
        var columns = (image.Width + step - 1) / step;
        var rows = (image.Height + step - 1) / step;
        var labs = new Lab[columns * rows];
        float l = 0, a = 0, b = 0;
        for (var row = 0; row < rows; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                var lab = BlockLab(image, column * step, row * step, step);
                labs[(row * columns) + column] = lab;
                l += lab.L;
                a += lab.A;
                b += lab.B;
            }
        }

        var mean = new Lab(l / labs.Length, a / labs.Length, b / labs.Length);
        var saliency = new float[labs.Length];
        double total = 0;
        for (var row = 0; row < rows; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                // Centre bias: people frame what matters near the middle.
                var dx = ((column + 0.5) / columns) - 0.5;
                var dy = ((row + 0.5) / rows) - 0.5;
                var weight = 1.0 - (0.8 * ((dx * dx) + (dy * dy)));
                var value = (float)(MathF.Sqrt(labs[(row * columns) + column].DistanceSquared(mean)) * weight);
                saliency[(row * columns) + column] = value;
                total += value;
            }
        }

        var threshold = 2 * total / saliency.Length;
        var mask = RentMask(image);
        if (threshold < 4)
        {
            // A nearly uniform picture has no foreground.
            return mask;
        }

        for (var row = 0; row < rows; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                if (saliency[(row * columns) + column] <= threshold)
                {
                    continue;
                }

                var x1 = Math.Min(image.Width, (column + 1) * step);
                for (var y = row * step; y < Math.Min(image.Height, (row + 1) * step); y++)
                {
                    Array.Fill(mask, true, (y * image.Width) + (column * step), x1 - (column * step));
                }
            }
        }

        return mask;
    }

    private static Lab BlockLab(RgbImage image, int x0, int y0, int step)
    {
        int r = 0, g = 0, b = 0, n = 0;
        for (var y = y0; y < Math.Min(image.Height, y0 + step); y++)
        {
            for (var x = x0; x < Math.Min(image.Width, x0 + step); x++)
            {
                var p = ((y * image.Width) + x) * 3;
                r += image.Pixels[p];
                g += image.Pixels[p + 1];
                b += image.Pixels[p + 2];
                n++;
            }
        }

        return Lab.FromRgb((byte)(r / n), (byte)(g / n), (byte)(b / n));
    }

    private static int Step(long pixels, int samples = ColorSamples) => Math.Max(1, (int)Math.Sqrt(pixels / (double)samples));

    /// <summary>
    /// Dominant colours of the pixels in the rectangle (x0, y0)-(x1, y1) whose <paramref name="mask"/> value is
    /// <paramref name="side"/> (all when there is no mask); <paramref name="inside"/> of them are.
    /// </summary>
    private static List<DominantColor> DominantColors(RgbImage image, bool[]? mask, bool side, long inside, int x0, int y0, int x1, int y1, int maxColors, int sampleBudget = ColorSamples)
    {
        if (maxColors == 0)
        {
            return [];
        }

        if (inside == 0)
        {
            return [];
        }

        var step = Step(inside, sampleBudget);
        var samples = new List<(Lab Lab, byte R, byte G, byte B)>((int)(inside / step / step) + 16);
        for (var y = y0 + (step / 2); y < y1; y += step)
        {
            for (var x = x0 + (step / 2); x < x1; x += step)
            {
                var i = (y * image.Width) + x;
                if (mask is null || mask[i] == side)
                {
                    var p = i * 3;
                    samples.Add((Lab.FromRgb(image.Pixels[p], image.Pixels[p + 1], image.Pixels[p + 2]), image.Pixels[p], image.Pixels[p + 1], image.Pixels[p + 2]));
                }
            }
        }

        if (samples.Count == 0)
        {
            return [];
        }

        var clusters = KMeans(samples.ConvertAll(s => s.Lab).ToArray(), maxColors);
        var members = new int[clusters.Count];
        var sums = new long[clusters.Count, 3];
        foreach (var sample in samples)
        {
            var c = Nearest(CollectionsMarshal.AsSpan(clusters), sample.Lab);
            members[c]++;
            sums[c, 0] += sample.R;
            sums[c, 1] += sample.G;
            sums[c, 2] += sample.B;
        }

        var colors = new List<DominantColor>(clusters.Count);
        for (var c = 0; c < clusters.Count; c++)
        {
            if (members[c] == 0)
            {
                continue;
            }

            var red = (int)Math.Round(sums[c, 0] / (double)members[c]);
            var green = (int)Math.Round(sums[c, 1] / (double)members[c]);
            var blue = (int)Math.Round(sums[c, 2] / (double)members[c]);
            var (css, simple) = NamedColors.Nearest(Lab.FromRgb((byte)red, (byte)green, (byte)blue));
            colors.Add(new DominantColor(
                red,
                blue,
                green,
                string.Create(CultureInfo.InvariantCulture, $"#{red:X2}{green:X2}{blue:X2}"),
                css,
                simple,
                Round(100.0 * members[c] / samples.Count)));
        }

        return colors.OrderByDescending(c => c.PixelPercent).ThenBy(c => c.HexCode, StringComparer.Ordinal).Take(maxColors).ToList();
    }

    /// <summary>k-means++ (seeded, so repeatable) then Lloyd rounds, then merging of clusters the eye cannot tell apart.</summary>
    private static List<Lab> KMeans(Lab[] points, int k)
    {
        var random = new Random(7);
        // Arrays and spans, not lists: this runs for the image, its foreground, its background and every
        // detected instance, and is most of the cost of image properties.
        var centres = new Lab[k];
        var count = 1;
        centres[0] = points[points.Length / 2];
        // Each point's squared distance to its nearest centre so far, updated with each new centre only.
        var distances = new float[points.Length];
        Array.Fill(distances, float.MaxValue);
        while (count < k)
        {
            var added = centres[count - 1];
            double total = 0;
            for (var i = 0; i < points.Length; i++)
            {
                var d = Math.Min(distances[i], points[i].DistanceSquared(added));
                distances[i] = d;
                total += d;
            }

            if (total < 1e-3)
            {
                break;
            }

            var pick = random.NextDouble() * total;
            var chosen = points.Length - 1;
            for (var i = 0; i < points.Length; i++)
            {
                pick -= distances[i];
                if (pick <= 0)
                {
                    chosen = i;
                    break;
                }
            }

            centres[count++] = points[chosen];
        }

        var sums = new ClusterSum[count];
        for (var round = 0; round < KMeansRounds; round++)
        {
            Array.Clear(sums);
            var current = centres.AsSpan(0, count);
            foreach (var point in points)
            {
                ref var sum = ref sums[Nearest(current, point)];
                sum.L += point.L;
                sum.A += point.A;
                sum.B += point.B;
                sum.Count++;
            }

            var moved = false;
            for (var c = 0; c < count; c++)
            {
                if (sums[c].Count == 0)
                {
                    continue;
                }

                var next = new Lab((float)(sums[c].L / sums[c].Count), (float)(sums[c].A / sums[c].Count), (float)(sums[c].B / sums[c].Count));
                moved |= next.DistanceSquared(centres[c]) > 0.01f;
                centres[c] = next;
            }

            if (!moved)
            {
                break;
            }
        }

        // Merge near-identical centres (weighted by their sizes), closest pair first.
        var merged = centres.Take(count).ToList();
        var weights = sums.Select(s => s.Count).ToList();
        while (true)
        {
            int a = -1, b = -1;
            var closest = MergeDistance * MergeDistance;
            for (var i = 0; i < merged.Count; i++)
            {
                for (var j = i + 1; j < merged.Count; j++)
                {
                    var d = merged[i].DistanceSquared(merged[j]);
                    if (d < closest)
                    {
                        (closest, a, b) = (d, i, j);
                    }
                }
            }

            if (a < 0)
            {
                return merged;
            }

            var wa = Math.Max(weights[a], 1e-9);
            var wb = Math.Max(weights[b], 1e-9);
            var w = wa + wb;
            merged[a] = new Lab(
                (float)(((merged[a].L * wa) + (merged[b].L * wb)) / w),
                (float)(((merged[a].A * wa) + (merged[b].A * wb)) / w),
                (float)(((merged[a].B * wa) + (merged[b].B * wb)) / w));
            weights[a] = w;
            merged.RemoveAt(b);
            weights.RemoveAt(b);
        }
    }

    /// <summary>A cluster's running sums in one Lloyd round.</summary>
    private struct ClusterSum
    {
        public double L;
        public double A;
        public double B;
        public double Count;
    }

    private static int Nearest(ReadOnlySpan<Lab> centres, Lab point)
    {
        var best = 0;
        var bestDistance = float.MaxValue;
        for (var c = 0; c < centres.Length; c++)
        {
            var d = point.DistanceSquared(centres[c]);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = c;
            }
        }

        return best;
    }

    private static double Round(double value) => Math.Round(value, 2);
}
