using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Labels;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>DetectText's answer, exactly the service's shape.</summary>
public sealed record DetectTextResponse(IReadOnlyList<TextDetection> TextDetections, string TextModelVersion);

/// <summary>
/// Rekognition's DetectText on the same endpoint as DetectLabels: the same Image (Bytes or S3Object), errors,
/// limits and signatures; the text analysis (PP-OCRv4) reads the picture synchronously. Filters.WordFilter and
/// Filters.RegionsOfInterest select words as the service documents; lines and words come back as LINE and
/// WORD detections with ratio boxes and polygons.
/// </summary>
public sealed partial class RekognitionApi
{
    public const string DetectTextTarget = "RekognitionService.DetectText";

    /// <summary>Rekognition allows at most 10 regions of interest.</summary>
    private const int MaxRegions = 10;

    private static readonly string[] Operations =
        [DetectLabelsTarget, DetectTextTarget, DetectFacesTarget, StartLabelDetectionTarget, GetLabelDetectionTarget, StartTextDetectionTarget, GetTextDetectionTarget, StartFaceDetectionTarget, GetFaceDetectionTarget,
         StartSegmentDetectionTarget, GetSegmentDetectionTarget];

    private static string OperationName(Microsoft.AspNetCore.Http.HttpContext context) =>
        context.Request.Headers["X-Amz-Target"].ToString() is var target && Operations.Contains(target, StringComparer.Ordinal) ? target["RekognitionService.".Length..] : "Rekognition";

    private async Task<DetectTextResponse> DetectTextAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var image = ParseImage(root);
        var filter = ParseTextFilter(root);
        // Read down to the caller's word confidence when it asks for less than the configured floor.
        var floor = Math.Min(filter.MinConfidence > 0 ? filter.MinConfidence : double.MaxValue, _textOptions.MinConfidence);
        var reading = await RunAsync(image, () => _holder.TextReaderAsync(cancellationToken), (labeler, bytes, ct) => labeler.ReadText(bytes, floor, ct), cancellationToken);
        return new DetectTextResponse(TextDetections.From(reading.Text, filter), reading.Text.Model.Version);
    }

    private static TextFilter ParseTextFilter(JsonElement root)
    {
        if (Member(root, "Filters") is not { } filters)
        {
            return TextFilter.None;
        }

        var word = Member(filters, "WordFilter");
        var regions = Member(filters, "RegionsOfInterest") is { } list ? ParseRegions(list) : [];
        return new TextFilter
        {
            MinConfidence = Ratio(word, "MinConfidence", 100),
            MinBoundingBoxHeight = Ratio(word, "MinBoundingBoxHeight", 1),
            MinBoundingBoxWidth = Ratio(word, "MinBoundingBoxWidth", 1),
            RegionsOfInterest = regions,
        };
    }

    private static double Ratio(JsonElement? parent, string name, double max)
    {
        if (parent is not { } element || Member(element, name) is not { } member)
        {
            return 0;
        }

        var value = Number(member, $"Filters.WordFilter.{name}");
        return double.IsNaN(value) || value < 0 || value > max
            ? throw RekognitionException.InvalidParameter($"Filters.WordFilter.{name} must be between 0 and {max}.")
            : value;
    }

    private static List<BoundingBox> ParseRegions(JsonElement list)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw RekognitionException.InvalidParameter("Filters.RegionsOfInterest must be a list.");
        }

        var regions = new List<BoundingBox>();
        foreach (var region in list.EnumerateArray())
        {
            if (regions.Count == MaxRegions)
            {
                throw RekognitionException.InvalidParameter($"Filters.RegionsOfInterest can hold at most {MaxRegions} regions.");
            }

            if (Member(region, "BoundingBox") is { } box)
            {
                double Side(string name) => Member(box, name) is { } v ? Number(v, $"Filters.RegionsOfInterest.BoundingBox.{name}") : 0;
                regions.Add(new BoundingBox(Side("Width"), Side("Height"), Side("Left"), Side("Top")));
            }
            else if (Member(region, "Polygon") is { ValueKind: JsonValueKind.Array } polygon && polygon.GetArrayLength() >= 3)
            {
                // A polygon region counts as the box around it.
                var points = polygon.EnumerateArray()
                    .Select(p => new TextPoint(Member(p, "X") is { } x ? Number(x, "Polygon.X") : 0, Member(p, "Y") is { } y ? Number(y, "Polygon.Y") : 0))
                    .ToList();
                regions.Add(TextGeometry.Bounds(points));
            }
            else
            {
                throw RekognitionException.InvalidParameter("Each of Filters.RegionsOfInterest needs a BoundingBox or a Polygon of at least 3 points.");
            }
        }

        return regions;
    }
}
