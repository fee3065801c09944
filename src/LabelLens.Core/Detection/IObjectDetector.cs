using LabelLens.Labels;

namespace LabelLens.Detection;

/// <summary>One detected object in oriented-image pixel coordinates (x1,y1 top-left; x2,y2 bottom-right).</summary>
public readonly record struct Detection(int ClassIndex, float Score, float X1, float Y1, float X2, float Y2);

/// <summary>Everything a detector returns for one image.</summary>
public sealed record DetectionOutput(IReadOnlyList<Detection> Detections, ImageInfo Image, StageTimings Timings)
{
    /// <summary>The decoded image at the model's scale (no padding), when the caller asked to keep it.</summary>
    public RgbImage? Pixels { get; init; }
}

/// <summary>
/// The seam between the product and a model runtime. Implementations own decoding (they know the input
/// size and colour layout their model wants), so callers hand over encoded bytes.
/// Implementations must be safe to call from many threads at once.
/// </summary>
public interface IObjectDetector : IDisposable
{
    /// <summary>Class names in model index order.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Identifies model and weights, e.g. "yolox-nano:695e750a5d57"; stored with every label (provenance).</summary>
    string ModelVersion { get; }

    /// <summary>
    /// Detects objects scoring at least <paramref name="minScore"/> (0-1). With <paramref name="keepPixels"/>
    /// the decoded image (at the model's scale) comes back too, for image properties without a second decode.
    /// </summary>
    /// <exception cref="ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    DetectionOutput Detect(byte[] encodedImage, float minScore, bool keepPixels = false, CancellationToken cancellationToken = default);
}
