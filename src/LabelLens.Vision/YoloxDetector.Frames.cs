using System.Buffers;
using LabelLens.Detection;
using Microsoft.ML.OnnxRuntime;

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
        // Same pooled tensor and SIMD fill as for images.
        var tensor = ArrayPool<float>.Shared.Rent(expected);
        try
        {
            VipsImageDecoder.FillPlanarBgr(frame.Pixels.Span, tensor);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensor.AsMemory(0, expected), _inputShape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
            var candidates = YoloxPostprocessor.Decode(
                outputs[0].GetTensorDataAsSpan<float>(),
                _grid,
                ClassCount,
                minScore,
                frame.SourceWidth / (float)frame.ContentWidth,
                frame.SourceHeight / (float)frame.ContentHeight);
            return YoloxPostprocessor.NonMaxSuppression(candidates, (float)_options.NmsIou, _options.MaxDetections);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }
}
