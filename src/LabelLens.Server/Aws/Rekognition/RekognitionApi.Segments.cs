using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Application;
using LabelLens.Storage;
using LabelLens.Video;

namespace LabelLens.Server.Aws.Rekognition;

public sealed record ShotSegmentDetail(int Index, double Confidence);

public sealed record TechnicalCueSegmentDetail(string Type, double Confidence);

/// <summary>One SHOT or TECHNICAL_CUE segment, as GetSegmentDetection returns it (the other type's member left out).</summary>
public sealed record SegmentDetection(
    string Type,
    long StartTimestampMillis,
    long EndTimestampMillis,
    long DurationMillis,
    string StartTimecodeSMPTE,
    string EndTimecodeSMPTE,
    string DurationSMPTE,
    long StartFrameNumber,
    long EndFrameNumber,
    long DurationFrames,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ShotSegmentDetail? ShotSegment,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TechnicalCueSegmentDetail? TechnicalCueSegment);

/// <summary>A segment type the job was started for, and the "model" that found it (ffmpeg's filters).</summary>
public sealed record SegmentTypeInfo(string Type, string ModelVersion);

/// <summary>GetSegmentDetection's response (PascalCase, as Rekognition). VideoMetadata is a list there (one entry: the video stream); AudioMetadata is left out.</summary>
public sealed record GetSegmentDetectionResponse(
    string JobStatus,
    string? StatusMessage,
    IReadOnlyList<VideoMetadataResponse> VideoMetadata,
    IReadOnlyList<SegmentDetection> Segments,
    IReadOnlyList<SegmentTypeInfo> SelectedSegmentTypes,
    string? NextToken,
    string JobId,
    VideoSource Video);

/// <summary>
/// StartSegmentDetection / GetSegmentDetection, mapped onto the video's labeling job like the other Start*/Get*
/// operations: shots and black frames are found by ffmpeg in the labeling pass. The job id carries what Start asked
/// for (segment types and the MinSegmentConfidence filters), so Get answers exactly that without keeping state.
/// </summary>
public sealed partial class RekognitionApi
{
    public const string StartSegmentDetectionTarget = "RekognitionService.StartSegmentDetection";
    public const string GetSegmentDetectionTarget = "RekognitionService.GetSegmentDetection";

    private const string SegmentsJob = "segments-";
    private const string ShotType = "SHOT";
    private const string TechnicalCueType = "TECHNICAL_CUE";

    /// <summary>What SelectedSegmentTypes names as each type's model: the ffmpeg filters that find them.</summary>
    private const string ShotModel = "ffmpeg-scene";
    private const string CueModel = "ffmpeg-blackdetect";

    private async Task<StartVideoJobResponse> StartSegmentDetectionAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var types = Member(root, "SegmentTypes") is { } list ? StringList(list, "SegmentTypes") : [];
        if (types.Count == 0 || types.Any(t => t is not (ShotType or TechnicalCueType)))
        {
            throw RekognitionException.InvalidParameter("SegmentTypes is a list of SHOT and/or TECHNICAL_CUE.");
        }

