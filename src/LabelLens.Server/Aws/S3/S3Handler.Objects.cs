using System.Globalization;
using LabelLens.Storage;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

public sealed partial class S3Handler
{
    private async Task PutObjectAsync(HttpContext context, S3Caller caller, string bucket, string key, CancellationToken ct)
    {
        var request = context.Request;
        await RequireBucketAsync(bucket, ct);
        var userMetadata = UserMetadata(request);
        var headers = ContentHeaders(request);
        using var preconditions = await WritePreconditionsAsync(request, bucket, key, ct);
        await using var body = S3BodyStream.Open(request, caller, options.MaxObjectBytes);
        var outcome = await uploader.StoreAsync(bucket, key, body, ContentType(request), ct, (stored, token) =>
        {
            foreach (var (algorithm, value) in body.Checksums)
            {
                // Kept for GET/HEAD with x-amz-checksum-mode: ENABLED, which SDKs use to verify a download.
                headers[ChecksumKeyPrefix + algorithm] = value;
            }

            return SaveMetadataAsync(stored, null, userMetadata, headers, token);
        });
        context.Response.Headers.ETag = Quote(outcome.Image.ETag);
        EchoChecksums(context, body);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>Runs inside the upload, before the catalog records the bytes (see <see cref="Uploader.StoreAsync"/>).</summary>
    private async Task SaveMetadataAsync(StoredObject stored, string? etag, IReadOnlyDictionary<string, string> userMetadata, Dictionary<string, string> headers, CancellationToken ct)
    {
        headers["last-modified"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        await metadata.SetAsync(stored.Bucket, stored.Key, new S3ObjectMeta(stored.Sha256, etag, userMetadata, headers), ct);
    }

    private static void EchoChecksums(HttpContext context, S3BodyStream body)
    {
        foreach (var (algorithm, value) in body.Checksums)
        {
            context.Response.Headers[$"x-amz-checksum-{algorithm}"] = value;
        }
    }

    /// <summary>The object as S3 describes it: catalog row plus S3 metadata (ETag, user metadata, last write).</summary>
    private sealed record S3Object(ImageRecord Image, string ETag, DateTimeOffset LastModified, S3ObjectMeta? Meta);

    private async Task<S3Object> GetObjectInfoAsync(string bucket, string key, CancellationToken ct)
    {
        await RequireBucketAsync(bucket, ct);
        var image = await catalog.GetImageAsync(bucket, key, ct) ?? throw S3Exception.NoSuchKey();
        var meta = await metadata.GetAsync(bucket, key, image.Sha256, ct);
        return Describe(image, meta);
    }

    private static S3Object Describe(ImageRecord image, S3ObjectMeta? meta)
    {
        var lastModified = meta?.Headers.GetValueOrDefault("last-modified") is { } ms && long.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? DateTimeOffset.FromUnixTimeMilliseconds(value)
            : image.UpdatedAt;
        return new S3Object(image, meta?.ETag ?? image.ETag, lastModified, meta);
    }

    private async Task GetObjectAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var head = HttpMethods.IsHead(context.Request.Method);
        var info = await GetObjectInfoAsync(bucket, key, ct);
        var response = context.Response;
        var size = info.Image.Size;
        var notModified = Preconditions(context.Request, info.ETag, info.LastModified);
        SetObjectHeaders(context, info);
        if (notModified)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        long start = 0, length = size;
        var range = context.Request.Headers.Range.ToString();
        if (context.Request.Query["partNumber"].ToString() is { Length: > 0 } partNumber)
        {
            (start, length) = Part(info, partNumber, range.Length > 0);
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {start}-{start + length - 1}/{size}";
        }
        else if (range.Length > 0 && ParseRange(range, size) is var (rangeStart, rangeLength))
        {
            if (rangeLength < 0)
            {
                response.Headers.ContentRange = $"bytes */{size}";
                throw new S3Exception("InvalidRange", 416, "The requested range is not satisfiable.");
            }

            start = rangeStart;
            length = rangeLength;
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {start}-{start + length - 1}/{size}";
        }
        else
        {
            response.StatusCode = StatusCodes.Status200OK;
        }

        if (response.StatusCode == StatusCodes.Status206PartialContent)
        {
            // A stored checksum is of the whole object: a part or a range would fail the client's check (S3 sends none).
            foreach (var algorithm in S3Checksums.Algorithms)
            {
                response.Headers.Remove("x-amz-checksum-" + algorithm);
            }
        }

        response.ContentLength = length;
        if (head)
        {
            return;
        }

        await using var stream = await store.OpenReadAsync(bucket, key, ct) ?? throw S3Exception.NoSuchKey();
        stream.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[1 << 16];
        var remaining = length;
        while (remaining > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), ct);
            if (read == 0)
            {
                break;
            }

            await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
            remaining -= read;
        }
    }

    /// <summary>Stored with a multipart object (not a header clients see): its parts' sizes, for GET/HEAD ?partNumber.</summary>
    internal const string PartSizesKey = "x-labellens-part-sizes";

    /// <summary>Stored with an object: the x-amz-checksum-* its upload carried and was checked against.</summary>
    private const string ChecksumKeyPrefix = "x-labellens-checksum-";

    /// <summary>
    /// Where part <paramref name="partNumber"/> lies in the object. A multipart object has its parts (and says how
    /// many, x-amz-mp-parts-count); any other object is one part.
    /// </summary>
    private static (long Start, long Length) Part(S3Object info, string partNumber, bool withRange)
    {
        if (withRange)
        {
            throw S3Exception.InvalidRequest("Cannot specify both Range header and partNumber query parameter.");
        }

        if (!int.TryParse(partNumber, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 10_000)
        {
            throw S3Exception.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive.");
        }

        var sizes = info.Meta?.Headers.GetValueOrDefault(PartSizesKey) is { } stored
            ? stored.Split(',').Select(v => long.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)).ToList()
            : [info.Image.Size];
        if (number > sizes.Count)
        {
            throw new S3Exception("InvalidPartNumber", 416, "The requested partnumber is not satisfiable.");
        }

        return (sizes.Take(number - 1).Sum(), sizes[number - 1]);
    }

    private static void SetObjectHeaders(HttpContext context, S3Object info)
    {
        var response = context.Response;
        var query = context.Request.Query;
        response.Headers.ETag = Quote(info.ETag);
        response.Headers.LastModified = info.LastModified.ToString("R", CultureInfo.InvariantCulture);
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = info.Image.ContentType ?? "binary/octet-stream";
        response.Headers["X-LabelLens-Image-Id"] = info.Image.Id;
        response.Headers["X-LabelLens-Status"] = info.Image.Status;
        if (info.Meta is { } meta)
        {
            foreach (var (name, value) in meta.Headers)
            {
                if (name == PartSizesKey)
                {
                    response.Headers["x-amz-mp-parts-count"] = (value.Count(c => c == ',') + 1).ToString(CultureInfo.InvariantCulture);
                }
                else if (name.StartsWith(ChecksumKeyPrefix, StringComparison.Ordinal))
                {
                    if (string.Equals(context.Request.Headers["x-amz-checksum-mode"], "ENABLED", StringComparison.OrdinalIgnoreCase))
                    {
                        response.Headers["x-amz-checksum-" + name[ChecksumKeyPrefix.Length..]] = value;
                        response.Headers["x-amz-checksum-type"] = value.Contains('-', StringComparison.Ordinal) ? "COMPOSITE" : "FULL_OBJECT";
                    }
                }
                else if (name != "last-modified" && !name.StartsWith("x-labellens-", StringComparison.Ordinal))
                {
                    response.Headers[name] = HeaderValue(value);
                }
            }

            foreach (var (name, value) in meta.Metadata)
            {
                response.Headers["x-amz-meta-" + name] = HeaderValue(value);
            }
        }

        // Presigned GETs may ask for other response headers.
        foreach (var (parameter, header) in new[] { ("response-content-type", "Content-Type"), ("response-content-disposition", "Content-Disposition"), ("response-cache-control", "Cache-Control"), ("response-content-language", "Content-Language"), ("response-content-encoding", "Content-Encoding"), ("response-expires", "Expires") })
        {
            if (query[parameter].ToString() is { Length: > 0 } value)
            {
                response.Headers[header] = HeaderValue(value);
            }
        }
    }

    /// <summary>If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (true: 304), as S3 orders them.</summary>
    private static bool Preconditions(HttpRequest request, string etag, DateTimeOffset lastModified)
    {
        var modified = new DateTimeOffset(lastModified.Year, lastModified.Month, lastModified.Day, lastModified.Hour, lastModified.Minute, lastModified.Second, TimeSpan.Zero);
        var ifMatch = request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0)
        {
            if (!EtagMatches(ifMatch, etag))
            {
                throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold (If-Match).");
            }
        }
        else if (ParseHttpDate(request.Headers.IfUnmodifiedSince.ToString()) is { } unmodifiedSince && modified > unmodifiedSince)
        {
            throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold (If-Unmodified-Since).");
        }

        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (ifNoneMatch.Length > 0)
        {
            return EtagMatches(ifNoneMatch, etag);
        }

        return ParseHttpDate(request.Headers.IfModifiedSince.ToString()) is { } since && modified <= since;
    }

    private static bool EtagMatches(string header, string etag) =>
        header.Split(',', StringSplitOptions.TrimEntries).Any(candidate => candidate == "*" || Unquote(candidate.StartsWith("W/", StringComparison.Ordinal) ? candidate[2..] : candidate) == etag);

    private static DateTimeOffset? ParseHttpDate(string value) =>
        value.Length > 0 && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date) ? date : null;

    /// <summary>A single byte range: (start, length); length -1 when unsatisfiable; null when the header is to be ignored.</summary>
    private static (long Start, long Length)? ParseRange(string header, long size)
    {
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return null;
        }

        var spec = header["bytes=".Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return null;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // Suffix: the last N bytes.
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix))
            {
                return null;
            }

            if (suffix == 0 || size == 0)
            {
                return (0, -1);
            }

            suffix = Math.Min(suffix, size);
            return (size - suffix, suffix);
        }

        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        var end = size - 1;
        if (last.Length > 0)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out end) || end < start)
            {
                return null;
            }
        }

        if (start >= size)
        {
            return (0, -1);
        }

        end = Math.Min(end, size - 1);
        return (start, end - start + 1);
    }

    private async Task DeleteObjectAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        await RequireBucketAsync(bucket, ct);
        await DeleteAsync(bucket, key, ct);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>As the REST DELETE: the catalog row (labels, pending jobs) first, then the bytes, then the S3 metadata.</summary>
    private async Task DeleteAsync(string bucket, string key, CancellationToken ct)
    {
        await catalog.DeleteImageAsync(bucket, key, ct);
        await store.DeleteAsync(bucket, key, ct);
        await metadata.DeleteAsync(bucket, key, ct);
    }

    private async Task DeleteObjectsAsync(HttpContext context, S3Caller caller, string bucket, CancellationToken ct)
    {
        await RequireBucketAsync(bucket, ct);
        byte[] document;
        await using (var body = S3BodyStream.Open(context.Request, caller, 2 * 1024 * 1024))
        {
            document = await body.ReadSmallAsync(2 * 1024 * 1024, ct);
        }

        var root = S3Xml.Parse(document, "Delete");
        var quiet = string.Equals(S3Xml.Child(root, "Quiet")?.Trim(), "true", StringComparison.OrdinalIgnoreCase);
        var keys = new List<string>();
        foreach (var item in S3Xml.Children(root, "Object"))
        {
            keys.Add(S3Xml.Child(item, "Key") ?? throw S3Exception.MalformedXml("Every <Object> needs a <Key>."));
        }

        if (keys.Count is 0 or > 1000)
        {
            throw S3Exception.MalformedXml("A Delete request names 1 to 1000 objects.");
        }

        var results = new List<object>();
        foreach (var key in keys)
        {
            try
            {
                ValidateKey(key);
                await DeleteAsync(bucket, key, ct);
                if (!quiet)
                {
                    results.Add(S3Xml.E("Deleted", S3Xml.E("Key", key)));
                }
            }
            catch (Exception ex) when (ex is StorageException or S3Exception)
            {
                var error = ex as S3Exception ?? S3Exception.From((StorageException)ex);
                results.Add(S3Xml.E("Error", S3Xml.E("Key", ObjectNames.Printable(key)), S3Xml.E("Code", error.Code), S3Xml.E("Message", error.Message)));
            }
        }

        await S3Xml.WriteAsync(context, S3Xml.E("DeleteResult", results));
    }

    private async Task CopyObjectAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var request = context.Request;
        var source = request.Headers["x-amz-copy-source"].ToString();
        var question = source.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            source = source[..question];
        }

        source = Uri.UnescapeDataString(source).TrimStart('/');
        var slash = source.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == source.Length - 1)
        {
            throw S3Exception.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey.");
        }

        var sourceBucket = source[..slash];
        var sourceKey = source[(slash + 1)..];
        ObjectNames.ValidateBucket(sourceBucket);
        ValidateKey(sourceKey);
        await RequireBucketAsync(bucket, ct);
        var info = await GetObjectInfoAsync(sourceBucket, sourceKey, ct);
        if (request.Headers["x-amz-copy-source-if-match"].ToString() is { Length: > 0 } ifMatch && !EtagMatches(ifMatch, info.ETag))
        {
            throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold (x-amz-copy-source-if-match).");
        }

        if (request.Headers["x-amz-copy-source-if-none-match"].ToString() is { Length: > 0 } ifNoneMatch && EtagMatches(ifNoneMatch, info.ETag))
        {
            throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold (x-amz-copy-source-if-none-match).");
        }

        var replace = string.Equals(request.Headers["x-amz-metadata-directive"].ToString(), "REPLACE", StringComparison.OrdinalIgnoreCase);
        if (!replace && sourceBucket == bucket && sourceKey == key)
        {
            throw S3Exception.InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
        }

        var contentType = replace ? ContentType(request) : info.Image.ContentType;
        var userMetadata = replace ? UserMetadata(request) : new Dictionary<string, string>(info.Meta?.Metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        var headers = replace ? ContentHeaders(request) : new Dictionary<string, string>(info.Meta?.Headers ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        UploadOutcome outcome;
        await using (var content = await store.OpenReadAsync(sourceBucket, sourceKey, ct) ?? throw S3Exception.NoSuchKey())
        {
            outcome = await uploader.StoreAsync(bucket, key, content, contentType, ct, (stored, token) => SaveMetadataAsync(stored, null, userMetadata, headers, token));
        }

        await S3Xml.WriteAsync(context, S3Xml.E(
            "CopyObjectResult",
            S3Xml.E("LastModified", S3Xml.Date(DateTimeOffset.UtcNow)),
            S3Xml.E("ETag", Quote(outcome.Image.ETag))));
    }

    /// <summary>The object's top labels (at most S3's 10 tags): <c>label:Dog</c> = confidence.</summary>
    private async Task GetObjectTaggingAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var info = await GetObjectInfoAsync(bucket, key, ct);
        var details = await catalog.GetDetailsAsync(info.Image.Id, ct) ?? throw S3Exception.NoSuchKey();
        var tags = details.Labels
            .OrderByDescending(l => l.Confidence)
            .Take(10)
            .Select(l => S3Xml.E("Tag", S3Xml.E("Key", "label:" + l.Name), S3Xml.E("Value", l.Confidence.ToString("0.##", CultureInfo.InvariantCulture))));
        context.Response.Headers["X-LabelLens-Status"] = info.Image.Status;
        await S3Xml.WriteAsync(context, S3Xml.E("Tagging", S3Xml.E("TagSet", tags)));
    }

    private async Task ListObjectsAsync(HttpContext context, string bucket, bool v2, CancellationToken ct)
    {
        var query = context.Request.Query;
        var (prefix, delimiter, maxKeys, url) = ListingParameters(query);
        string Encode(string value) => url ? S3SigV4.UriEncode(value, encodeSlash: false) : value;

        string? after;
        var token = query["continuation-token"].ToString();
        var startAfter = query["start-after"].ToString();
        var marker = query["marker"].ToString();
        if (v2 && token.Length > 0)
        {
            after = ContinuationToken.Decode(token) ?? throw S3Exception.InvalidArgument("The continuation token provided is incorrect.");
        }
        else if (v2)
        {
            after = startAfter.Length > 0 ? startAfter : null;
        }
        else
        {
            // A NextMarker that is a common prefix resumes after everything under it.
            after = marker.Length == 0 ? null
                : delimiter is not null && marker.StartsWith(prefix, StringComparison.Ordinal) && marker.EndsWith(delimiter, StringComparison.Ordinal) && marker.Length > prefix.Length ? marker + PastEverything
                : marker;
        }

        var (contents, prefixes, truncated, resume, lastItem, count) = await ListPageAsync(bucket, prefix, delimiter, after, maxKeys, ct);

        var elements = new List<object?>
        {
            S3Xml.E("Name", bucket),
            S3Xml.E("Prefix", Encode(prefix)),
        };
        if (v2)
        {
            if (query.ContainsKey("continuation-token"))
            {
                elements.Add(S3Xml.E("ContinuationToken", token));
            }

            if (startAfter.Length > 0)
            {
                elements.Add(S3Xml.E("StartAfter", Encode(startAfter)));
            }

            elements.Add(S3Xml.E("KeyCount", count));
            if (truncated)
            {
                elements.Add(S3Xml.E("NextContinuationToken", ContinuationToken.Encode(resume!)));
            }
        }
        else
        {
            elements.Add(S3Xml.E("Marker", Encode(marker)));
            if (truncated)
            {
                elements.Add(S3Xml.E("NextMarker", Encode(lastItem!)));
            }
        }

        elements.Add(S3Xml.E("MaxKeys", maxKeys));
        if (delimiter is not null)
        {
            elements.Add(S3Xml.E("Delimiter", Encode(delimiter)));
        }

        if (url)
        {
            elements.Add(S3Xml.E("EncodingType", "url"));
        }

        elements.Add(S3Xml.E("IsTruncated", S3Xml.Bool(truncated)));
        elements.AddRange(contents.Select(o => S3Xml.E(
            "Contents",
            S3Xml.E("Key", Encode(o.Image.Key)),
            S3Xml.E("LastModified", S3Xml.Date(o.LastModified)),
            S3Xml.E("ETag", Quote(o.ETag)),
            S3Xml.E("Size", o.Image.Size),
            v2 && !string.Equals(query["fetch-owner"], "true", StringComparison.OrdinalIgnoreCase) ? null : S3Xml.Owner(),
            S3Xml.E("StorageClass", "STANDARD"))));
        elements.AddRange(prefixes.Select(p => S3Xml.E("CommonPrefixes", S3Xml.E("Prefix", Encode(p)))));
        await S3Xml.WriteAsync(context, S3Xml.E("ListBucketResult", elements));
    }

    /// <summary>What every listing takes: prefix, delimiter, max-keys (at most 1000) and encoding-type (only "url").</summary>
    private static (string Prefix, string? Delimiter, int MaxKeys, bool Url) ListingParameters(IQueryCollection query)
    {
        var encodingType = query["encoding-type"].ToString();
        if (encodingType.Length > 0 && encodingType != "url")
        {
            throw S3Exception.InvalidArgument("Invalid Encoding Method specified in Request.");
        }

        return (query["prefix"].ToString(), query["delimiter"].ToString() is { Length: > 0 } d ? d : null, IntQuery(query, "max-keys", 0, 1000) ?? 1000, encodingType == "url");
    }

    /// <summary>One page of a listing: objects and common prefixes after <paramref name="after"/>, at most <paramref name="maxKeys"/> of both.</summary>
    private async Task<ListPage> ListPageAsync(string bucket, string prefix, string? delimiter, string? after, int maxKeys, CancellationToken ct)
    {
        var contents = new List<S3Object>();
        var prefixes = new List<string>();
        string? resume = null;
        string? lastItem = null;
        var truncated = false;
        var cursor = after;
        var count = 0;
        while (maxKeys > 0 && !truncated)
        {
            var page = await catalog.ListObjectsAsync(bucket, prefix, cursor, 1000, ct);
            if (page.Count == 0)
            {
                break;
            }

            var refetch = false;
            var metas = await metadata.GetManyAsync(bucket, page.Select(p => p.Key).ToList(), ct);
            foreach (var image in page)
            {
                cursor = image.Key;
                var rest = image.Key[prefix.Length..];
                var at = delimiter is null ? -1 : rest.IndexOf(delimiter, StringComparison.Ordinal);
                if (count == maxKeys)
                {
                    truncated = true;
                    break;
                }

                if (at >= 0)
                {
                    var common = prefix + rest[..(at + delimiter!.Length)];
                    prefixes.Add(common);
                    count++;
                    lastItem = common;
                    resume = common + PastEverything;
                    cursor = resume;
                    refetch = true;
                    break;
                }

                var meta = metas.GetValueOrDefault(image.Key);
                contents.Add(Describe(image, meta is not null && meta.Sha256 == image.Sha256 ? meta : null));
                count++;
                lastItem = image.Key;
                resume = image.Key;
            }

            if (!refetch && page.Count < 1000)
            {
                break;
            }
        }

        return new ListPage(contents, prefixes, truncated, resume, lastItem, count);
    }

    private sealed record ListPage(List<S3Object> Contents, List<string> Prefixes, bool Truncated, string? Resume, string? LastItem, int Count);

    /// <summary>
    /// ListObjectVersions for an unversioned bucket, as S3 answers it: every object once, with VersionId "null"
    /// and IsLatest. Tools and cleanup code call it before deleting a bucket.
    /// </summary>
    private async Task ListObjectVersionsAsync(HttpContext context, string bucket, CancellationToken ct)
    {
        var query = context.Request.Query;
        var (prefix, delimiter, maxKeys, url) = ListingParameters(query);
        var versionMarker = query["version-id-marker"].ToString();
        if (versionMarker.Length > 0 && versionMarker != "null")
        {
            throw S3Exception.InvalidArgument("Invalid version id specified");
        }

        string Encode(string value) => url ? S3SigV4.UriEncode(value, encodeSlash: false) : value;
        var keyMarker = query["key-marker"].ToString();
        var after = keyMarker.Length == 0 ? null
            : delimiter is not null && keyMarker.StartsWith(prefix, StringComparison.Ordinal) && keyMarker.EndsWith(delimiter, StringComparison.Ordinal) && keyMarker.Length > prefix.Length ? keyMarker + PastEverything
            : keyMarker;
        var page = await ListPageAsync(bucket, prefix, delimiter, after, maxKeys, ct);
        var elements = new List<object?>
        {
            S3Xml.E("Name", bucket),
            S3Xml.E("Prefix", Encode(prefix)),
            S3Xml.E("KeyMarker", Encode(keyMarker)),
            S3Xml.E("VersionIdMarker", versionMarker),
        };
        if (page.Truncated)
        {
            elements.Add(S3Xml.E("NextKeyMarker", Encode(page.LastItem!)));
            elements.Add(S3Xml.E("NextVersionIdMarker", "null"));
        }

        elements.Add(S3Xml.E("MaxKeys", maxKeys));
        if (delimiter is not null)
        {
            elements.Add(S3Xml.E("Delimiter", Encode(delimiter)));
        }

        if (url)
        {
            elements.Add(S3Xml.E("EncodingType", "url"));
        }

        elements.Add(S3Xml.E("IsTruncated", S3Xml.Bool(page.Truncated)));
        elements.AddRange(page.Contents.Select(o => S3Xml.E(
            "Version",
            S3Xml.E("Key", Encode(o.Image.Key)),
            S3Xml.E("VersionId", "null"),
            S3Xml.E("IsLatest", "true"),
            S3Xml.E("LastModified", S3Xml.Date(o.LastModified)),
            S3Xml.E("ETag", Quote(o.ETag)),
            S3Xml.E("Size", o.Image.Size),
            S3Xml.Owner(),
            S3Xml.E("StorageClass", "STANDARD"))));
        elements.AddRange(page.Prefixes.Select(p => S3Xml.E("CommonPrefixes", S3Xml.E("Prefix", Encode(p)))));
        await S3Xml.WriteAsync(context, S3Xml.E("ListVersionsResult", elements));
    }

    /// <summary>Sorts after every key that starts with what it is appended to (the highest code point, U+10FFFF).</summary>
    private const string PastEverything = "\U0010FFFF";
}
