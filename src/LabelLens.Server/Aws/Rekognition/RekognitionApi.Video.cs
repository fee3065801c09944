using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Storage;
using LabelLens.Video;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>StartLabelDetection / StartTextDetection: the job to poll.</summary>
public sealed record StartVideoJobResponse(string JobId);

/// <summary>One LINE or WORD at the time its text appears (an occurrence's start), as GetTextDetection returns it.</summary>
public sealed record TextDetectionResult(long Timestamp, TextDetection TextDetection);

public sealed record VideoS3Object(string Bucket, string Name);

public sealed record VideoSource(VideoS3Object S3Object);

/// <summary>GetTextDetection's response (PascalCase, as Rekognition).</summary>
public sealed record GetTextDetectionResponse(
    string JobStatus,
    string? StatusMessage,
    VideoMetadataResponse? VideoMetadata,
    IReadOnlyList<TextDetectionResult> TextDetections,
    string? NextToken,
    string? TextModelVersion,
    string JobId,
    VideoSource Video);

/// <summary>
/// Rekognition Video over the wire, mapped onto LabelLens's own video jobs: every video uploaded to a LabelLens
/// bucket is labeled (and, with the text analysis on, read) by the server as it arrives, so Start* names that work
/// (queuing it again if it failed) and answers a JobId; Get* pages its results (GetLabelDetection exactly as
/// <c>GET /api/v1/videos/{id}/labels</c>; GetTextDetection one LINE and its WORDs per text occurrence, at the
/// occurrence's start). NotificationChannel (SNS) is refused: LabelLens's outbound webhooks (LabelsReady) say when
/// a video is done.
/// </summary>
public sealed partial class RekognitionApi
{
    public const string StartLabelDetectionTarget = "RekognitionService.StartLabelDetection";
    public const string GetLabelDetectionTarget = "RekognitionService.GetLabelDetection";
    public const string StartTextDetectionTarget = "RekognitionService.StartTextDetection";
    public const string GetTextDetectionTarget = "RekognitionService.GetTextDetection";

    private const string LabelsJob = "labels-";
    private const string TextJob = "text-";

    /// <param name="jobOptions">Put between the kind and the image id in the JobId (what a Get needs to know of the Start request).</param>
    private async Task<StartVideoJobResponse> StartVideoJobAsync(JsonElement root, string kind, CancellationToken cancellationToken, string jobOptions = "")
    {
        if (Member(root, "NotificationChannel") is not null)
        {
            throw RekognitionException.InvalidParameter(
                "NotificationChannel (Amazon SNS) is not supported by LabelLens: poll Get" + DetectionName(kind)
                + " with the JobId, or configure a webhook (Webhooks in the configuration), which receives LabelsReady when a video is labeled.");
        }

        if (Member(root, "Video") is not { } video || Member(video, "S3Object") is not { } s3
            || Member(s3, "Bucket") is not { ValueKind: JsonValueKind.String } bucket || Member(s3, "Name") is not { ValueKind: JsonValueKind.String } name)
        {
            throw RekognitionException.InvalidParameter("Video.S3Object needs Bucket and Name strings (a video in a LabelLens bucket).");
        }

        var image = await _catalog.GetImageAsync(bucket.GetString()!, name.GetString()!, cancellationToken)
            ?? throw RekognitionException.InvalidS3Object($"Unable to get object metadata from S3: no object '{Printable(name.GetString()!)}' in bucket '{Printable(bucket.GetString()!)}'.");
        var record = await _catalog.GetVideoAsync(image.Id, cancellationToken)
            ?? throw RekognitionException.InvalidParameter($"'{Printable(name.GetString()!)}' is not a video (MP4, MOV, MKV, WebM or AVI).");
        if (kind == TextJob && (await _holder.Labeler.WaitAsync(cancellationToken)).Text is null)
        {
            throw RekognitionException.InvalidParameter("This server does not read the text of videos: run it with the text analysis on (Analysis:Tasks=objects,classes,text).");
        }

        if (kind == FacesJob && (await _holder.Labeler.WaitAsync(cancellationToken)).Faces is null)
        {
            throw RekognitionException.InvalidParameter("This server does not detect faces: run it with the face analysis on (Analysis:Tasks=objects,classes,faces).");
        }

        if (record.Status == ImageStatus.Failed)
        {
            // Starting a job on a video whose labeling gave up tries again.
            await _catalog.EnqueueRelabelAsync(image.Id, cancellationToken);
        }
        else if (kind == SegmentsJob && record.Status == ImageStatus.Labeled && !(await _catalog.GetVideoCutsAsync([image.Id], cancellationToken)).ContainsKey(image.Id))
        {
            // Labeled before shots were detected: a relabel finds them (GetSegmentDetection says IN_PROGRESS meanwhile).
            await _catalog.EnqueueRelabelAsync(image.Id, cancellationToken);
        }

        return new StartVideoJobResponse(kind + jobOptions + image.Id);
    }

