using System.Globalization;
using System.Xml.Linq;
using LabelLens.Storage;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// A multipart object's checksum: COMPOSITE is the algorithm over the parts' binary checksums, then "-" and the
/// number of parts (what S3 gives when the upload was created with x-amz-checksum-algorithm); FULL_OBJECT is the
/// checksum of the whole content (asked for with x-amz-checksum-type, or a value without "-N" on complete).
/// </summary>
public sealed record MultipartChecksum(string Algorithm, string Value, string Type, IReadOnlyList<string> Parts);

public sealed partial class S3Handler
{
    /// <summary>In a multipart upload's manifest only: the x-amz-checksum-algorithm it was created with.</summary>
    private const string UploadChecksumAlgorithmKey = "x-labellens-upload-checksum-algorithm";

    /// <summary>Stored with a multipart object that has a checksum: each part's, base64, in part order.</summary>
    private const string PartChecksumsKey = "x-labellens-part-checksums";

    /// <summary>The XML element S3 uses for a checksum: ChecksumSHA256, ChecksumCRC32C...</summary>
    private static string ChecksumElement(string algorithm) => "Checksum" + algorithm.ToUpperInvariant();

    /// <summary>
    /// The checksum the completed object gets, or null when neither the upload nor the request names an algorithm.
    /// Each part's is computed from its bytes (a client may have sent none for it), checked against the one the
    /// request lists for the part, and the object's against x-amz-checksum-* when the request sends it.
    /// </summary>
    private async Task<MultipartChecksum?> ObjectChecksumAsync(HttpRequest request, MultipartUpload upload, List<MultipartPart> parts, List<XElement> listed, CancellationToken ct)
    {
        var sent = S3Checksums.Algorithms.Select(a => (Algorithm: a, Value: request.Headers[$"x-amz-checksum-{a}"].ToString())).FirstOrDefault(h => h.Value.Length > 0);
        var algorithm = sent.Algorithm
            ?? upload.Headers.GetValueOrDefault(UploadChecksumAlgorithmKey)
            ?? S3Checksums.Algorithms.FirstOrDefault(a => listed.Any(p => S3Xml.Child(p, ChecksumElement(a)) is not null));
        if (algorithm is null)
        {
            return null;
        }

        var partDigests = new List<byte[]>(parts.Count);
        using var whole = S3Checksums.Create(algorithm);
        var buffer = new byte[1 << 16];
        for (var i = 0; i < parts.Count; i++)
        {
            using var part = S3Checksums.Create(algorithm);
            await using (var file = await multipart.OpenPartAsync(parts[i], ct))
            {
                int read;
                while ((read = await file.ReadAsync(buffer, ct)) > 0)
                {
                    part.Append(buffer.AsSpan(0, read));
                    whole.Append(buffer.AsSpan(0, read));
                }
            }

            var digest = part.GetDigest();
            if (S3Xml.Child(listed[i], ChecksumElement(algorithm)) is { } claimed && claimed.Trim() != Convert.ToBase64String(digest))
            {
                throw new S3Exception("InvalidPart", 400, $"One or more of the specified parts could not be found (part {parts[i].Number}): its {algorithm.ToUpperInvariant()} does not match the part uploaded.");
            }

            partDigests.Add(digest);
        }

        using var composite = S3Checksums.Create(algorithm);
        foreach (var digest in partDigests)
        {
            composite.Append(digest);
        }

        var compositeValue = $"{Convert.ToBase64String(composite.GetDigest())}-{parts.Count}";
        var fullValue = Convert.ToBase64String(whole.GetDigest());
        var fullObject = string.Equals(request.Headers["x-amz-checksum-type"], "FULL_OBJECT", StringComparison.OrdinalIgnoreCase)
            || (sent.Value is { Length: > 0 } && !sent.Value.Contains('-', StringComparison.Ordinal));
        var value = fullObject ? fullValue : compositeValue;
        if (sent.Value is { Length: > 0 } && sent.Value.Trim() != value)
        {
            throw new S3Exception("BadDigest", 400, $"The {algorithm.ToUpperInvariant()} you specified did not match the calculated checksum ({(fullObject ? "of the whole object" : "composite: of the parts' checksums, then -N")}).");
        }

        return new MultipartChecksum(algorithm, value, fullObject ? "FULL_OBJECT" : "COMPOSITE", partDigests.Select(Convert.ToBase64String).ToList());
    }

    /// <summary>GetObjectAttributes: the attributes x-amz-object-attributes names, no body.</summary>
    private async Task GetObjectAttributesAsync(HttpContext context, string bucket, string key, CancellationToken ct)
    {
        var request = context.Request;
        var wanted = request.Headers["x-amz-object-attributes"].ToString()
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (wanted.Count == 0)
        {
            throw new S3Exception("InvalidArgument", 400, "x-amz-object-attributes must name at least one of ETag, Checksum, ObjectParts, StorageClass, ObjectSize.");
        }

        var info = await GetObjectInfoAsync(bucket, key, ct);
        var headers = info.Meta?.Headers ?? new Dictionary<string, string>();
        var checksums = headers.Where(h => h.Key.StartsWith(ChecksumKeyPrefix, StringComparison.Ordinal))
            .Select(h => (Algorithm: h.Key[ChecksumKeyPrefix.Length..], h.Value)).ToList();
        var content = new List<XElement>();
        if (wanted.Contains("ETag"))
        {
            content.Add(S3Xml.E("ETag", info.ETag)); // unquoted here, as S3 sends it
        }

        if (wanted.Contains("Checksum") && checksums.Count > 0)
        {
            content.Add(S3Xml.E(
                "Checksum",
                checksums.Select(c => S3Xml.E(ChecksumElement(c.Algorithm), c.Value)),
                S3Xml.E("ChecksumType", checksums[0].Value.Contains('-', StringComparison.Ordinal) ? "COMPOSITE" : "FULL_OBJECT")));
        }

        if (wanted.Contains("ObjectParts") && headers.GetValueOrDefault(PartSizesKey) is { } sizesText)
        {
            var sizes = sizesText.Split(',').Select(v => long.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)).ToList();
            var partChecksums = headers.GetValueOrDefault(PartChecksumsKey)?.Split(',');
            var maxParts = int.TryParse(request.Headers["x-amz-max-parts"], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? Math.Clamp(m, 0, 1000) : 1000;
            var marker = int.TryParse(request.Headers["x-amz-part-number-marker"], NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : 0;
            var page = Enumerable.Range(1, sizes.Count).Where(n => n > marker).Take(maxParts).ToList();
            content.Add(S3Xml.E(
                "ObjectParts",
                S3Xml.E("PartsCount", sizes.Count), // TotalPartsCount in the documentation; PartsCount on the wire (botocore, the SDKs)
                S3Xml.E("PartNumberMarker", marker),
                S3Xml.E("NextPartNumberMarker", page.Count > 0 ? page[^1] : marker),
                S3Xml.E("MaxParts", maxParts),
                S3Xml.E("IsTruncated", S3Xml.Bool(page.Count > 0 && page[^1] < sizes.Count)),
                page.Select(n => S3Xml.E(
                    "Part",
                    partChecksums is { } c && checksums.Count > 0 ? S3Xml.E(ChecksumElement(checksums[0].Algorithm), c[n - 1]) : null,
                    S3Xml.E("PartNumber", n),
                    S3Xml.E("Size", sizes[n - 1])))));
        }

        if (wanted.Contains("StorageClass"))
        {
            content.Add(S3Xml.E("StorageClass", "STANDARD"));
        }

        if (wanted.Contains("ObjectSize"))
        {
            content.Add(S3Xml.E("ObjectSize", info.Image.Size));
        }

        context.Response.Headers.LastModified = info.LastModified.ToString("R", CultureInfo.InvariantCulture);
        await S3Xml.WriteAsync(context, S3Xml.E("GetObjectAttributesResponse", content));
    }
}
