using System.Numerics;

namespace LabelLens.Vision.Ocr;

/// <summary>
/// A text box as four corners (clockwise from the top left of the text: the top edge runs along the line's
/// reading direction), in pixels of the picture it was found in.
/// </summary>
public readonly record struct TextQuad(Vector2 TopLeft, Vector2 TopRight, Vector2 BottomRight, Vector2 BottomLeft)
{
    public float Width => Vector2.Distance(TopLeft, TopRight);

    public float Height => Vector2.Distance(TopLeft, BottomLeft);

    /// <summary>The same box read the other way up (the angle classifier said it is upside down).</summary>
    public TextQuad Rotated180 => new(BottomRight, BottomLeft, TopLeft, TopRight);

    /// <summary>The part of the box between <paramref name="from"/> and <paramref name="to"/> (0-1) along its reading direction (a word of a line).</summary>
    public TextQuad Slice(float from, float to) => new(
        Vector2.Lerp(TopLeft, TopRight, from),
        Vector2.Lerp(TopLeft, TopRight, to),
        Vector2.Lerp(BottomLeft, BottomRight, to),
        Vector2.Lerp(BottomLeft, BottomRight, from));

    public TextQuad Scale(float x, float y) => new(TopLeft * new Vector2(x, y), TopRight * new Vector2(x, y), BottomRight * new Vector2(x, y), BottomLeft * new Vector2(x, y));

    public float Top => MathF.Min(MathF.Min(TopLeft.Y, TopRight.Y), MathF.Min(BottomRight.Y, BottomLeft.Y));

    public float Left => MathF.Min(MathF.Min(TopLeft.X, TopRight.X), MathF.Min(BottomRight.X, BottomLeft.X));
}

/// <summary>
/// The detector's postprocessing (PaddleOCR's DB postprocess): the probability map is thresholded, each
/// connected region of text pixels becomes its minimum-area rectangle, regions whose mean probability inside
/// that rectangle is low are dropped, and the rest are expanded ("unclip": the map marks a shrunk text core).
/// </summary>
public static class TextBoxes
{
    /// <param name="map">The probability map, row-major, <paramref name="width"/> × <paramref name="height"/>.</param>
    /// <param name="binaryThreshold">Pixels above this are text (PaddleOCR: 0.3).</param>
    /// <param name="boxThreshold">Regions whose mean probability is below this are dropped (PaddleOCR: 0.6).</param>
    /// <param name="unclipRatio">How far each box grows: its area × ratio / perimeter on every side (PaddleOCR: 1.5).</param>
    /// <returns>Boxes in map pixels, with the mean probability of each.</returns>
    public static List<(TextQuad Box, float Score)> Find(ReadOnlySpan<float> map, int width, int height, float binaryThreshold, float boxThreshold, float unclipRatio, int maxBoxes)
    {
        var labels = new int[width * height];
        var boxes = new List<(TextQuad, float)>();
        var stack = new Stack<int>();
        var next = 0;
        for (var start = 0; start < labels.Length && boxes.Count < maxBoxes; start++)
        {
            if (labels[start] != 0 || map[start] <= binaryThreshold)
            {
                continue;
            }

            // One region (8-connected), flood-filled; per row only its leftmost and rightmost pixels matter for the hull.
            next++;
            var rowMin = new Dictionary<int, (int Min, int Max)>();
            labels[start] = next;
            stack.Push(start);
            var count = 0;
            while (stack.Count > 0)
            {
                var index = stack.Pop();
                count++;
                var x = index % width;
                var y = index / width;
                rowMin[y] = rowMin.TryGetValue(y, out var span) ? (Math.Min(span.Min, x), Math.Max(span.Max, x)) : (x, x);
                for (var dy = -1; dy <= 1; dy++)
                {
                    var ny = y + dy;
                    if (ny < 0 || ny >= height)
                    {
                        continue;
                    }

                    for (var dx = -1; dx <= 1; dx++)
                    {
                        var nx = x + dx;
                        if (nx < 0 || nx >= width)
                        {
                            continue;
                        }

                        var neighbour = (ny * width) + nx;
                        if (labels[neighbour] == 0 && map[neighbour] > binaryThreshold)
                        {
                            labels[neighbour] = next;
                            stack.Push(neighbour);
                        }
                    }
                }
            }

            if (count < 4)
            {
                continue;
            }

            // The pixels' outer corners: a one-pixel-high region still has a height of one.
            var points = new List<Vector2>(rowMin.Count * 4);
            foreach (var (y, (min, max)) in rowMin)
            {
                points.Add(new Vector2(min, y));
                points.Add(new Vector2(min, y + 1));
                points.Add(new Vector2(max + 1, y));
                points.Add(new Vector2(max + 1, y + 1));
            }

            var (center, axis, length, thickness) = MinAreaRect(ConvexHull(points));
            if (Math.Min(length, thickness) < 3)
            {
                continue;
            }

            var score = MeanInside(map, width, height, Corners(center, axis, length, thickness));
            if (score < boxThreshold)
            {
                continue;
            }

            var grow = length * thickness * unclipRatio / (2 * (length + thickness));
            length += 2 * grow;
            thickness += 2 * grow;
            if (Math.Min(length, thickness) < 5)
            {
                continue;
            }

            boxes.Add((Corners(center, axis, length, thickness), score));
        }

        return boxes;
    }

