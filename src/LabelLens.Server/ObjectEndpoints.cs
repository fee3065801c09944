using LabelLens.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LabelLens.Server;

/// <summary>The object an upload stored, with its image id and labeling status.</summary>
public sealed record ObjectResponse(string Bucket, string Key, string ImageId, long Size, string ETag, string? ContentType, string Status, bool Enqueued, DateTimeOffset LastModified)
{
    public static ObjectResponse From(ImageRecord image, bool enqueued) =>
        new(image.Bucket, image.Key, image.Id, image.Size, image.ETag, image.ContentType, image.Status, enqueued, image.UpdatedAt);
}

public sealed record ObjectListResponse(string Bucket, string? Prefix, IReadOnlyList<ObjectResponse> Objects, string? NextContinuationToken);

public sealed record MultipartUploadResult(string? FileName, ObjectResponse? Object, string? Error, string? Detail);

/// <summary>Buckets and objects: upload (streamed), download (with Range), HEAD, DELETE, list.</summary>
public static class ObjectEndpoints
{
    public static void MapObjects(this IEndpointRouteBuilder app)
    {
        var buckets = app.MapGroup("/api/v1/buckets").WithTags("Objects");
        buckets.MapGet("/", async (IObjectStore store, CancellationToken ct) => Results.Ok(new { buckets = await store.ListBucketsAsync(ct) }));
        buckets.MapPut("/{bucket}", async (string bucket, IObjectStore store, CancellationToken ct) =>
        {
            await store.CreateBucketAsync(bucket, ct);
            return Results.Ok(new { bucket });
        });
        buckets.MapDelete("/{bucket}", async (string bucket, IObjectStore store, CancellationToken ct) =>
        {
            await store.DeleteBucketAsync(bucket, ct);
            return Results.NoContent();
        });

        buckets.MapPut("/{bucket}/objects/{**key}", PutObjectAsync);
        buckets.MapPost("/{bucket}/objects", PostObjectsAsync).DisableAntiforgery();
        buckets.MapGet("/{bucket}/objects", ListObjectsAsync);
        buckets.MapGet("/{bucket}/objects/{**key}", GetObjectAsync);
        buckets.MapMethods("/{bucket}/objects/{**key}", [HttpMethods.Head], HeadObjectAsync);
        buckets.MapDelete("/{bucket}/objects/{**key}", DeleteObjectAsync);
    }

    /// <summary>Stores the raw request body as the object (streamed to disk), then catalogs and queues it in one transaction.</summary>
    private static async Task<IResult> PutObjectAsync(string bucket, string key, HttpRequest request, Uploader uploader, CancellationToken ct)
    {
        var outcome = await uploader.StoreAsync(bucket, RequestGuards.ObjectKey(request.HttpContext, bucket, key), request.Body, request.ContentType, ct);
        var response = ObjectResponse.From(outcome.Image, outcome.Enqueued);
        return outcome.Enqueued
            ? Results.Created($"/api/v1/images/{outcome.Image.Id}", response)
            : Results.Ok(response);
    }

    /// <summary>
    /// Several files in one multipart form, each streamed straight to the store as it arrives. The key is
    /// the optional <c>prefix</c> query value plus the file name the browser sent (which keeps the
    /// relative path of a dropped folder). One bad file does not stop the others.
    /// </summary>
    private static async Task<IResult> PostObjectsAsync(string bucket, string? prefix, HttpRequest request, Uploader uploader, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            return Problems.BadRequest("InvalidRequest", "Expected a multipart/form-data body with one or more files.");
        }

        var results = new List<MultipartUploadResult>();
        var reader = new MultipartReader(boundary, request.Body);
        while (await reader.ReadNextSectionAsync(ct) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.IsFileDisposition())
            {
                continue;
            }

