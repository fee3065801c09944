using System.Text.Json;
using LabelLens.Analysis;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>
/// DetectFaces' answer in the service's shape. Each FaceDetail has BoundingBox, Confidence and Quality
/// (Brightness, Sharpness) only: UltraFace finds boxes, so Landmarks, Pose and the ALL attributes (AgeRange,
/// Emotions, Smile...) are left out rather than invented. OrientationCorrection is not returned (the service
/// stopped returning it; the picture is read in its EXIF orientation).
/// </summary>
public sealed record DetectFacesResponse(IReadOnlyList<FaceDetail> FaceDetails);

/// <summary>Rekognition's DetectFaces on the same endpoint as DetectLabels: the same Image (Bytes or S3Object), errors, limits and signatures.</summary>
public sealed partial class RekognitionApi
{
    public const string DetectFacesTarget = "RekognitionService.DetectFaces";

    /// <summary>The attribute names the service accepts; every one is accepted, none adds anything this model cannot find.</summary>
    private static readonly string[] FaceAttributeNames =
    [
        "DEFAULT", "ALL", "AGE_RANGE", "BEARD", "EMOTIONS", "EYE_DIRECTION", "EYEGLASSES", "EYES_OPEN", "GENDER",
        "MOUTH_OPEN", "MUSTACHE", "FACE_OCCLUDED", "SMILE", "SUNGLASSES",
    ];

    private async Task<DetectFacesResponse> DetectFacesAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var image = ParseImage(root);
        var attributes = Member(root, "Attributes") is { ValueKind: not JsonValueKind.Null } list ? StringList(list, "Attributes") : [];
        foreach (var attribute in attributes.Where(a => !FaceAttributeNames.Contains(a, StringComparer.Ordinal)))
        {
            throw RekognitionException.InvalidParameter($"Attributes: '{Printable(attribute)}' is not one of {string.Join(", ", FaceAttributeNames)}.");
        }

        var faces = await RunAsync(
            image,
            async () => await _holder.Labeler is { Faces: not null } labeler
                ? labeler
                : throw RekognitionException.InvalidParameter("This server does not detect faces: run it with the face analysis on (Analysis:Tasks=objects,classes,faces)."),
            (labeler, bytes, ct) => labeler.DetectFaces(bytes, ct).Faces,
            cancellationToken);
        return new DetectFacesResponse(faces.Faces);
    }
}
