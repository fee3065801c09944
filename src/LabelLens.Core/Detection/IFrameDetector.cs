namespace LabelLens.Detection;

/// <summary>
/// An already-decoded RGB frame at the detector's input size: <see cref="Pixels"/> holds
/// InputWidth × InputHeight × 3 bytes (rgb24), the picture scaled to fit at the top-left
/// (<see cref="ContentWidth"/> × <see cref="ContentHeight"/>) and the rest padded, exactly as the
/// detector's own letterboxing does. <see cref="SourceWidth"/> × <see cref="SourceHeight"/> is the
/// original frame size, so boxes come back in the original frame's pixels.
/// </summary>
public readonly record struct RgbFrame(ReadOnlyMemory<byte> Pixels, int ContentWidth, int ContentHeight, int SourceWidth, int SourceHeight);

/// <summary>
/// A detector that can also take decoded frames (video): the decoder (ffmpeg) already scaled and padded
/// them, so only the tensor fill, the model and the postprocessing run. Safe to call from many threads.
/// </summary>
public interface IFrameDetector
{
    /// <summary>Model input width in pixels: frames must be letterboxed to this.</summary>
    int InputWidth { get; }

    /// <summary>Model input height in pixels.</summary>
    int InputHeight { get; }

    /// <summary>Detects objects scoring at least <paramref name="minScore"/> (0-1); boxes in source-frame pixels.</summary>
    IReadOnlyList<Detection> DetectFrame(RgbFrame frame, float minScore, CancellationToken cancellationToken = default);
}