            var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
            var key = (prefix ?? "") + fileName?.Replace('\\', '/');
            try
            {
                var outcome = await uploader.StoreAsync(bucket, key, section.Body, section.ContentType, ct);
                results.Add(new MultipartUploadResult(fileName, ObjectResponse.From(outcome.Image, outcome.Enqueued), null, null));
            }
            catch (StorageException ex)
            {
                results.Add(new MultipartUploadResult(fileName, null, ex.Error.ToString(), ex.Message));
            }
        }

        if (results.Count == 0)
        {
            return Problems.BadRequest("InvalidRequest", "The form holds no file.");
        }

        return results.All(r => r.Object is null)
            ? Results.Json(new { files = results }, statusCode: StatusCodes.Status400BadRequest)
            : Results.Ok(new { files = results });
    }

    private static async Task<IResult> ListObjectsAsync(string bucket, string? prefix, string? continuationToken, int? maxKeys, IObjectStore store, ICatalog catalog, CancellationToken ct)
    {
        if (!await store.BucketExistsAsync(bucket, ct))
        {
            return Problems.NotFound(nameof(StorageError.NoSuchBucket), $"Bucket '{bucket}' does not exist.");
        }

        if (maxKeys is < 1 or > 1000)
        {
            return Problems.BadRequest("InvalidArgument", "maxKeys must be between 1 and 1000.");
        }

        var limit = maxKeys ?? 1000;
        string? after = null;
        if (continuationToken is not null && (after = ContinuationToken.Decode(continuationToken)) is null)
        {
            return Problems.BadRequest("InvalidArgument", "continuationToken is not one this server gave (pass nextContinuationToken back as it came).");
        }

        var page = await catalog.ListObjectsAsync(bucket, prefix, after, limit + 1, ct);
        var more = page.Count > limit;
        var items = page.Take(limit).Select(i => ObjectResponse.From(i, enqueued: false)).ToList();
        return Results.Ok(new ObjectListResponse(bucket, prefix, items, more ? ContinuationToken.Encode(items[^1].Key) : null));
    }

    private static async Task<IResult> GetObjectAsync(string bucket, string key, HttpContext context, IObjectStore store, ICatalog catalog, CancellationToken ct)
    {
        key = RequestGuards.ObjectKey(context, bucket, key);
        var image = await catalog.GetImageAsync(bucket, key, ct);
        var stream = image is null ? null : await store.OpenReadAsync(bucket, key, ct);
        if (image is null || stream is null)
        {
            return Problems.NotFound(nameof(StorageError.NoSuchKey), $"No object '{ObjectNames.Printable(key)}' in bucket '{bucket}'.");
        }

        AddImageHeaders(context.Response, image);
        // Range, If-None-Match and If-Modified-Since are handled by the file result.
        return Results.File(stream, image.ContentType ?? "application/octet-stream", lastModified: image.UpdatedAt, entityTag: new EntityTagHeaderValue($"\"{image.ETag}\""), enableRangeProcessing: true);
    }

    private static async Task<IResult> HeadObjectAsync(string bucket, string key, HttpContext context, ICatalog catalog, CancellationToken ct)
    {
        key = RequestGuards.ObjectKey(context, bucket, key);
        var image = await catalog.GetImageAsync(bucket, key, ct);
        if (image is null)
        {
            return Results.NotFound();
        }

        var response = context.Response;
        AddImageHeaders(response, image);
        response.ContentLength = image.Size;
        response.ContentType = image.ContentType ?? "application/octet-stream";
        response.Headers.ETag = $"\"{image.ETag}\"";
        response.Headers.LastModified = image.UpdatedAt.ToString("R");
        response.Headers.AcceptRanges = "bytes";
        return Results.Empty;
    }

    private static async Task<IResult> DeleteObjectAsync(string bucket, string key, HttpContext context, IObjectStore store, ICatalog catalog, CancellationToken ct)
    {
        key = RequestGuards.ObjectKey(context, bucket, key);
        // Catalog first: once the row is gone nobody can find the object, and a worker holding its job drops the result.
        var catalogued = await catalog.DeleteImageAsync(bucket, key, ct);
        var stored = await store.DeleteAsync(bucket, key, ct);
        return catalogued || stored
            ? Results.NoContent()
            : Problems.NotFound(nameof(StorageError.NoSuchKey), $"No object '{ObjectNames.Printable(key)}' in bucket '{bucket}'.");
    }

    private static void AddImageHeaders(HttpResponse response, ImageRecord image)
    {
        response.Headers["X-LabelLens-Image-Id"] = image.Id;
        response.Headers["X-LabelLens-Status"] = image.Status;
        SafeDownload(response, image.Key, image.ContentType);
    }

    /// <summary>
    /// Objects are whatever uploaders sent, served from the web UI's own origin: an uploaded HTML or SVG page must
    /// never run as that origin (it could read the UI's state and act with its credentials). The browser may not
    /// guess another type, a page opened from here runs sandboxed (a unique origin, no scripts), and types a
    /// browser would render actively are downloaded, not displayed.
    /// </summary>
    internal static void SafeDownload(HttpResponse response, string key, string? contentType)
    {
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.ContentSecurityPolicy = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";
        if (!DisplaysSafely(contentType))
        {
            var name = key[(key.LastIndexOf('/') + 1)..];
            response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = name.Length == 0 ? "download" : name }.ToString();
        }
    }

    /// <summary>Pictures (not SVG, which can script), video, audio and plain text display inertly; anything else is a download.</summary>
    private static bool DisplaysSafely(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var parsed) || parsed.MediaType.Value is not { } type)
        {
            return false;
        }

        return (type.StartsWith("image/", StringComparison.OrdinalIgnoreCase) && !type.Contains("svg", StringComparison.OrdinalIgnoreCase))
            || type.StartsWith("video/", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith("audio/", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/plain", StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Opaque pagination token: the last key of the previous page, marked so that made-up tokens are refused.</summary>
public static class ContinuationToken
{
    private const string Mark = "ll1\n";

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string key) => WebEncoders.Base64UrlEncode(StrictUtf8.GetBytes(Mark + key));

    /// <summary>The key, or null for a token this server did not give.</summary>
    public static string? Decode(string token)
    {
        try
        {
            var text = StrictUtf8.GetString(WebEncoders.Base64UrlDecode(token));
            return text.StartsWith(Mark, StringComparison.Ordinal) ? text[Mark.Length..] : null;
        }
        catch (Exception ex) when (ex is FormatException or System.Text.DecoderFallbackException)
        {
            return null;
        }
    }
}