    private async Task<LabelDetectionResponse> GetLabelDetectionAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var (video, jobId, offset, maxResults) = await VideoJobAsync(root, LabelsJob, cancellationToken);
        var aggregate = Member(root, "AggregateBy") is { } a ? a.GetString() : "TIMESTAMPS";
        var sort = Member(root, "SortBy") is { } s ? s.GetString() : "TIMESTAMP";
        if (aggregate is not ("TIMESTAMPS" or "SEGMENTS") || sort is not ("TIMESTAMP" or "NAME"))
        {
            throw RekognitionException.InvalidParameter("AggregateBy is TIMESTAMPS or SEGMENTS; SortBy is TIMESTAMP or NAME.");
        }

        var response = await VideoEndpoints.LabelDetectionAsync(_catalog, video, aggregate == "SEGMENTS", sort == "NAME", offset, maxResults, cancellationToken);
        return response with { JobId = jobId, Video = new VideoSource(new VideoS3Object(video.Bucket, video.Key)) };
    }

    private async Task<GetTextDetectionResponse> GetTextDetectionAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var (video, jobId, offset, maxResults) = await VideoJobAsync(root, TextJob, cancellationToken);
        var provenance = await _catalog.GetAnalysisProvenanceAsync(video.ImageId, cancellationToken);
        var read = provenance.FirstOrDefault(p => p.Analysis == AnalysisTask.Text.Name());
        var labelsStatus = LabelLens.Application.ImageViews.JobStatus(video);
        var status = read is not null ? "SUCCEEDED" : labelsStatus == "FAILED" ? "FAILED" : "IN_PROGRESS";
        var detections = new List<TextDetectionResult>();
        if (read is not null)
        {
            var lines = (await _catalog.GetTextAsync([video.ImageId], cancellationToken)).GetValueOrDefault(video.ImageId) ?? [];
            foreach (var line in lines)
            {
                // Each occurrence as DetectText gives a picture's line: the LINE, then its WORDs; ids unique over the video.
                var first = detections.Count;
                foreach (var detection in TextDetections.From(new DetectedText(new ModelIdentity(read.Model, read.ModelSha256), [line])))
                {
                    detections.Add(new TextDetectionResult(line.StartTimestampMillis ?? 0, detection with { Id = first + detection.Id, ParentId = first + detection.ParentId }));
                }
            }
        }

        var limit = Math.Min(maxResults ?? VideoEndpoints.DefaultMaxResults, VideoEndpoints.DefaultMaxResults);
        var page = detections.Skip(offset).Take(limit).ToList();
        return new GetTextDetectionResponse(
            status,
            status == "FAILED" ? video.Job?.Error : null,
            VideoEndpoints.Metadata(video),
            page,
            offset + limit < detections.Count ? VideoEndpoints.EncodeOffset(offset + limit) : null,
            read?.ModelVersion,
            jobId,
            new VideoSource(new VideoS3Object(video.Bucket, video.Key)));
    }

    /// <summary>The video a JobId names, and the page asked for (MaxResults, NextToken).</summary>
    private async Task<(VideoRecord Video, string JobId, int Offset, int? MaxResults)> VideoJobAsync(JsonElement root, string kind, CancellationToken cancellationToken)
    {
        if (Member(root, "JobId") is not { ValueKind: JsonValueKind.String } job || job.GetString() is not { } jobId)
        {
            throw RekognitionException.InvalidParameter("JobId is required.");
        }

        // The image id ends the JobId, after any options (image ids are hex: the last '-' is before it).
        var video = jobId.StartsWith(kind, StringComparison.Ordinal) ? await _catalog.GetVideoAsync(jobId[(jobId.LastIndexOf('-') + 1)..], cancellationToken) : null;
        if (video is null)
        {
            var what = DetectionName(kind);
            throw new RekognitionException("ResourceNotFoundException", 400, $"No {what[..^"Detection".Length].ToLowerInvariant()} detection job '{Printable(jobId)}': start one with Start{what}.");
        }

        var maxResults = Member(root, "MaxResults") is { } max ? Integer(max, "MaxResults") : (int?)null;
        if (maxResults is < 1)
        {
            throw RekognitionException.InvalidParameter("MaxResults must be 1 or more.");
        }

        var offset = 0;
        if (Member(root, "NextToken") is { } token && !(token.ValueKind == JsonValueKind.String && VideoEndpoints.TryDecodeOffset(token.GetString()!, out offset)))
        {
            throw new RekognitionException("InvalidPaginationTokenException", 400, "NextToken is not one this API returned.");
        }

        return (video, jobId, offset, maxResults);
    }
}
