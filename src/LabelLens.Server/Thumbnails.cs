using System.Globalization;
using System.Text;
using LabelLens.Detection;
using LabelLens.Server.External;
using LabelLens.Storage;
using LabelLens.Storage.External;
using LabelLens.Video;
using LabelLens.Vision;
using LabelLens.Vision.Video;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LabelLens.Server;

/// <summary>
/// Thumbnails on disk under data/thumbnails/{size}/{first two hex of the id}/{id}.{content tag}.jpg. The content
/// tag comes from the image's SHA-256 (or external ETag), so a new upload at the same key gets a new file and
/// the old one is removed; nothing needs invalidating. An image that cannot be thumbnailed leaves a small
/// .failed file with the reason, so a corrupt upload is not decoded again on every page view.
/// </summary>
public sealed class ThumbnailCache(
    string dataFolder,
    Thumbnailer thumbnailer,
    IObjectStore store,
    ICatalog catalog,
    ExternalStores externalStores,
    IOptions<ImageOptions> imageOptions,
    Ffmpeg ffmpeg,
    ILogger<ThumbnailCache> logger) : IDisposable
{
    /// <summary>Bump when the encoding changes (quality, format), so browsers and the disk cache start over.</summary>
    private const string Version = "1";

    // Decoding is CPU work; a grid asking for 60 thumbnails at once must not starve the labeling workers.
    private readonly SemaphoreSlim _gate = new(Math.Max(1, Environment.ProcessorCount / 2));

    public string Folder { get; } = Path.Combine(dataFolder, "thumbnails");

    /// <summary>The thumbnail's ETag: changes with the image content, the size and the encoding (and a video's poster time).</summary>
    public static string EntityTag(ImageRecord image, int size, VideoRecord? video = null) =>
        $"\"t{Version}-{size}-{ContentTag(image)}{(video is null ? "" : $"-v{PosterMillis(video)}")}\"";

    /// <summary>
    /// Where a video's poster frame is taken: 10% into it (past a fade-in or a title), at most 10 s; the first
    /// frame while the duration is not known yet (the worker has not probed it).
    /// </summary>
    public static long PosterMillis(VideoRecord video) =>
        video.Metadata?.DurationMillis is { } duration && duration > 0 ? Math.Min(duration / 10, 10_000) : 0;

    /// <summary>A video's poster: a frame (ffmpeg, as GET /videos/{id}/frame) cached like an image's thumbnail.</summary>
    public Task<(string? Path, string? Failure)> GetVideoAsync(ImageRecord image, VideoRecord video, int size, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(video);
        var poster = PosterMillis(video);
        return GetOrMakeAsync(image, size, $".v{poster}", async token =>
        {
            await using var stream = await store.OpenReadAsync(image.Bucket, image.Key, token);
            if (stream is not FileStream file)
            {
                // An external store's object is not on this disk (GET /videos/{id}/frame says the same).
                return Made.NotNow("Missing: the video is not in the local store");
            }

            // Longest edge = size, never enlarged; ffmpeg keeps the aspect ratio (an even height).
            var (w, h) = (video.Metadata?.FrameWidth ?? 0, video.Metadata?.FrameHeight ?? 0);
            var width = w <= 0 || h <= 0 ? size
                : w >= h ? Math.Min(size, w)
                : (int)Math.Round(Math.Min(size, h) * (double)w / h / 2) * 2;
            try
            {
                return Made.Jpeg(await ffmpeg.FrameJpegAsync(file.Name, poster / 1000.0, Math.Clamp(width, 16, 3840), token));
            }
            catch (FfmpegMissingException ex)
            {
                // Not the video's fault, and fixable.
                return Made.NotNow($"FfmpegMissing: {ex.Message}");
            }
            catch (VideoRejectedException ex)
            {
                return Made.Never($"{ex.Code}: {ex.Message}");
            }
        }, cancellationToken);
    }

    /// <summary>The cached or freshly made thumbnail file, or the reason the image has none.</summary>
    public Task<(string? Path, string? Failure)> GetAsync(ImageRecord image, int size, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        return GetOrMakeAsync(image, size, "", async token =>
        {
            var bytes = await ReadAsync(image, token);
            if (bytes is null)
            {
                // The object may arrive (an external store coming back), unlike corrupt bytes.
                return Made.NotNow("Missing: the object's bytes are not available");
            }

            try
            {
                return Made.Jpeg(thumbnailer.Create(bytes, size).Jpeg);
            }
            catch (ImageRejectedException ex)
            {
                return Made.Never($"{ex.Error}: {ex.Message}");
            }
        }, cancellationToken);
    }

    /// <summary>
    /// The cache itself: the file if it is there, else one maker at a time (thumbnails are CPU-bound) makes
    /// it. A final failure is remembered beside it (`.failed`), so a broken file is not decoded on every view.
    /// </summary>
    private async Task<(string? Path, string? Failure)> GetOrMakeAsync(
        ImageRecord image, int size, string variant, Func<CancellationToken, Task<Made>> make, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Folder, size.ToString(CultureInfo.InvariantCulture), image.Id[..2]);
        var path = Path.Combine(folder, $"{image.Id}.{ContentTag(image)}{variant}.jpg");
        var failed = Path.ChangeExtension(path, ".failed");
        if (File.Exists(path))
        {
            return (path, null);
        }

        if (File.Exists(failed))
        {
            return (null, await File.ReadAllTextAsync(failed, cancellationToken));
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Another request may have made it while this one waited.
            if (File.Exists(path))
            {
                return (path, null);
            }

            var made = await make(cancellationToken);
            if (made.Bytes is null && !made.Final)
            {
                return (null, made.Failure);
            }

            Directory.CreateDirectory(folder);
            RemoveOlderVersions(folder, image.Id);
            if (made.Bytes is { } jpeg)
            {
                await WriteAtomicallyAsync(path, jpeg, cancellationToken);
                return (path, null);
            }

            logger.LogDebug("No thumbnail for {Bucket}/{Key}: {Reason}", image.Bucket, ObjectNames.Printable(image.Key), made.Failure);
            await WriteAtomicallyAsync(failed, Encoding.UTF8.GetBytes(made.Failure!), cancellationToken);
            return (null, made.Failure);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What a maker gave: the JPEG, or why there is none and whether that is final for these bytes.</summary>
    private readonly record struct Made(byte[]? Bytes, string? Failure, bool Final)
    {
        public static Made Jpeg(byte[] jpeg) => new(jpeg, null, true);

        public static Made Never(string reason) => new(null, reason, true);

        public static Made NotNow(string reason) => new(null, reason, false);
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>Removes every cached thumbnail of an image (it was deleted).</summary>
    public void Remove(string imageId)
    {
        if (imageId.Length < 2)
        {
            return;
        }

        foreach (var size in Thumbnailer.Sizes)
        {
            RemoveOlderVersions(Path.Combine(Folder, size.ToString(CultureInfo.InvariantCulture), imageId[..2]), imageId);
        }
    }

    private static string ContentTag(ImageRecord image)
    {
        // sha256 is hex, or "etag:<ETag>" for an external object: keep it to file-name-safe characters.
        var source = image.Sha256.StartsWith("etag:", StringComparison.Ordinal) ? image.Sha256[5..] : image.Sha256;
        var safe = new string(source.Where(char.IsAsciiLetterOrDigit).Take(16).ToArray());
        return safe.Length > 0 ? safe : "x";
    }

    private async Task<byte[]?> ReadAsync(ImageRecord image, CancellationToken cancellationToken)
    {
        var limit = imageOptions.Value.MaxBytes;
        try
        {
            if (await catalog.GetImageSourceAsync(image.Id, cancellationToken) is { } source)
            {
                var job = new ClaimedJob(0, image.Id, image.Bucket, image.Key, image.Sha256, 0, "thumbnail");
                return await ExternalReads.ReadAsync(externalStores, source, job, limit, cancellationToken);
            }

            await using var stream = await store.OpenReadAsync(image.Bucket, image.Key, cancellationToken);
            if (stream is null)
            {
                return null;
            }

            if (stream.Length > limit)
            {
                throw new ImageRejectedException(ImageError.ImageTooLarge, $"{stream.Length:N0} bytes is over the {limit:N0}-byte limit");
            }

            var bytes = new byte[stream.Length];
            await stream.ReadExactlyAsync(bytes, cancellationToken);
            return bytes;
        }
        catch (InvalidOperationException ex)
        {
            logger.LogWarning("Cannot read {Bucket}/{Key} for a thumbnail: {Error}", image.Bucket, ObjectNames.Printable(image.Key), ex.Message);
            return null;
        }
    }

    private static void RemoveOlderVersions(string folder, string imageId)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }

        // Temporary files belong to a write in progress (another size or request): its own rename finishes it.
        foreach (var file in Directory.EnumerateFiles(folder, imageId + ".*").Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)))
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // Being read right now; the next cleanup gets it.
            }
        }
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        // Readers must never see a half-written file: write beside it, then rename over.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllBytesAsync(temporary, content, cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary><c>GET /api/v1/images/{id}/thumbnail?size=</c>: a JPEG preview, cached on disk and in browsers.</summary>
public static class ThumbnailEndpoints
{
    /// <summary>Marks a placeholder answer (the image could not be thumbnailed); its value is the reason's code.</summary>
    public const string PlaceholderHeader = "X-LabelLens-Placeholder";

