using LabelLens.Detection;

namespace LabelLens.Vision;

/// <summary>Video frames: ffmpeg already decoded, scaled and padded them, so decoding is skipped.</summary>
public sealed partial class YoloxDetector : IFrameDetector
{
    public IReadOnlyList<Detection.Detection> DetectFrame(RgbFrame frame, float minScore, CancellationToken cancellationToken = default)
    {
        var expected = 3 * InputWidth * InputHeight;
        if (frame.Pixels.Length != expected)
        {
            throw new ArgumentException($"A frame for this model is {InputWidth}x{InputHeight} rgb24 ({expected} bytes); got {frame.Pixels.Length} bytes.", nameof(frame));
        }

        if (frame.ContentWidth is < 1 || frame.ContentWidth > InputWidth || frame.ContentHeight is < 1 || frame.ContentHeight > InputHeight
            || frame.SourceWidth < 1 || frame.SourceHeight < 1)
        {
            throw new ArgumentException($"Frame geometry {frame.ContentWidth}x{frame.ContentHeight} of {frame.SourceWidth}x{frame.SourceHeight} does not fit the {InputWidth}x{InputHeight} input.", nameof(frame));
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Infer(
            frame.Pixels.Span,
            minScore,
            frame.SourceWidth / (float)frame.ContentWidth,
            frame.SourceHeight / (float)frame.ContentHeight,
            cancellationToken,
            out _,
            out _);
    }
}
