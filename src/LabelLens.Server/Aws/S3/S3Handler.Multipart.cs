using System.Globalization;
using System.Security.Cryptography;
using System.Xml.Linq;
using LabelLens.Storage;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

public sealed partial class S3Handler
{
    private async Task CreateMultipartAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var request = context.Request;
        await RequireBucketAsync(bucket, ct);
        disk.EnsureRoomForUpload();
        var headers = ContentHeaders(request);
        if (request.Headers["x-amz-checksum-algorithm"].ToString() is { Length: > 0 } algorithm)
        {
            if (!S3Checksums.Algorithms.Contains(algorithm.ToLowerInvariant()))
            {
                throw S3Exception.InvalidArgument($"Unknown checksum algorithm '{LabelLens.Storage.ObjectNames.Printable(algorithm)}'.");
            }

            // Remembered for CompleteMultipartUpload, which gives the object the parts' composite checksum.
            headers[UploadChecksumAlgorithmKey] = algorithm.ToLowerInvariant();
            context.Response.Headers["x-amz-checksum-algorithm"] = algorithm;
        }

        var upload = await multipart.CreateAsync(bucket, key, ContentType(request), UserMetadata(request), headers, ct);

        await S3Xml.WriteAsync(context, S3Xml.E("InitiateMultipartUploadResult", S3Xml.E("Bucket", bucket), S3Xml.E("Key", key), S3Xml.E("UploadId", upload.UploadId)));
    }

    private async Task<MultipartUpload> RequireUploadAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var upload = await multipart.GetAsync(context.Request.Query["uploadId"].ToString(), ct);
        return upload is not null && upload.Bucket == bucket && upload.Key == key ? upload : throw S3Exception.NoSuchUpload();
    }

    private async Task UploadPartAsync(HttpContext context, S3Caller caller, string bucket, string key, CancellationToken ct)
    {
        var text = context.Request.Query["partNumber"].ToString();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 10_000)
        {
            throw S3Exception.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive.");
        }

        var upload = await RequireUploadAsync(context, bucket, key, ct);
        disk.EnsureRoomForUpload();
        await using var body = S3BodyStream.Open(context.Request, caller, Math.Min(MaxPartBytes, options.MaxObjectBytes));
        var part = await multipart.PutPartAsync(upload, number, body, ct);
        context.Response.Headers.ETag = Quote(part.ETag);
        EchoChecksums(context, body);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private async Task CompleteMultipartAsync(HttpContext context, S3Caller caller, string bucket, string key, CancellationToken ct)
    {
        var uploadId = context.Request.Query["uploadId"].ToString();
        if (await multipart.GetAsync(uploadId, ct) is null && await multipart.CompletedEarlierAsync(uploadId, bucket, key, ct) is { } done)
        {
            // A retry after a lost response (to this node or any other): the same answer, not NoSuchUpload.
            var earlier = done is { ChecksumAlgorithm: { } algorithm, ChecksumValue: { } value, ChecksumType: { } type } ? new MultipartChecksum(algorithm, value, type, []) : null;
            await WriteCompletedAsync(context, bucket, key, done.ETag, earlier);
            return;
        }

        var upload = await RequireUploadAsync(context, bucket, key, ct);
        byte[] document;
        await using (var body = S3BodyStream.Open(context.Request, caller, 4 * 1024 * 1024, checksumHeadersDescribeBody: false))
        {
            document = await body.ReadSmallAsync(4 * 1024 * 1024, ct);
        }

        var root = S3Xml.Parse(document, "CompleteMultipartUpload");
        var requested = new List<(int Number, string ETag, XElement Part)>();
        foreach (var part in S3Xml.Children(root, "Part"))
        {
            if (!int.TryParse(S3Xml.Child(part, "PartNumber")?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                || S3Xml.Child(part, "ETag") is not { } etag)
            {
                throw S3Exception.MalformedXml("Every <Part> needs a <PartNumber> and an <ETag>.");
            }

            requested.Add((number, Unquote(etag), part));
        }

        if (requested.Count is 0 or > 10_000)
        {
            throw S3Exception.MalformedXml("A CompleteMultipartUpload request lists 1 to 10000 parts.");
        }

        for (var i = 1; i < requested.Count; i++)
        {
            if (requested[i].Number <= requested[i - 1].Number)
            {
                throw new S3Exception("InvalidPartOrder", 400, "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
            }
        }

        var stored = (await multipart.ListPartsAsync(upload, ct)).ToDictionary(p => p.Number);
        var chosen = new List<MultipartPart>();
        foreach (var (number, etag, _) in requested)
        {
            if (!stored.TryGetValue(number, out var part) || !string.Equals(part.ETag, etag, StringComparison.OrdinalIgnoreCase))
            {
                throw new S3Exception("InvalidPart", 400, $"One or more of the specified parts could not be found (part {number}). The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.");
            }

            chosen.Add(part);
        }

        for (var i = 0; i < chosen.Count - 1; i++)
        {
            if (chosen[i].Size < MinPartBytes)
            {
                throw new S3Exception("EntityTooSmall", 400, $"Your proposed upload is smaller than the minimum allowed object size: part {chosen[i].Number} is under 5 MiB and is not the last part.");
            }
        }

        if (chosen.Sum(p => p.Size) > options.MaxObjectBytes)
        {
            throw new S3Exception("EntityTooLarge", 400, $"Your proposed upload exceeds the maximum allowed size ({options.MaxObjectBytes:N0} bytes).");
        }

        // S3's multipart ETag: MD5 of the parts' binary MD5s, then "-" and the number of parts.
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        foreach (var part in chosen)
        {
            md5.AppendData(Convert.FromHexString(part.ETag));
        }

        var multipartETag = $"{Convert.ToHexStringLower(md5.GetHashAndReset())}-{chosen.Count}";
        var checksum = await ObjectChecksumAsync(context.Request, upload, chosen, requested.Select(r => r.Part).ToList(), ct);
        var headers = new Dictionary<string, string>(upload.Headers) { [PartSizesKey] = string.Join(',', chosen.Select(p => p.Size.ToString(CultureInfo.InvariantCulture))) };
        headers.Remove(UploadChecksumAlgorithmKey);
        if (checksum is not null)
        {
            headers[ChecksumKeyPrefix + checksum.Algorithm] = checksum.Value;
            headers[PartChecksumsKey] = string.Join(',', checksum.Parts);
        }

        using var preconditions = await WritePreconditionsAsync(context.Request, bucket, key, ct);
        await using (var content = multipart.OpenConcatenated(chosen))
        {
            await uploader.StoreAsync(bucket, key, content, upload.ContentType, ct, (stored, token) => SaveMetadataAsync(stored, multipartETag, upload.Metadata, headers, token));
        }

        await multipart.CompleteAsync(upload, multipartETag, checksum, ct);
        await WriteCompletedAsync(context, bucket, key, multipartETag, checksum);
    }

    private static Task WriteCompletedAsync(HttpContext context, string bucket, string key, string etag, MultipartChecksum? checksum) =>
        S3Xml.WriteAsync(context, S3Xml.E(
            "CompleteMultipartUploadResult",
            S3Xml.E("Location", $"http://{context.Request.Host}/{bucket}/{S3SigV4.UriEncode(key, encodeSlash: false)}"),
            S3Xml.E("Bucket", bucket),
            S3Xml.E("Key", key),
            S3Xml.E("ETag", Quote(etag)),
            checksum is null ? null : S3Xml.E(ChecksumElement(checksum.Algorithm), checksum.Value),
            checksum is null ? null : S3Xml.E("ChecksumType", checksum.Type)));

    private async Task AbortMultipartAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var upload = await RequireUploadAsync(context, bucket, key, ct);
        if (!await multipart.DeleteAsync(upload.UploadId, ct))
        {
            throw S3Exception.NoSuchUpload(); // aborted or completed by another request (maybe on another node) just now
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task ListPartsAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var upload = await RequireUploadAsync(context, bucket, key, ct);
        var query = context.Request.Query;
        var maxParts = IntQuery(query, "max-parts", 0, 1000) ?? 1000;
        var marker = IntQuery(query, "part-number-marker", 0, 10_000) ?? 0;
        var after = (await multipart.ListPartsAsync(upload, ct)).Where(p => p.Number > marker).ToList();
        var page = after.Take(maxParts).ToList();
        var truncated = after.Count > page.Count;
        await S3Xml.WriteAsync(context, S3Xml.E(
            "ListPartsResult",
            S3Xml.E("Bucket", bucket),
            S3Xml.E("Key", key),
            S3Xml.E("UploadId", upload.UploadId),
            S3Xml.Owner("Initiator"),
            S3Xml.Owner(),
            S3Xml.E("StorageClass", "STANDARD"),
            S3Xml.E("PartNumberMarker", marker),
            S3Xml.E("NextPartNumberMarker", page.Count > 0 ? page[^1].Number : marker),
            S3Xml.E("MaxParts", maxParts),
            S3Xml.E("IsTruncated", S3Xml.Bool(truncated)),
            page.Select(p => S3Xml.E(
                "Part",
                S3Xml.E("PartNumber", p.Number),
                S3Xml.E("LastModified", S3Xml.Date(p.LastModified)),
                S3Xml.E("ETag", Quote(p.ETag)),
                S3Xml.E("Size", p.Size)))));
    }

    private async Task ListMultipartUploadsAsync(HttpContext context, string bucket, CancellationToken ct)
    {
        var query = context.Request.Query;
        var prefix = query["prefix"].ToString();
        var maxUploads = IntQuery(query, "max-uploads", 0, 1000) ?? 1000;
        var keyMarker = query["key-marker"].ToString();
        var all = (await multipart.ListUploadsAsync(bucket, ct))
            .Where(u => u.Key.StartsWith(prefix, StringComparison.Ordinal) && (keyMarker.Length == 0 || string.CompareOrdinal(u.Key, keyMarker) > 0))
            .ToList();
        var page = all.Take(maxUploads).ToList();
        var truncated = all.Count > page.Count;
        await S3Xml.WriteAsync(context, S3Xml.E(
            "ListMultipartUploadsResult",
            S3Xml.E("Bucket", bucket),
            S3Xml.E("KeyMarker", keyMarker),
            S3Xml.E("UploadIdMarker", ""),
            S3Xml.E("NextKeyMarker", truncated ? page[^1].Key : ""),
            S3Xml.E("NextUploadIdMarker", truncated ? page[^1].UploadId : ""),
            S3Xml.E("Prefix", prefix),
            S3Xml.E("MaxUploads", maxUploads),
            S3Xml.E("IsTruncated", S3Xml.Bool(truncated)),
            page.Select(u => S3Xml.E(
                "Upload",
                S3Xml.E("Key", u.Key),
                S3Xml.E("UploadId", u.UploadId),
                S3Xml.Owner("Initiator"),
                S3Xml.Owner(),
                S3Xml.E("StorageClass", "STANDARD"),
                S3Xml.E("Initiated", S3Xml.Date(u.Initiated))))));
    }
}
