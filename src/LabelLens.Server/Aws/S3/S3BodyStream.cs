using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// A request body as content: aws-chunked decoded, and every digest the client sent (signed SHA-256,
/// Content-MD5, x-amz-checksum-* in headers or trailers, the decoded length) checked when it ends. A
/// mismatch throws from the last read, so a store that streams the body to a temporary file never commits it.
/// </summary>
public sealed class S3BodyStream : Stream
{
    private readonly Stream _inner;
    private readonly AwsChunkedStream? _chunked;
    private readonly List<Check> _checks = [];
    private readonly long? _decodedLength;
    private readonly long _maxBytes;
    private long _count;
    private bool _verified;

    private S3BodyStream(Stream inner, AwsChunkedStream? chunked, long? decodedLength, long maxBytes)
    {
        _inner = inner;
        _chunked = chunked;
        _decodedLength = decodedLength;
        _maxBytes = maxBytes;
    }

    /// <summary>Verified checksums by algorithm (lowercase), base64, to echo in x-amz-checksum-* response headers.</summary>
    public Dictionary<string, string> Checksums { get; } = new(StringComparer.Ordinal);

    /// <summary>Content bytes read so far.</summary>
    public long Count => _count;

    /// <summary>The body of <paramref name="request"/>, decoded and checked as <paramref name="caller"/> signed it.</summary>
    /// <param name="checksumHeadersDescribeBody">
    /// False for CompleteMultipartUpload, whose x-amz-checksum-* describe the object being assembled, not the XML sent.
    /// </param>
    public static S3BodyStream Open(HttpRequest request, S3Caller caller, long maxBytes, bool checksumHeadersDescribeBody = true)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(caller);
        var headers = request.Headers;
        long? decodedLength = null;
        if (headers["x-amz-decoded-content-length"].ToString() is { Length: > 0 } decoded)
        {
            decodedLength = long.TryParse(decoded, NumberStyles.None, CultureInfo.InvariantCulture, out var d)
                ? d
                : throw S3Exception.InvalidArgument("x-amz-decoded-content-length is not a number.");
        }

        var contentLength = decodedLength ?? request.ContentLength;
        if (contentLength > maxBytes)
        {
            throw new S3Exception("EntityTooLarge", 400, $"Your proposed upload exceeds the maximum allowed size ({maxBytes:N0} bytes).");
        }

        var chunkedEncoding = headers.ContentEncoding.ToString().Contains("aws-chunked", StringComparison.OrdinalIgnoreCase);
        var streaming = caller.Payload is S3PayloadMode.StreamingSigned or S3PayloadMode.StreamingSignedTrailer or S3PayloadMode.StreamingUnsignedTrailer;
        AwsChunkedStream? chunked = streaming || chunkedEncoding ? new AwsChunkedStream(request.Body, caller) : null;
        var body = new S3BodyStream(chunked ?? request.Body, chunked, streaming || chunkedEncoding ? decodedLength : null, maxBytes);
        if (caller.Payload == S3PayloadMode.Sha256)
        {
            var expected = caller.PayloadSha256!;
            body._checks.Add(new Check("sha256", S3Checksums.Create("sha256"), () => Convert.FromHexString(expected), "XAmzContentSHA256Mismatch", Echo: false));
        }

        if (headers.ContainsKey("Content-MD5") && headers.ContentMD5.ToString().Trim().Length == 0)
        {
            // Sent but empty: S3 refuses it rather than storing an unchecked body.
            throw new S3Exception("InvalidDigest", 400, "The Content-MD5 you specified was invalid.");
        }

        if (headers.ContentMD5.ToString() is { Length: > 0 } md5)
        {
            var expected = DecodeDigest(md5, 16, "Content-MD5");
            body._checks.Add(new Check("md5", S3Checksums.Create("md5"), () => expected, "BadDigest", Echo: false));
        }

