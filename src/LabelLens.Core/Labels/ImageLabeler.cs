using LabelLens.Detection;

namespace LabelLens.Labels;

/// <summary>Encoded image in, Rekognition-shaped labels out: the detector plus the taxonomy.</summary>
public sealed class ImageLabeler(IObjectDetector detector, LabelBuilder labelBuilder)
{
    /// <summary>Detector scores below this are never worth decoding into boxes, even when MinConfidence is 0.</summary>
    public const float ScoreFloor = 0.01f;

    public IObjectDetector Detector => detector;

    /// <exception cref="ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    public LabelsResult Label(byte[] encodedImage, LabelRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        var minScore = Math.Max(ScoreFloor, (float)(request.MinConfidence / 100.0));
        var output = detector.Detect(encodedImage, minScore, cancellationToken);
        var labels = labelBuilder.Build(output.Detections, detector.ClassNames, output.Image.Width, output.Image.Height, request);
        return new LabelsResult(labels, detector.ModelVersion, output.Image, output.Timings);
    }
}
