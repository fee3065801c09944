using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LabelLens.Tests;

/// <summary>
/// A small, independent SigV4 signer for hand-made S3 requests (bodies the SDK would never send: malformed
/// XML, tampered chunks, path escapes). Path and query are given already encoded, exactly as sent.
/// </summary>
public static class S3TestSigner
{
    public static HttpRequestMessage Request(
        Uri endpoint,
        HttpMethod method,
        string pathAndQuery,
        byte[]? body = null,
        string accessKey = S3ServerFixture.AccessKey,
        string secretKey = S3ServerFixture.SecretKey,
        string? payloadHash = null,
        IReadOnlyDictionary<string, string>? headers = null,
        DateTime? now = null,
        string service = "s3")
    {
        var time = now ?? DateTime.UtcNow;
        var amzDate = time.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        payloadHash ??= Hex(SHA256.HashData(body ?? []));
        var question = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? pathAndQuery : pathAndQuery[..question];
        var query = question < 0 ? "" : pathAndQuery[(question + 1)..];
        var canonicalQuery = string.Join('&', query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Contains('=', StringComparison.Ordinal) ? p : p + "=")
            .Order(StringComparer.Ordinal));
        var all = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = $"{endpoint.Host}:{endpoint.Port}",
            ["x-amz-content-sha256"] = payloadHash,
            ["x-amz-date"] = amzDate,
        };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            all[name.ToLowerInvariant()] = value;
        }

        var signedHeaders = string.Join(';', all.Keys);
        var canonical = $"{method.Method}\n{path}\n{canonicalQuery}\n{string.Concat(all.Select(h => $"{h.Key}:{h.Value.Trim()}\n"))}\n{signedHeaders}\n{payloadHash}";
        var scope = $"{date}/us-east-1/{service}/aws4_request";
        var toSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = SigningKey(secretKey, date, service);
        var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign)));

        // Sent exactly as given: no dot-segment removal or unescaping by System.Uri.
        var uri = new Uri($"{endpoint.Scheme}://{endpoint.Host}:{endpoint.Port}{pathAndQuery}", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        var message = new HttpRequestMessage(method, uri);
        message.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
        message.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        message.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        if (body is not null)
        {
            message.Content = new ByteArrayContent(body);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            if (name.StartsWith("content-", StringComparison.OrdinalIgnoreCase))
            {
                message.Content ??= new ByteArrayContent([]);
                message.Content.Headers.TryAddWithoutValidation(name, value);
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return message;
    }

    /// <summary>Signs an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) given the seed signature.</summary>
    public static byte[] SignedChunks(byte[] content, int chunkSize, string seedSignature, DateTime time, string secretKey = S3ServerFixture.SecretKey, int tamperChunk = -1)
    {
        var amzDate = time.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var scope = $"{amzDate[..8]}/us-east-1/s3/aws4_request";
        var key = SigningKey(secretKey, amzDate[..8]);
        var previous = seedSignature;
        var output = new MemoryStream();
        var index = 0;
        for (var offset = 0; ; offset += chunkSize, index++)
        {
            var chunk = content.AsSpan(Math.Min(offset, content.Length), Math.Max(0, Math.Min(chunkSize, content.Length - offset))).ToArray();
            var toSign = $"AWS4-HMAC-SHA256-PAYLOAD\n{amzDate}\n{scope}\n{previous}\n{Hex(SHA256.HashData([]))}\n{Hex(SHA256.HashData(chunk))}";
            var signature = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(toSign)));
            previous = signature;
            if (index == tamperChunk && chunk.Length > 0)
            {
                chunk[0] ^= 0xFF;
            }

            output.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x};chunk-signature={signature}\r\n"));
            output.Write(chunk);
            output.Write("\r\n"u8);
            if (chunk.Length == 0)
            {
                break;
            }
        }

        return output.ToArray();
    }

    public static string SeedSignature(HttpRequestMessage request)
    {
        var authorization = request.Headers.GetValues("Authorization").Single();
        return authorization[(authorization.IndexOf("Signature=", StringComparison.Ordinal) + "Signature=".Length)..];
    }

    public static byte[] SigningKey(string secret, string date, string service = "s3")
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, "us-east-1"u8.ToArray());
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8.ToArray());
    }

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
