using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LabelLens.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// The S3 REST API (path-style) over the same buckets, objects and catalog as the LabelLens API. Every
/// request is authenticated (SigV4) first; every refusal is an S3 XML error; every response has
/// x-amz-request-id. Uploads go through <see cref="Uploader"/>, so they are cataloged and queued for
/// labeling in one transaction, exactly like REST uploads.
/// </summary>
public sealed partial class S3Handler(
    IObjectStore store,
    ICatalog catalog,
    Uploader uploader,
    IS3MetadataStore metadata,
    S3Multipart multipart,
    S3SigV4 sigv4,
    ServerOptions options,
    string dataFolder,
    LabelLens.Application.DiskSpace disk,
    ILogger<S3Handler> logger)
{
    /// <summary>S3's limit on user metadata (names and values, in bytes).</summary>
    public const int MaxMetadataBytes = 2048;

    /// <summary>S3's minimum size of every part but the last.</summary>
    public const long MinPartBytes = 5L * 1024 * 1024;

    public const long MaxPartBytes = 5L * 1024 * 1024 * 1024;

    private static readonly string[] StoredHeaders = ["cache-control", "content-disposition", "content-language", "expires"];

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var requestId = Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        context.Response.Headers["x-amz-request-id"] = requestId;
        context.Response.Headers["x-amz-id-2"] = requestId;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Sizes are enforced per operation (objects, parts, XML documents), on the decoded content.
            limit.MaxRequestBodySize = null;
        }

        try
        {
            await DispatchAsync(context);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            // The client went away.
        }
        catch (Exception ex)
        {
            if (ex is not StorageException && DiskFull.Is(ex))
            {
                // A part, a manifest or the catalog found the disk full: say so (507), not a bare InternalError 500.
                disk.WriteFailed(ex);
                ex = DiskFull.Refusal(disk.DataFolder, ex);
            }

            var error = ex switch
            {
                S3Exception s3 => s3,
                StorageException storage => S3Exception.From(storage),
                BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new S3Exception("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size."),
                BadHttpRequestException bad => new S3Exception("IncompleteBody", 400, bad.Message),
                _ => null,
            };
            if (error is null)
            {
                logger.LogError(ex, "S3 {Method} {Path} failed", context.Request.Method, S3Request.RawPath(context));
                error = new S3Exception();
            }
            else if (error.Status == StatusCodes.Status403Forbidden)
            {
                logger.LogInformation("S3 {Method} {Path} refused: {Code} {Message}", context.Request.Method, S3Request.RawPath(context), error.Code, error.Message);
            }

            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }

            context.Response.Headers.Remove("ETag");
            if (error.Code == "SlowDown")
            {
                context.Response.Headers.RetryAfter = ((int)UploadBacklog.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            await S3Xml.WriteErrorAsync(context, error, requestId);
        }
    }

    private async Task DispatchAsync(HttpContext context)
    {
        var request = context.Request;
        if (HttpMethods.IsPost(request.Method) && request.HasFormContentType && !request.Query.ContainsKey("delete") && !request.Query.ContainsKey("uploads") && !request.Query.ContainsKey("uploadId"))
        {
            // A browser form upload carries its signature in a signed policy field, not in headers.
            throw S3Exception.NotImplemented("POST Object (browser form upload with a signed policy); use PUT, or a presigned PUT URL,");
        }

        var caller = sigv4.Authenticate(context);
        logger.LogDebug("S3 {Method} {Target} by {AccessKey}, payload {Payload}, encoding {Encoding}", request.Method, context.Features.Get<IHttpRequestFeature>()?.RawTarget, caller.AccessKey ?? "anonymous", caller.Payload, request.Headers.ContentEncoding.ToString());
        var raw = S3Request.RawPath(context)[1..];
        var slash = raw.IndexOf('/', StringComparison.Ordinal);
        var bucket = Uri.UnescapeDataString(slash < 0 ? raw : raw[..slash]);
        var key = slash < 0 ? "" : Uri.UnescapeDataString(raw[(slash + 1)..]);
        var query = request.Query;
        var method = request.Method;
        var ct = context.RequestAborted;

        if (bucket.Length == 0)
        {
            if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            {
                await ListBucketsAsync(context, ct);
                return;
            }

            throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
        }

        ObjectNames.ValidateBucket(bucket);
        if (key.Length == 0)
        {
            await BucketOperationAsync(context, caller, bucket, method, query, ct);
            return;
        }

        ValidateKey(key);
        if (HttpMethods.IsPut(method))
        {
            if (query.ContainsKey("uploadId") || query.ContainsKey("partNumber"))
            {
                if (request.Headers.ContainsKey("x-amz-copy-source"))
                {
                    throw S3Exception.NotImplemented("UploadPartCopy");
                }

                await UploadPartAsync(context, caller, bucket, key, ct);
            }
            else if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"PUT ?{sub}");
            }
            else if (request.Headers.ContainsKey("x-amz-copy-source"))
            {
                await CopyObjectAsync(context, bucket, key, ct);
            }
            else
            {
                await PutObjectAsync(context, caller, bucket, key, ct);
            }
        }
        else if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            if (query.ContainsKey("uploadId"))
            {
                await ListPartsAsync(context, bucket, key, ct);
            }
            else if (query.ContainsKey("tagging"))
            {
                await GetObjectTaggingAsync(context, bucket, key, ct);
            }
            else if (query.ContainsKey("attributes") && HttpMethods.IsGet(method))
            {
                await GetObjectAttributesAsync(context, bucket, key, ct);
            }
            else if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"GET ?{sub}");
            }
            else
            {
                await GetObjectAsync(context, bucket, key, ct);
            }
        }
        else if (HttpMethods.IsDelete(method))
        {
            if (query.ContainsKey("uploadId"))
            {
                await AbortMultipartAsync(context, bucket, key, ct);
            }
            else if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"DELETE ?{sub}");
            }
            else
            {
                await DeleteObjectAsync(context, bucket, key, ct);
            }
        }
        else if (HttpMethods.IsPost(method) && query.ContainsKey("uploads"))
        {
            await CreateMultipartAsync(context, bucket, key, ct);
        }
        else if (HttpMethods.IsPost(method) && query.ContainsKey("uploadId"))
        {
            await CompleteMultipartAsync(context, caller, bucket, key, ct);
        }
        else
        {
            throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
        }
    }

    private async Task BucketOperationAsync(HttpContext context, S3Caller caller, string bucket, string method, IQueryCollection query, CancellationToken ct)
    {
        if (HttpMethods.IsPut(method))
        {
            if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"PUT bucket ?{sub}");
            }

            await CreateBucketAsync(context, caller, bucket, ct);
        }
        else if (HttpMethods.IsHead(method))
        {
            await RequireBucketAsync(bucket, ct);
            context.Response.Headers["x-amz-bucket-region"] = options.S3Region;
            context.Response.StatusCode = StatusCodes.Status200OK;
        }
        else if (HttpMethods.IsGet(method))
        {
            await RequireBucketAsync(bucket, ct);
            if (query.ContainsKey("location"))
            {
                await S3Xml.WriteAsync(context, S3Xml.E("LocationConstraint", options.S3Region == "us-east-1" ? null : options.S3Region));
            }
            else if (query.ContainsKey("uploads"))
            {
                await ListMultipartUploadsAsync(context, bucket, ct);
            }
            else if (query.ContainsKey("versioning"))
            {
                await S3Xml.WriteAsync(context, S3Xml.E("VersioningConfiguration"));
            }
            else if (query.ContainsKey("versions"))
            {
                await ListObjectVersionsAsync(context, bucket, ct);
            }
            else if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"GET bucket ?{sub}");
            }
            else if (query["list-type"] == "2")
            {
                await ListObjectsAsync(context, bucket, v2: true, ct);
            }
            else
            {
                await ListObjectsAsync(context, bucket, v2: false, ct);
            }
        }
        else if (HttpMethods.IsDelete(method))
        {
            if (Subresource(query) is { } sub)
            {
                throw S3Exception.NotImplemented($"DELETE bucket ?{sub}");
            }

            await store.DeleteBucketAsync(bucket, ct);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        else if (HttpMethods.IsPost(method) && query.ContainsKey("delete"))
        {
            await DeleteObjectsAsync(context, caller, bucket, ct);
        }
        else
        {
            throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
        }
    }

    private async Task ListBucketsAsync(HttpContext context, CancellationToken ct)
    {
        var buckets = await store.ListBucketsAsync(ct);
        var objects = Path.Combine(dataFolder, "objects");
        await S3Xml.WriteAsync(context, S3Xml.E(
            "ListAllMyBucketsResult",
            S3Xml.Owner(),
            S3Xml.E("Buckets", buckets.Select(b => S3Xml.E(
                "Bucket",
                S3Xml.E("Name", b),
                S3Xml.E("CreationDate", S3Xml.Date(new DateTimeOffset(Directory.GetCreationTimeUtc(Path.Combine(objects, b)), TimeSpan.Zero))))))));
    }

    private async Task CreateBucketAsync(HttpContext context, S3Caller caller, string bucket, CancellationToken ct)
    {
        // The body (CreateBucketConfiguration, a location constraint) is read, checked if signed, and ignored.
        await using (var body = S3BodyStream.Open(context.Request, caller, 64 * 1024))
        {
            var document = await body.ReadSmallAsync(64 * 1024, ct);
            if (document.Length > 0)
            {
                S3Xml.Parse(document, "CreateBucketConfiguration");
            }
        }

        if (await store.BucketExistsAsync(bucket, ct))
        {
            // As AWS: in us-east-1 re-creating your own bucket succeeds; elsewhere it is BucketAlreadyOwnedByYou.
            if (caller.Region != "us-east-1")
            {
                throw new S3Exception("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.");
            }
        }
        else
        {
            await store.CreateBucketAsync(bucket, ct);
        }

        context.Response.Headers.Location = "/" + bucket;
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private async Task RequireBucketAsync(string bucket, CancellationToken ct)
    {
        if (!await store.BucketExistsAsync(bucket, ct))
        {
            throw S3Exception.NoSuchBucket(bucket);
        }
    }

    private static void ValidateKey(string key)
    {
        if (Encoding.UTF8.GetByteCount(key) > ObjectNames.MaxKeyBytes)
        {
            throw new S3Exception("KeyTooLongError", 400, "Your key is too long (at most 1024 bytes).");
        }

        ObjectNames.ValidateKey(key);
    }

    private static readonly string[] Subresources =
        ["versioning", "acl", "policy", "tagging", "cors", "lifecycle", "website", "logging", "notification", "replication", "encryption", "object-lock", "legal-hold", "retention", "versions", "requestPayment", "accelerate", "analytics", "inventory", "metrics", "ownershipControls", "publicAccessBlock", "intelligent-tiering", "attributes", "restore", "select", "torrent", "policyStatus"];

    private static string? Subresource(IQueryCollection query) => Subresources.FirstOrDefault(query.ContainsKey);

    /// <summary>x-amz-meta-* headers (names lowercase), at most 2 KB together.</summary>
    private static Dictionary<string, string> UserMetadata(HttpRequest request)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var size = 0;
        foreach (var (name, value) in request.Headers)
        {
            if (name.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            {
                var shortName = name["x-amz-meta-".Length..].ToLowerInvariant();
                var text = value.ToString();
                size += Encoding.UTF8.GetByteCount(shortName) + Encoding.UTF8.GetByteCount(text);
                result[shortName] = text;
            }
        }

        if (size > MaxMetadataBytes)
        {
            throw new S3Exception("MetadataTooLarge", 400, $"Your metadata headers exceed the maximum allowed metadata size ({MaxMetadataBytes} bytes).");
        }

        return result;
    }

    private static Dictionary<string, string> ContentHeaders(HttpRequest request)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in StoredHeaders)
        {
            if (request.Headers[name].ToString() is { Length: > 0 } value)
            {
                result[name] = value;
            }
        }

        // Stored as S3 returns it: the codings as sent, comma and space between them.
        var encoding = string.Join(", ", request.Headers.ContentEncoding.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(e => !e.Equals("aws-chunked", StringComparison.OrdinalIgnoreCase)));
        if (encoding.Length > 0)
        {
            result["content-encoding"] = encoding;
        }

        return result;
    }

    private static string? ContentType(HttpRequest request) => string.IsNullOrWhiteSpace(request.ContentType) ? null : request.ContentType;

    private static string Quote(string etag) => $"\"{etag}\"";

    private static string Unquote(string etag) => etag.Trim().Trim('"');

    /// <summary>A header value Kestrel can send: non-ASCII text as an RFC 2047 encoded word (as S3 does).</summary>
    private static string HeaderValue(string value) =>
        value.All(c => c is >= ' ' and <= '~') ? value : $"=?UTF-8?B?{Convert.ToBase64String(Encoding.UTF8.GetBytes(value))}?=";

    private static int? IntQuery(IQueryCollection query, string name, int min, int max)
    {
        if (query[name].ToString() is not { Length: > 0 } text)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min
            ? Math.Min(value, max)
            : throw S3Exception.InvalidArgument($"{name} must be an integer of at least {min}.");
    }
}