    /// <summary>
    /// The rectangle's corners with the top edge along the axis closer to horizontal, read left to right. A box
    /// much taller than wide is vertical text: it is read top to bottom, turned a quarter (as PaddleOCR does).
    /// </summary>
    public static TextQuad Corners(Vector2 center, Vector2 axis, float length, float thickness)
    {
        var u = axis;
        var v = new Vector2(-axis.Y, axis.X);
        var w = length;
        var h = thickness;
        if (MathF.Abs(u.X) < MathF.Abs(u.Y))
        {
            (u, v, w, h) = (v, u, h, w);
        }

        if (u.X < 0)
        {
            u = -u;
        }

        v = new Vector2(-u.Y, u.X);
        if (h >= 1.5f * w)
        {
            // Vertical text: the reading direction runs down the long side; the crop is turned counter-clockwise.
            (u, v, w, h) = (v, -u, h, w);
        }

        var halfU = u * (w / 2);
        var halfV = v * (h / 2);
        return new TextQuad(center - halfU - halfV, center + halfU - halfV, center + halfU + halfV, center - halfU + halfV);
    }

    /// <summary>Andrew's monotone chain; the points may repeat.</summary>
    public static List<Vector2> ConvexHull(List<Vector2> points)
    {
        var sorted = points.Distinct().OrderBy(p => p.X).ThenBy(p => p.Y).ToList();
        if (sorted.Count < 3)
        {
            return sorted;
        }

        var hull = new Vector2[2 * sorted.Count];
        var k = 0;
        foreach (var p in sorted)
        {
            while (k >= 2 && Cross(hull[k - 2], hull[k - 1], p) <= 0)
            {
                k--;
            }

            hull[k++] = p;
        }

        for (int i = sorted.Count - 2, lower = k + 1; i >= 0; i--)
        {
            var p = sorted[i];
            while (k >= lower && Cross(hull[k - 2], hull[k - 1], p) <= 0)
            {
                k--;
            }

            hull[k++] = p;
        }

        return hull.Take(k - 1).ToList();
    }

    /// <summary>The minimum-area rectangle around a convex hull: one of its sides lies along a hull edge.</summary>
    public static (Vector2 Center, Vector2 Axis, float Length, float Thickness) MinAreaRect(List<Vector2> hull)
    {
        var best = (Center: Vector2.Zero, Axis: Vector2.UnitX, Length: 0f, Thickness: 0f);
        var bestArea = float.MaxValue;
        for (var i = 0; i < hull.Count; i++)
        {
            var edge = hull[(i + 1) % hull.Count] - hull[i];
            if (edge.LengthSquared() < 1e-12f)
            {
                continue;
            }

            var u = Vector2.Normalize(edge);
            var v = new Vector2(-u.Y, u.X);
            float minU = float.MaxValue, maxU = float.MinValue, minV = float.MaxValue, maxV = float.MinValue;
            foreach (var p in hull)
            {
                var a = Vector2.Dot(p, u);
                var b = Vector2.Dot(p, v);
                minU = MathF.Min(minU, a);
                maxU = MathF.Max(maxU, a);
                minV = MathF.Min(minV, b);
                maxV = MathF.Max(maxV, b);
            }

            var area = (maxU - minU) * (maxV - minV);
            if (area < bestArea)
            {
                bestArea = area;
                best = ((u * ((minU + maxU) / 2)) + (v * ((minV + maxV) / 2)), u, maxU - minU, maxV - minV);
            }
        }

        return best;
    }

    /// <summary>The mean probability of the pixels whose centres lie inside the box (PaddleOCR's box score).</summary>
    private static float MeanInside(ReadOnlySpan<float> map, int width, int height, TextQuad box)
    {
        var corners = new[] { box.TopLeft, box.TopRight, box.BottomRight, box.BottomLeft };
        var x0 = Math.Max(0, (int)MathF.Floor(corners.Min(c => c.X)));
        var x1 = Math.Min(width - 1, (int)MathF.Ceiling(corners.Max(c => c.X)));
        var y0 = Math.Max(0, (int)MathF.Floor(corners.Min(c => c.Y)));
        var y1 = Math.Min(height - 1, (int)MathF.Ceiling(corners.Max(c => c.Y)));
        double sum = 0;
        var count = 0;
        for (var y = y0; y <= y1; y++)
        {
            for (var x = x0; x <= x1; x++)
            {
                var p = new Vector2(x + 0.5f, y + 0.5f);
                if (Inside(corners, p))
                {
                    sum += map[(y * width) + x];
                    count++;
                }
            }
        }

        return count == 0 ? 0 : (float)(sum / count);
    }

    private static bool Inside(Vector2[] convex, Vector2 p)
    {
        var sign = 0;
        for (var i = 0; i < convex.Length; i++)
        {
            var cross = Cross(convex[i], convex[(i + 1) % convex.Length], p);
            if (MathF.Abs(cross) < 1e-6f)
            {
                continue;
            }

            var s = cross > 0 ? 1 : -1;
            if (sign != 0 && s != sign)
            {
                return false;
            }

            sign = s;
        }

        return true;
    }

    private static float Cross(Vector2 o, Vector2 a, Vector2 b) => ((a.X - o.X) * (b.Y - o.Y)) - ((a.Y - o.Y) * (b.X - o.X));
}
