using LabelLens.Storage;
using LabelLens.Video;

namespace LabelLens.Application;

/// <summary>Images as the API and the CLI show them: details with, for videos, their summary and segments.</summary>
public static class ImageViews
{
    /// <summary>At most this many segments in a video's summary.</summary>
    public const int SummarySegments = 200;

    /// <summary>
    /// Adds media type and (for videos) the video summary to API image responses; <paramref name="labels"/> narrows the
    /// segments to those labels and <paramref name="minConfidence"/> to segments at least that confident (search).
    /// </summary>
    public static async Task<List<ImageResponse>> AttachAsync(IVideoCatalog catalog, IReadOnlyList<ImageResponse> images, IReadOnlyCollection<string>? labels, CancellationToken cancellationToken, double minConfidence = 0)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(images);
        var videos = await catalog.GetVideosAsync(images.Select(i => i.Image.Id).ToList(), cancellationToken);
        var result = new List<ImageResponse>(images.Count);
        foreach (var image in images)
        {
            if (!videos.TryGetValue(image.Image.Id, out var video))
            {
                result.Add(image);
                continue;
            }

            var segments = await catalog.GetVideoSegmentsAsync(video.ImageId, labels is { Count: > 0 } ? labels : null, byName: false, 0, SummarySegments + 1, cancellationToken, minConfidence);
            result.Add(image with { MediaType = MediaTypes.Video, Video = Summary(video, segments) });
        }

        return result;
    }

    /// <summary>Adds each image's stored text (the export; a text search's hits, so they show what was read).</summary>
    /// <param name="matching">A text search: only the lines it matched (a video's say where: start and end).</param>
    public static async Task<List<ImageResponse>> AttachTextAsync(ITextCatalog catalog, IReadOnlyList<ImageResponse> images, CancellationToken cancellationToken, string? matching = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(images);
        var text = await catalog.GetTextAsync(images.Select(i => i.Image.Id).ToList(), cancellationToken, matching);
        return images.Select(i => i with { Text = text.GetValueOrDefault(i.Image.Id) ?? [] }).ToList();
    }

    /// <summary>Adds each picture's faces (count, shot size, boxes): search hits and the export.</summary>
    public static async Task<List<ImageResponse>> AttachFacesAsync(IFaceCatalog catalog, IReadOnlyList<ImageResponse> images, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(images);
        var faces = await catalog.GetFacesAsync(images.Select(i => i.Image.Id).ToList(), cancellationToken);
        return images.Select(i => i with { Faces = faces.GetValueOrDefault(i.Image.Id) }).ToList();
    }

    private static VideoSummary Summary(VideoRecord video, IReadOnlyList<LabelSegment> segments) => new(
        video.Metadata?.DurationMillis,
        video.Metadata?.Codec,
        // The container as the image record names it (mp4, mov...), not ffprobe's list ("mov,mp4,m4a,3gp,3g2,mj2").
        video.Container is { Length: > 0 } and not "video" ? video.Container : video.Metadata?.Format,
        video.Metadata?.FrameRate,
        video.Metadata?.FrameWidth,
        video.Metadata?.FrameHeight,
        JobStatus(video),
        video.Job?.Error,
        Progress(video),
        video.Frames,
        video.IntervalMillis,
        segments.Take(SummarySegments).Select(s => new SegmentSummary(s.Name, s.StartTimestampMillis, s.EndTimestampMillis, s.DurationMillis, s.Confidence)).ToList(),
        segments.Count > SummarySegments);

    public static VideoProgress Progress(VideoRecord video) => new(video.Percent, video.Job?.FramesDone ?? 0, video.Job?.ProcessedMillis);

    /// <summary>IN_PROGRESS while queued or running, SUCCEEDED when the latest job is done, FAILED otherwise (StatusMessage says why).</summary>
    public static string JobStatus(VideoRecord video) => video.Job?.State switch
    {
        JobState.Queued or JobState.Running => "IN_PROGRESS",
        JobState.Done => "SUCCEEDED",
        null => video.ResultJobId is null ? "IN_PROGRESS" : "SUCCEEDED",
        _ => "FAILED",
    };
}
