using System.Numerics.Tensors;

namespace LabelLens.Vision;

/// <summary>The anchor point and stride of each output row of a YOLOX model (strides 8, 16, 32).</summary>
public sealed class YoloxGrid
{
    public static readonly int[] Strides = [8, 16, 32];

    public YoloxGrid(int inputWidth, int inputHeight)
    {
        var x = new List<float>();
        var y = new List<float>();
        var s = new List<float>();
        foreach (var stride in Strides)
        {
            int rows = inputHeight / stride, columns = inputWidth / stride;
            for (var gy = 0; gy < rows; gy++)
            {
                for (var gx = 0; gx < columns; gx++)
                {
                    x.Add(gx);
                    y.Add(gy);
                    s.Add(stride);
                }
            }
        }

        X = [.. x];
        Y = [.. y];
        Stride = [.. s];
    }

    public float[] X { get; }

    public float[] Y { get; }

    public float[] Stride { get; }

    public int Rows => X.Length;
}

/// <summary>
/// Decodes raw YOLOX output rows <c>[x, y, w, h, objectness, class scores...]</c> (already sigmoid-ed) into
/// boxes in source-image pixels, then applies class-wise non-maximum suppression.
/// </summary>
public static class YoloxPostprocessor
{
    /// <param name="output">Rows of <c>5 + classCount</c> floats, one per grid cell.</param>
    /// <param name="scaleX">Source pixels per input pixel horizontally (undoes the letterbox resize).</param>
    /// <param name="scaleY">Source pixels per input pixel vertically.</param>
    public static List<Detection.Detection> Decode(ReadOnlySpan<float> output, YoloxGrid grid, int classCount, float minScore, float scaleX, float scaleY)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var width = 5 + classCount;
        if (output.Length != grid.Rows * width)
        {
            throw new InvalidDataException($"YOLOX output has {output.Length} values; expected {grid.Rows} rows of {width}.");
        }

        var candidates = new List<Detection.Detection>();
        for (var row = 0; row < grid.Rows; row++)
        {
            var values = output.Slice(row * width, width);
            var objectness = values[4];
            // score = objectness x class score <= objectness: most rows end here.
            if (objectness < minScore)
            {
                continue;
            }

            var classes = values[5..];
            if (objectness * TensorPrimitives.Max(classes) < minScore)
            {
                continue;
            }

            var stride = grid.Stride[row];
            var cx = (values[0] + grid.X[row]) * stride;
            var cy = (values[1] + grid.Y[row]) * stride;
            var halfW = MathF.Exp(values[2]) * stride / 2;
            var halfH = MathF.Exp(values[3]) * stride / 2;
            float x1 = (cx - halfW) * scaleX, y1 = (cy - halfH) * scaleY, x2 = (cx + halfW) * scaleX, y2 = (cy + halfH) * scaleY;
            // A cell may carry several classes above the threshold (a pickup scored as car and truck).
            for (var c = 0; c < classCount; c++)
            {
                var score = objectness * classes[c];
                if (score >= minScore)
                {
                    candidates.Add(new Detection.Detection(c, score, x1, y1, x2, y2));
                }
            }
        }

        return candidates;
    }

    /// <summary>Greedy class-wise NMS: within each class, drop a box overlapping a better one by more than <paramref name="iouThreshold"/>.</summary>
    public static List<Detection.Detection> NonMaxSuppression(List<Detection.Detection> candidates, float iouThreshold, int maxDetections)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        candidates.Sort((a, b) => b.Score.CompareTo(a.Score));
        var kept = new List<Detection.Detection>();
        foreach (var candidate in candidates)
        {
            if (kept.Count >= maxDetections)
            {
                break;
            }

            var suppressed = false;
            foreach (var better in kept)
            {
                if (better.ClassIndex == candidate.ClassIndex && IoU(better, candidate) > iouThreshold)
                {
                    suppressed = true;
                    break;
                }
            }

            if (!suppressed)
            {
                kept.Add(candidate);
            }
        }

        return kept;
    }

    public static float IoU(in Detection.Detection a, in Detection.Detection b)
    {
        var width = MathF.Min(a.X2, b.X2) - MathF.Max(a.X1, b.X1);
        var height = MathF.Min(a.Y2, b.Y2) - MathF.Max(a.Y1, b.Y1);
        if (width <= 0 || height <= 0)
        {
            return 0;
        }

        var intersection = width * height;
        var union = ((a.X2 - a.X1) * (a.Y2 - a.Y1)) + ((b.X2 - b.X1) * (b.Y2 - b.Y1)) - intersection;
        return union <= 0 ? 0 : intersection / union;
    }
}