        var filters = Member(root, "Filters");
        var shotMin = MinSegmentConfidence(filters, "ShotFilter");
        var cueMin = MinSegmentConfidence(filters, "TechnicalCueFilter");
        // e.g. "st-50-0-": shots and cues, shots at 50 or more, every cue. Image ids are hex, so the last '-' ends the options.
        var options = string.Create(
            CultureInfo.InvariantCulture,
            $"{(types.Contains(ShotType) ? "s" : "")}{(types.Contains(TechnicalCueType) ? "t" : "")}-{shotMin}-{cueMin}-");
        return await StartVideoJobAsync(root, SegmentsJob, cancellationToken, options);
    }

    /// <summary>A filter's MinSegmentConfidence (50-100 as the service allows; whole percent); 0 when not given: every stored segment passed ffmpeg's thresholds.</summary>
    private static int MinSegmentConfidence(JsonElement? filters, string filter)
    {
        if (filters is not { } f || Member(f, filter) is not { } settings || Member(settings, "MinSegmentConfidence") is not { } min)
        {
            return 0;
        }

        var value = Number(min, $"Filters.{filter}.MinSegmentConfidence");
        return value is >= 50 and <= 100
            ? (int)Math.Floor(value)
            : throw RekognitionException.InvalidParameter($"Filters.{filter}.MinSegmentConfidence must be from 50 to 100.");
    }

    private async Task<GetSegmentDetectionResponse> GetSegmentDetectionAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var (video, jobId, offset, maxResults) = await VideoJobAsync(root, SegmentsJob, cancellationToken);
        var options = jobId[SegmentsJob.Length..].Split('-');
        var wantShots = options[0].Contains('s', StringComparison.Ordinal);
        var wantCues = options[0].Contains('t', StringComparison.Ordinal);
        var shotMin = options.Length > 3 && int.TryParse(options[1], CultureInfo.InvariantCulture, out var s) ? s : 0;
        var cueMin = options.Length > 3 && int.TryParse(options[2], CultureInfo.InvariantCulture, out var c) ? c : 0;

        var status = ImageViews.JobStatus(video);
        var cuts = (await _catalog.GetVideoCutsAsync([video.ImageId], cancellationToken)).GetValueOrDefault(video.ImageId);
        if (status == "SUCCEEDED" && cuts is null)
        {
            // Labeled before shots were detected: StartSegmentDetection queued a relabel, which fills them.
            status = "IN_PROGRESS";
        }

        var segments = new List<SegmentDetection>();
        if (status == "SUCCEEDED" && cuts is not null)
        {
            var rate = video.Metadata?.FrameRate;
            if (wantShots)
            {
                segments.AddRange(ImageViews.Shots(cuts, rate).Where(x => x.Confidence >= shotMin).Select(x => new SegmentDetection(
                    ShotType, x.StartTimestampMillis, x.EndTimestampMillis, x.DurationMillis, x.StartTimecodeSMPTE, x.EndTimecodeSMPTE, x.DurationSMPTE,
                    x.StartFrameNumber, x.EndFrameNumber, x.DurationFrames, new ShotSegmentDetail(x.Index ?? 0, x.Confidence), null)));
            }

            if (wantCues)
            {
                segments.AddRange(ImageViews.Cues(cuts, rate).Where(x => x.Confidence >= cueMin).Select(x => new SegmentDetection(
                    TechnicalCueType, x.StartTimestampMillis, x.EndTimestampMillis, x.DurationMillis, x.StartTimecodeSMPTE, x.EndTimecodeSMPTE, x.DurationSMPTE,
                    x.StartFrameNumber, x.EndFrameNumber, x.DurationFrames, null, new TechnicalCueSegmentDetail(x.Type ?? TechnicalCue.BlackFrames, x.Confidence))));
            }
        }

        var ordered = segments.OrderBy(x => x.StartTimestampMillis).ThenBy(x => x.Type, StringComparer.Ordinal).ToList();
        var limit = Math.Min(maxResults ?? VideoEndpoints.DefaultMaxResults, VideoEndpoints.DefaultMaxResults);
        var selected = new List<SegmentTypeInfo>();
        if (wantShots)
        {
            selected.Add(new SegmentTypeInfo(ShotType, ShotModel));
        }

        if (wantCues)
        {
            selected.Add(new SegmentTypeInfo(TechnicalCueType, CueModel));
        }

        return new GetSegmentDetectionResponse(
            status,
            status == "FAILED" ? video.Job?.Error : null,
            VideoEndpoints.Metadata(video) is { } metadata ? [metadata] : [],
            ordered.Skip(offset).Take(limit).ToList(),
            selected,
            offset + limit < ordered.Count ? VideoEndpoints.EncodeOffset(offset + limit) : null,
            jobId,
            new VideoSource(new VideoS3Object(video.Bucket, video.Key)));
    }

    /// <summary>The operation a job kind's results are read with (for messages).</summary>
    private static string DetectionName(string kind) => kind switch
    {
        TextJob => "TextDetection",
        FacesJob => "FaceDetection",
        SegmentsJob => "SegmentDetection",
        _ => "LabelDetection",
    };
}
