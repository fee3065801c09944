using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LabelLens.Server.Aws.S3;

/// <summary>
/// Decodes an aws-chunked body (<c>hex-size[;chunk-signature=sig]\r\n data \r\n ... 0...\r\n trailers \r\n</c>)
/// as it streams, verifying each chunk's signature (signed forms) and collecting the trailing headers.
/// Bad framing or a bad signature throws an S3 error before end of stream, so the store never commits.
/// </summary>
public sealed class AwsChunkedStream : Stream
{
    private const int MaxLine = 8192;
    private readonly Stream _inner;
    private readonly S3Caller _caller;
    private readonly bool _signed;
    private readonly byte[] _buffer = new byte[1 << 16];
    private readonly IncrementalHash? _chunkHash;
    private readonly Dictionary<string, string> _trailers = new(StringComparer.OrdinalIgnoreCase);
    private int _start;
    private int _end;
    private long _remaining;
    private bool _inChunk;
    private bool _done;
    private string? _chunkSignature;
    private string _previousSignature;

    public AwsChunkedStream(Stream inner, S3Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        _inner = inner;
        _caller = caller;
        _signed = caller.Payload is S3PayloadMode.StreamingSigned or S3PayloadMode.StreamingSignedTrailer;
        _previousSignature = caller.Signature ?? "";
        if (_signed)
        {
            _chunkHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        }
    }

    /// <summary>The trailing headers (x-amz-checksum-*), once the stream has ended.</summary>
    public IReadOnlyDictionary<string, string> Trailers => _trailers;

    public long Decoded { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => Decoded; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!_done)
        {
            if (_inChunk && _remaining > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    throw Incomplete();
                }

                var n = (int)Math.Min(Math.Min(_remaining, _end - _start), buffer.Length);
                var data = _buffer.AsMemory(_start, n);
                data.CopyTo(buffer);
                _chunkHash?.AppendData(data.Span);
                _start += n;
                _remaining -= n;
                Decoded += n;
                return n;
            }

            if (_inChunk)
            {
                // End of a chunk's data: CRLF, then its signature must match.
                var crlf = await ReadLineAsync(cancellationToken);
                if (crlf.Length != 0)
                {
                    throw Malformed("chunk data is not followed by CRLF");
                }

                VerifyChunk();
                _inChunk = false;
            }

            var header = await ReadLineAsync(cancellationToken);
            var semicolon = header.IndexOf(';', StringComparison.Ordinal);
            var sizeText = semicolon < 0 ? header : header[..semicolon];
            if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0 || sizeText.Length is 0 or > 16)
            {
                throw Malformed("bad chunk size");
            }

            _chunkSignature = null;
            if (semicolon >= 0)
            {
                foreach (var extension in header[(semicolon + 1)..].Split(';'))
                {
                    if (extension.StartsWith("chunk-signature=", StringComparison.Ordinal))
                    {
                        _chunkSignature = extension["chunk-signature=".Length..].Trim();
                    }
                }
            }

            if (_signed && _chunkSignature is null)
            {
                throw S3Exception.SignatureDoesNotMatch("A chunk of the aws-chunked body has no chunk-signature.");
            }

            if (size > 0)
            {
                _inChunk = true;
                _remaining = size;
                continue;
            }

            // The final, empty chunk: verify it, then the trailers up to the empty line.
            VerifyChunk();
            await ReadTrailersAsync(cancellationToken);
            _done = true;
        }

        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void VerifyChunk()
    {
        if (!_signed)
        {
            return;
        }

        var dataHash = Convert.ToHexStringLower(_chunkHash!.GetHashAndReset());
        var toSign = $"AWS4-HMAC-SHA256-PAYLOAD\n{_caller.AmzDate}\n{_caller.Scope}\n{_previousSignature}\n{S3SigV4.EmptySha256}\n{dataHash}";
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(_caller.SigningKey!, Encoding.UTF8.GetBytes(toSign)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(_chunkSignature?.ToLowerInvariant() ?? "")))
        {
            throw S3Exception.SignatureDoesNotMatch("The chunk signature of the aws-chunked body does not match.");
        }

        _previousSignature = expected;
    }

    private async Task ReadTrailersAsync(CancellationToken cancellationToken)
    {
        string? trailerSignature = null;
        var canonical = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(endOk: true, cancellationToken);
            if (line is null or { Length: 0 })
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw Malformed("bad trailer line");
            }

            var name = line[..colon].Trim().ToLowerInvariant();
            var value = line[(colon + 1)..].Trim();
            if (name == "x-amz-trailer-signature")
            {
                trailerSignature = value;
                continue;
            }

            if (_trailers.Count > 16)
            {
                throw Malformed("too many trailers");
            }

            _trailers[name] = value;
            canonical.Append(name).Append(':').Append(value).Append('\n');
        }

        if (_caller.Payload == S3PayloadMode.StreamingSignedTrailer)
        {
            var toSign = $"AWS4-HMAC-SHA256-TRAILER\n{_caller.AmzDate}\n{_caller.Scope}\n{_previousSignature}\n{S3SigV4.Sha256Hex(canonical.ToString())}";
            var expected = Convert.ToHexStringLower(HMACSHA256.HashData(_caller.SigningKey!, Encoding.UTF8.GetBytes(toSign)));
            if (trailerSignature is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(trailerSignature.ToLowerInvariant())))
            {
                throw S3Exception.SignatureDoesNotMatch("The trailer signature of the aws-chunked body does not match.");
            }
        }
    }

    /// <summary>The next CRLF-terminated line (ASCII), without the CRLF; null at a clean end of stream when allowed.</summary>
    private async Task<string> ReadLineAsync(CancellationToken cancellationToken) => (await ReadLineAsync(endOk: false, cancellationToken))!;

    private async Task<string?> ReadLineAsync(bool endOk, CancellationToken cancellationToken)
    {
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var newline = span.IndexOf("\r\n"u8);
            if (newline >= 0)
            {
                var line = Encoding.ASCII.GetString(span[..newline]);
                _start += newline + 2;
                return line;
            }

            if (_end - _start >= MaxLine)
            {
                throw Malformed("line too long");
            }

            if (!await FillAsync(cancellationToken))
            {
                if (endOk && _start == _end)
                {
                    return null;
                }

                throw Incomplete();
            }
        }
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var read = await _inner.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += read;
        return read > 0;
    }

    private static S3Exception Malformed(string what) => new("IncompleteBody", 400, $"The aws-chunked body is malformed: {what}.");

    private static S3Exception Incomplete() => new("IncompleteBody", 400, "The aws-chunked body ended before its final chunk.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _chunkHash?.Dispose();
        }

        base.Dispose(disposing);
    }
}
