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
    /// segments to those labels and <paramref name="minConfidence"/> to segments at least that confident (search);
    /// <paramref name="search"/>'s face conditions narrow the face spans to those they hold on.
    /// </summary>
    public static async Task<List<ImageResponse>> AttachAsync(
        IVideoCatalog catalog,
        IReadOnlyList<ImageResponse> images,
        IReadOnlyCollection<string>? labels,
        CancellationToken cancellationToken,
        double minConfidence = 0,
        ImageQuery? search = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(images);
        var videos = await catalog.GetVideosAsync(images.Select(i => i.Image.Id).ToList(), cancellationToken);
        var cuts = videos.Count > 0 ? await catalog.GetVideoCutsAsync(videos.Keys, cancellationToken) : [];
        var faces = videos.Count > 0 ? await catalog.GetVideoFacesAsync(videos.Keys, cancellationToken) : [];
        var result = new List<ImageResponse>(images.Count);
        foreach (var image in images)
        {
            if (!videos.TryGetValue(image.Image.Id, out var video))
            {
                result.Add(image);
                continue;
            }

            var segments = await catalog.GetVideoSegmentsAsync(video.ImageId, labels is { Count: > 0 } ? labels : null, byName: false, 0, SummarySegments + 1, cancellationToken, minConfidence);
            var summary = Summary(video, segments, cuts.GetValueOrDefault(video.ImageId), faces.GetValueOrDefault(video.ImageId), search);
            result.Add(image with { MediaType = MediaTypes.Video, Video = summary });
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

    private static VideoSummary Summary(VideoRecord video, IReadOnlyList<LabelSegment> segments, VideoCuts? cuts, VideoFaces? faces, ImageQuery? search)
    {
        ShotReference? ShotOf(long millis) => cuts?.ShotAt(millis) is { } shot ? new ShotReference(shot.Index, shot.StartTimestampMillis, shot.EndTimestampMillis) : null;
        var spans = faces?.Spans;
        if (spans is not null && search is not null && VideoFaceSearch.HasFaceConditions(search))
        {
            spans = VideoFaceSearch.Matching(spans, search);
        }

        return new VideoSummary(
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
            segments.Take(SummarySegments).Select(s => new SegmentSummary(s.Name, s.StartTimestampMillis, s.EndTimestampMillis, s.DurationMillis, s.Confidence) { Shot = ShotOf(s.StartTimestampMillis) }).ToList(),
            segments.Count > SummarySegments)
        {
            Shots = cuts is null ? null : Shots(cuts, video.Metadata?.FrameRate),
            TechnicalCues = cuts is null ? null : Cues(cuts, video.Metadata?.FrameRate),
            FaceTracks = faces?.Tracks.Select(t => new FaceTrackSummary(
                t.Index, t.StartTimestampMillis, t.EndTimestampMillis, t.DurationMillis, t.Samples, t.Confidence, t.MaxFaceHeight, t.ShotSize, ShotOf(t.StartTimestampMillis))).ToList(),
            FaceSpans = spans?.Select(s => new FaceSpanSummary(s.StartTimestampMillis, s.EndTimestampMillis, s.DurationMillis, s.Faces, s.ShotSize, ShotOf(s.StartTimestampMillis))).ToList(),
        };
    }

    /// <summary>The shots with frame numbers and SMPTE timecodes at the video's frame rate (the REST summary and GetSegmentDetection).</summary>
    public static IReadOnlyList<CutSummary> Shots(VideoCuts cuts, double? frameRate)
    {
        ArgumentNullException.ThrowIfNull(cuts);
        var clock = FrameClock.For(frameRate);
        return cuts.Shots.Select(s => Cut(s.Index, null, s.StartTimestampMillis, s.EndTimestampMillis, s.StartFrameNumber, s.EndFrameNumber, s.Confidence, clock)).ToList();
    }

    /// <summary>The technical cues, as <see cref="Shots"/>.</summary>
    public static IReadOnlyList<CutSummary> Cues(VideoCuts cuts, double? frameRate)
    {
        ArgumentNullException.ThrowIfNull(cuts);
        var clock = FrameClock.For(frameRate);
        return cuts.TechnicalCues.Select(c => Cut(null, c.Type, c.StartTimestampMillis, c.EndTimestampMillis, c.StartFrameNumber, c.EndFrameNumber, c.Confidence, clock)).ToList();
    }

    /// <summary>The end timecode is the next frame's (where the stretch stops, as Rekognition writes it); the frame numbers are inclusive.</summary>
    private static CutSummary Cut(int? index, string? type, long start, long end, long startFrame, long endFrame, double confidence, FrameClock clock) =>
        new(index, type, start, end, end - start, startFrame, endFrame, endFrame - startFrame + 1, clock.Smpte(startFrame), clock.Smpte(endFrame + 1), clock.Smpte(endFrame - startFrame + 1), confidence);

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
