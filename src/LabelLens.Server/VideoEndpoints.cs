using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Video;
using LabelLens.Vision.Video;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;

namespace LabelLens.Server;

/// <summary>Rekognition Video's VideoMetadata: Format is the container (MP4, MOV, AVI, MKV, WEBM), ColorRange FULL or LIMITED.</summary>
public sealed record VideoMetadataResponse(string Codec, long? DurationMillis, string Format, double? FrameRate, int FrameHeight, int FrameWidth, string? ColorRange);

/// <summary>Rekognition's GetLabelDetectionRequestMetadata: the sort and aggregation the response used.</summary>
public sealed record GetLabelDetectionRequestMetadata(string SortBy, string AggregateBy);

/// <summary>One label at one time (AggregateBy=TIMESTAMPS), or over a segment (AggregateBy=SEGMENTS), as GetLabelDetection returns it.</summary>
public sealed record LabelDetection(
    long Timestamp,
    Label Label,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? StartTimestampMillis = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? EndTimestampMillis = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? DurationMillis = null);

/// <summary>GetLabelDetection's response (PascalCase, as Rekognition), plus Progress while the job runs.</summary>
public sealed record LabelDetectionResponse(
    string JobStatus,
    string? StatusMessage,
    VideoMetadataResponse? VideoMetadata,
    IReadOnlyList<LabelDetection> Labels,
    string? NextToken,
    string? LabelModelVersion,
    GetLabelDetectionRequestMetadata GetRequestMetadata,
    VideoProgress Progress)
{
    /// <summary>Rekognition's GetLabelDetection echoes the job and the video (the REST endpoint leaves them out).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JobId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public object? Video { get; init; }
}

/// <summary>Videos: labels by time or segment (GetLabelDetection), a frame as JPEG, cancel.</summary>
public static class VideoEndpoints
{
    public const int DefaultMaxResults = 1000;

    /// <summary>Rekognition's field names, as declared (PascalCase).</summary>
    private static readonly JsonSerializerOptions RekognitionJson = new() { PropertyNamingPolicy = null };

    public static void MapVideos(this IEndpointRouteBuilder app)
    {
        var videos = app.MapGroup("/api/v1/videos").WithTags("Videos");
        videos.MapGet("/{id}/labels", GetLabelsAsync)
            .WithSummary("Labels of a video by timestamp or segment (Rekognition GetLabelDetection)")
            .WithDescription("aggregateBy=TIMESTAMPS|SEGMENTS (default TIMESTAMPS), sortBy=TIMESTAMP|NAME (default TIMESTAMP), maxResults= (1 or more; at most 1000 are returned, the default), nextToken=.");
        videos.MapGet("/{id}/frame", GetFrameAsync).WithSummary("One frame as a JPEG: t= seconds, width= pixels (default 320)");
        videos.MapPost("/{id}/cancel", CancelAsync).WithSummary("Cancel the video's queued or running labeling job");
    }


    private static async Task<IResult> GetLabelsAsync(string id, string? aggregateBy, string? sortBy, int? maxResults, string? nextToken, ICatalog catalog, CancellationToken ct)
    {
        var segments = (aggregateBy ?? "TIMESTAMPS").ToUpperInvariant() switch
        {
            "TIMESTAMPS" => false,
            "SEGMENTS" => true,
            _ => (bool?)null,
        };
        var byName = (sortBy ?? "TIMESTAMP").ToUpperInvariant() switch
        {
            "TIMESTAMP" => false,
            "NAME" => true,
            _ => (bool?)null,
        };
        if (segments is null || byName is null)
        {
            return Problems.BadRequest("InvalidParameter", "aggregateBy is TIMESTAMPS or SEGMENTS; sortBy is TIMESTAMP or NAME.");
        }

        if (maxResults is < 1)
        {
            return Problems.BadRequest("InvalidParameter", $"maxResults is 1 or more (at most {DefaultMaxResults} are returned).");
        }

        var offset = 0;
        if (nextToken is not null && !TryDecodeOffset(nextToken, out offset))
        {
            return Problems.BadRequest("InvalidPaginationToken", "nextToken is not one this API returned.");
        }

        var video = await catalog.GetVideoAsync(id, ct);
        if (video is null)
        {
            return Problems.NotFound("NoSuchVideo", $"No video with id '{id}'.");
        }

        return Results.Json(await LabelDetectionAsync(catalog, video, segments.Value, byName.Value, offset, maxResults, ct), RekognitionJson);
    }