        foreach (var algorithm in checksumHeadersDescribeBody ? S3Checksums.Algorithms : [])
        {
            if (headers[$"x-amz-checksum-{algorithm}"].ToString() is { Length: > 0 } value)
            {
                var size = algorithm switch { "crc32" or "crc32c" => 4, "crc64nvme" => 8, "sha1" => 20, _ => 32 };
                var expected = DecodeDigest(value, size, $"x-amz-checksum-{algorithm}");
                body._checks.Add(new Check(algorithm, S3Checksums.Create(algorithm), () => expected, "BadDigest", Echo: true));
            }
        }

        foreach (var trailer in headers["x-amz-trailer"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = trailer.ToLowerInvariant();
            if (!name.StartsWith("x-amz-checksum-", StringComparison.Ordinal) || !S3Checksums.Algorithms.Contains(name["x-amz-checksum-".Length..]))
            {
                throw S3Exception.InvalidArgument($"Unsupported trailer '{LabelLens.Storage.ObjectNames.Printable(trailer)}'.");
            }

            if (chunked is null)
            {
                throw S3Exception.InvalidRequest("x-amz-trailer needs an aws-chunked body.");
            }

            var algorithm = name["x-amz-checksum-".Length..];
            var size = algorithm switch { "crc32" or "crc32c" => 4, "crc64nvme" => 8, "sha1" => 20, _ => 32 };
            body._checks.Add(new Check(
                algorithm,
                S3Checksums.Create(algorithm),
                () => chunked.Trailers.TryGetValue(name, out var v) ? DecodeDigest(v, size, name) : throw new S3Exception("IncompleteBody", 400, $"The body announced the trailer {name} but did not send it."),
                "BadDigest",
                Echo: true));
        }

        return body;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _count; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await _inner.ReadAsync(buffer, cancellationToken);
        if (read == 0)
        {
            Verify();
            return 0;
        }

        _count += read;
        if (_count > _maxBytes)
        {
            throw new S3Exception("EntityTooLarge", 400, $"Your proposed upload exceeds the maximum allowed size ({_maxBytes:N0} bytes).");
        }

        foreach (var check in _checks)
        {
            check.Checksum.Append(buffer.Span[..read]);
        }

        return read;
    }

    /// <summary>Reads the whole body into memory, refusing more than <paramref name="limit"/> bytes (small XML documents only).</summary>
    public async Task<byte[]> ReadSmallAsync(int limit, CancellationToken cancellationToken)
    {
        using var memory = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (memory.Length + read > limit)
            {
                throw S3Exception.MalformedXml($"The XML document is larger than {limit:N0} bytes.");
            }

            memory.Write(buffer, 0, read);
        }

        return memory.ToArray();
    }

    private void Verify()
    {
        if (_verified)
        {
            return;
        }

        _verified = true;
        if (_decodedLength is { } expectedLength && expectedLength != _count)
        {
            throw new S3Exception("IncompleteBody", 400, $"The body holds {_count} bytes, not the {expectedLength} announced in x-amz-decoded-content-length.");
        }

        foreach (var check in _checks)
        {
            var actual = check.Checksum.GetDigest();
            if (!actual.AsSpan().SequenceEqual(check.Expected()))
            {
                throw check.Algorithm == "sha256" && check.Code == "XAmzContentSHA256Mismatch"
                    ? new S3Exception(check.Code, 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
                    : S3Exception.BadDigest(check.Algorithm == "md5"
                        ? "The Content-MD5 you specified did not match what we received."
                        : $"The {check.Algorithm.ToUpperInvariant()} you specified did not match the calculated checksum.");
            }

            if (check.Echo)
            {
                Checksums[check.Algorithm] = Convert.ToBase64String(actual);
            }
        }
    }

    private static byte[] DecodeDigest(string value, int size, string header)
    {
        var bytes = new byte[size];
        if (!Convert.TryFromBase64String(value.Trim(), bytes, out var written) || written != size)
        {
            throw new S3Exception("InvalidDigest", 400, $"The {header} you specified was invalid.");
        }

        return bytes;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var check in _checks)
            {
                check.Checksum.Dispose();
            }

            _chunked?.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed record Check(string Algorithm, IS3Checksum Checksum, Func<byte[]> Expected, string Code, bool Echo);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
