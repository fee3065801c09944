using System.Diagnostics;
using LabelLens.Detection;
using LabelLens.Properties;

namespace LabelLens.Labels;

/// <summary>Encoded image in, Rekognition-shaped labels (and, when asked, image properties) out: the detector plus the taxonomy.</summary>
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
        var output = detector.Detect(encodedImage, minScore, request.ImageProperties, cancellationToken);
        var labels = request.GeneralLabels
            ? labelBuilder.Build(output.Detections, detector.ClassNames, output.Image.Width, output.Image.Height, request)
            : [];
        if (!request.ImageProperties || output.Pixels is not { } pixels)
        {
            return new LabelsResult(labels, detector.ModelVersion, output.Image, output.Timings);
        }

        var started = Stopwatch.GetTimestamp();
        // The foreground is every confident detection, whatever the label filters keep.
        var foreground = output.Detections
            .Where(d => LabelBuilder.ToConfidence(d.Score) >= request.MinConfidence)
            .Select(d => LabelBuilder.ToBox(d, output.Image.Width, output.Image.Height))
            .ToList();
        var properties = ImagePropertiesAnalyzer.Analyze(pixels, foreground, request.MaxDominantColors);
        labels = labels.Select(label => label.Instances.Count == 0 ? label : label with
        {
            Instances = label.Instances.Select(i => i with { DominantColors = ImagePropertiesAnalyzer.ColorsIn(pixels, i.BoundingBox, request.MaxDominantColors) }).ToList(),
        }).ToList();
        var timings = output.Timings with { PropertiesMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds };
        return new LabelsResult(labels, detector.ModelVersion, output.Image, timings) { ImageProperties = properties };
    }
}