    /// <summary>A page of a video's labels as GetLabelDetection returns them (the REST endpoint and Rekognition's own).</summary>
    public static async Task<LabelDetectionResponse> LabelDetectionAsync(ICatalog catalog, VideoRecord video, bool segments, bool byName, int offset, int? maxResults, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(video);
        var id = video.ImageId;
        // As Rekognition: a larger maxResults is not an error, a page just holds at most 1000.
        var limit = Math.Min(maxResults ?? DefaultMaxResults, DefaultMaxResults);
        var labels = new List<LabelDetection>();
        var more = false;
        if (video.ResultJobId is { } result && ImageViews.JobStatus(video) == "SUCCEEDED")
        {
            if (segments)
            {
                var page = await catalog.GetVideoSegmentsAsync(id, null, byName, offset, limit + 1, ct);
                more = page.Count > limit;
                labels.AddRange(page.Take(limit).Select(s => new LabelDetection(
                    s.StartTimestampMillis,
                    new Label(s.Name, s.Confidence, [], s.Parents, s.Aliases, s.Categories),
                    s.StartTimestampMillis,
                    s.EndTimestampMillis,
                    s.DurationMillis)));
            }
            else
            {
                var page = await catalog.GetVideoFrameLabelsAsync(id, result, byName, offset, limit + 1, ct);
                more = page.Count > limit;
                labels.AddRange(page.Take(limit).Select(f => new LabelDetection(f.TimestampMillis, f.Label)));
            }
        }

        return new LabelDetectionResponse(
            ImageViews.JobStatus(video),
            video.Job?.Error,
            Metadata(video),
            labels,
            more ? EncodeOffset(offset + limit) : null,
            video.ModelVersion,
            new GetLabelDetectionRequestMetadata(byName ? "NAME" : "TIMESTAMP", segments ? "SEGMENTS" : "TIMESTAMPS"),
            ImageViews.Progress(video));
    }

    /// <summary>Rekognition Video's VideoMetadata of a probed video; null before the probe.</summary>
    public static VideoMetadataResponse? Metadata(VideoRecord video) =>
        video?.Metadata is { } m
            ? new VideoMetadataResponse(m.Codec, m.DurationMillis, RekognitionFormat(video.Container, m.Format), m.FrameRate, m.FrameHeight, m.FrameWidth, RekognitionColorRange(m.ColorRange))
            : null;

    private static async Task<IResult> GetFrameAsync(string id, double? t, int? width, ICatalog catalog, IObjectStore store, Ffmpeg ffmpeg, CancellationToken ct)
    {
        var seconds = t ?? 0;
        var pixels = width ?? 320;
        if (!double.IsFinite(seconds) || seconds < 0 || pixels is < 16 or > 3840)
        {
            return Problems.BadRequest("InvalidParameter", "t is seconds from the start (0 or more); width is 16 to 3840 pixels.");
        }

        var video = await catalog.GetVideoAsync(id, ct);
        if (video is null)
        {
            return Problems.NotFound("NoSuchVideo", $"No video with id '{id}'.");
        }

        if (video.Metadata?.DurationMillis is { } duration && seconds * 1000 > duration)
        {
            return Problems.BadRequest("InvalidParameter", $"t is past the end of the video ({duration / 1000.0:0.###} s).");
        }

        // The last frame starts one frame duration before the end: t at or just before the end (a segment's
        // EndTimestampMillis, the player's end) shows that frame instead of finding none after it.
        if (video.Metadata is { DurationMillis: { } length, FrameRate: { } rate } && rate > 0)
        {
            seconds = Math.Max(0, Math.Min(seconds, (length - 1500 / rate) / 1000));
        }

        await using var stream = await store.OpenReadAsync(video.Bucket, video.Key, ct);
        if (stream is not FileStream file)
        {
            return Problems.NotFound("NoSuchVideo", $"The video '{id}' is not in the local store.");
        }

        try
        {
            return Results.File(await ffmpeg.FrameJpegAsync(file.Name, seconds, pixels, ct), "image/jpeg");
        }
        catch (FfmpegMissingException ex)
        {
            return Problems.Problem(StatusCodes.Status503ServiceUnavailable, "FfmpegMissing", ex.Message);
        }
        catch (VideoRejectedException ex)
        {
            return Problems.BadRequest(ex.Code, ex.Message);
        }
    }

    private static async Task<IResult> CancelAsync(string id, ICatalog catalog, VideoWorker worker, CancellationToken ct)
    {
        switch (await catalog.CancelVideoAsync(id, ct))
        {
            case null:
                return Problems.NotFound("NoSuchVideo", $"No video with id '{id}'.");
            case false:
                return Results.Conflict(new { id, error = "NothingToCancel", detail = "The video has no queued or running labeling job." });
            default:
                worker.Cancel(id);
                return Results.Ok(new { id, jobStatus = "FAILED", statusMessage = "cancelled" });
        }
    }

    /// <summary>Rekognition names the container (MP4, MOV, AVI); ffprobe's demuxer name ("mov,mp4,m4a,...") cannot tell MP4 from MOV.</summary>
    internal static string RekognitionFormat(string? container, string probed) =>
        container is { Length: > 0 } and not "video" ? container.ToUpperInvariant() : probed;

    /// <summary>Rekognition's FULL (0-255) or LIMITED (16-235) from ffprobe's color_range (pc/jpeg or tv/mpeg); null when unknown.</summary>
    internal static string? RekognitionColorRange(string? probed) => probed?.ToLowerInvariant() switch
    {
        "pc" or "jpeg" => "FULL",
        "tv" or "mpeg" => "LIMITED",
        _ => null,
    };

    public static string EncodeOffset(int offset) => WebEncoders.Base64UrlEncode(BitConverter.GetBytes(offset));

    public static bool TryDecodeOffset(string token, out int offset)
    {
        offset = 0;
        try
        {
            var bytes = WebEncoders.Base64UrlDecode(token);
            offset = bytes.Length == 4 ? BitConverter.ToInt32(bytes) : -1;
            return offset >= 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