    public static void MapThumbnails(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/images/{id}/thumbnail", GetAsync)
            .WithTags("Images")
            .WithSummary("Thumbnail (JPEG)")
            .WithDescription(
                "size= longest edge in pixels, rounded up to 160, 320, 640 or 1280 (default 320; never enlarged). ETag and Cache-Control; If-None-Match gives 304. "
                + "With v= equal to the image's sha256 (as the web UI sends), the response is cacheable for a year. An image that cannot be decoded gets an SVG "
                + "placeholder (200) with the header X-LabelLens-Placeholder naming the reason.");
    }

    private static async Task<IResult> GetAsync(string id, int? size, string? v, HttpContext context, ICatalog catalog, ThumbnailCache cache, CancellationToken ct)
    {
        if (await catalog.GetImageAsync(id, ct) is not { } image)
        {
            return Problems.NotFound("NoSuchImage", $"No image with id '{id}'.");
        }

        var edge = Thumbnailer.NormalizeSize(size ?? 320);
        // A video's thumbnail is a poster frame; it moves once the duration is known, so it is final only then.
        var video = await catalog.GetVideoAsync(image.Id, ct);
        var etag = ThumbnailCache.EntityTag(image, edge, video);
        var final = video is null || video.Metadata?.DurationMillis is > 0;
        var response = context.Response;
        response.Headers.Vary = "Authorization, X-Api-Key";
        // A URL that names the content (v = its sha256) never changes meaning: cache it for good. Without it the
        // browser revalidates each time, which the ETag turns into a cheap 304.
        response.Headers.CacheControl = final && v is not null && v == image.Sha256 ? "private, max-age=31536000, immutable" : "private, no-cache";
        if (context.Request.Headers.IfNoneMatch.Any(value => value is not null && value.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
        {
            response.Headers.ETag = etag;
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        var (path, failure) = video is null ? await cache.GetAsync(image, edge, ct) : await cache.GetVideoAsync(image, video, edge, ct);
        if (path is null)
        {
            // A broken picture in a grid of hundreds must not break the page: show a placeholder and say why.
            response.Headers.CacheControl = "no-store";
            var code = failure is null ? "Unknown" : failure.Split(':', 2)[0];
            response.Headers[PlaceholderHeader] = code;
            return Results.Text(PlaceholderSvg(code), "image/svg+xml", Encoding.UTF8);
        }

        return Results.File(path, "image/jpeg", entityTag: new EntityTagHeaderValue(etag));
    }

    private static string PlaceholderSvg(string code) =>
        $"""
        <svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240" role="img" aria-label="No preview: {System.Net.WebUtility.HtmlEncode(code)}">
          <rect width="320" height="240" fill="#e9ebf0"/>
          <g fill="none" stroke="#8a90a0" stroke-width="6" stroke-linecap="round" stroke-linejoin="round">
            <rect x="120" y="80" width="80" height="64" rx="8"/>
            <path d="M128 136l20-22 14 14 10-10 20 18"/>
            <path d="M116 76l88 72"/>
          </g>
          <text x="160" y="180" text-anchor="middle" font-family="system-ui, sans-serif" font-size="15" fill="#5c6272">No preview</text>
        </svg>
        """;
}
