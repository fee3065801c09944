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

/// <summary>A face on one sampled frame: the Face label's box and confidence on that frame (frame quality is not stored, so it is left out).</summary>
public sealed record VideoFace(LabelLens.Labels.BoundingBox BoundingBox, double Confidence);

/// <summary>One face at one sampled frame's time, as GetFaceDetection returns it.</summary>
public sealed record FaceDetectionResult(long Timestamp, VideoFace Face);

/// <summary>GetFaceDetection's response (PascalCase, as Rekognition).</summary>
public sealed record GetFaceDetectionResponse(
    string JobStatus,
    string? StatusMessage,
    VideoMetadataResponse? VideoMetadata,
    IReadOnlyList<FaceDetectionResult> Faces,
    string? NextToken,
    string JobId,
    VideoSource Video);

/// <summary>
/// StartFaceDetection / GetFaceDetection, mapped onto the video's labeling job like StartLabelDetection: the face
/// analysis runs on every sampled frame in the labeling pass, so a video's faces are its frames' Face instances.
/// </summary>
public sealed partial class RekognitionApi
{
    public const string StartFaceDetectionTarget = "RekognitionService.StartFaceDetection";
    public const string GetFaceDetectionTarget = "RekognitionService.GetFaceDetection";

    private const string FacesJob = "faces-";

    /// <summary>Frame labels are read this many at a time while the Face ones are picked out.</summary>
    private const int FrameLabelPage = 5000;

    private async Task<GetFaceDetectionResponse> GetFaceDetectionAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var (video, jobId, offset, maxResults) = await VideoJobAsync(root, FacesJob, cancellationToken);
        var status = LabelLens.Application.ImageViews.JobStatus(video);
        var faces = new List<FaceDetectionResult>();
        if (video.ResultJobId is { } result && status == "SUCCEEDED")
        {
            for (var start = 0; ; start += FrameLabelPage)
            {
                var page = await _catalog.GetVideoFrameLabelsAsync(video.ImageId, result, byName: false, start, FrameLabelPage, cancellationToken);
                faces.AddRange(page
                    .Where(f => f.Label.Name == DetectedFaces.FaceLabel)
                    .SelectMany(f => f.Label.Instances.Select(i => new FaceDetectionResult(f.TimestampMillis, new VideoFace(i.BoundingBox, i.Confidence)))));
                if (page.Count < FrameLabelPage)
                {
                    break;
                }
            }
        }

        var limit = Math.Min(maxResults ?? VideoEndpoints.DefaultMaxResults, VideoEndpoints.DefaultMaxResults);
        return new GetFaceDetectionResponse(
            status,
            status == "FAILED" ? video.Job?.Error : null,
            VideoEndpoints.Metadata(video),
            faces.Skip(offset).Take(limit).ToList(),
            offset + limit < faces.Count ? VideoEndpoints.EncodeOffset(offset + limit) : null,
            jobId,
            new VideoSource(new VideoS3Object(video.Bucket, video.Key)));
    }
}
