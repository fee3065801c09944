using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LabelLens.Server.Aws.S3;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws;

/// <summary>How the request body is protected, from x-amz-content-sha256.</summary>
public enum S3PayloadMode
{
    /// <summary>Not signed (UNSIGNED-PAYLOAD, presigned URLs, anonymous requests).</summary>
    Unsigned,

    /// <summary>The hex SHA-256 of the whole body was signed; verified when the body ends.</summary>
    Sha256,

    /// <summary>aws-chunked, each chunk signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).</summary>
    StreamingSigned,

    /// <summary>aws-chunked, each chunk signed, then signed trailing checksums.</summary>
    StreamingSignedTrailer,

    /// <summary>aws-chunked, unsigned chunks with trailing checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER).</summary>
    StreamingUnsignedTrailer,
}

/// <summary>Who signed a request, and what is needed to check its body.</summary>
public sealed record S3Caller(string? AccessKey, string Region, S3PayloadMode Payload, string? PayloadSha256, string? AmzDate, string? Scope, string? Signature, byte[]? SigningKey)
{
    public bool IsAnonymous => AccessKey is null;

    public static S3Caller Anonymous(S3PayloadMode payload, string? sha256) => new(null, "us-east-1", payload, sha256, null, null, null, null);
}

/// <summary>
/// AWS Signature Version 4 as S3 uses it: in the Authorization header or in a presigned URL's query.
/// Computes the canonical request from the request exactly as received and compares signatures in constant time.
/// </summary>
public sealed class S3SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(15);
    public static readonly string EmptySha256 = Convert.ToHexStringLower(SHA256.HashData([]));

    private readonly Dictionary<string, string> _secrets;
    private readonly bool _allowAnonymous;
    private readonly TimeProvider _time;

    public S3SigV4(IReadOnlyDictionary<string, string> secrets, bool allowAnonymous, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        _secrets = new Dictionary<string, string>(secrets, StringComparer.Ordinal);
        _allowAnonymous = allowAnonymous;
        _time = time;
    }

    public bool HasCredentials => _secrets.Count > 0;

    public S3Caller Authenticate(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            return FromHeader(context, authorization);
        }

        if (request.Query.ContainsKey("X-Amz-Signature") || request.Query.ContainsKey("X-Amz-Credential") || request.Query.ContainsKey("X-Amz-Algorithm"))
        {
            return FromQuery(context);
        }

        if (request.Query.ContainsKey("Signature") && request.Query.ContainsKey("AWSAccessKeyId"))
        {
            throw S3Exception.InvalidRequest("Signature Version 2 is not supported; use AWS4-HMAC-SHA256.");
        }

        if (!_allowAnonymous)
        {
            throw S3Exception.AccessDenied(HasCredentials
                ? "Access Denied: the request is not signed and anonymous access is off."
                : "Access Denied: no S3 credentials are configured on this server (Server:S3Credentials or LABELLENS_ACCESS_KEY/LABELLENS_SECRET_KEY) and anonymous access is off.");
        }

        var content = request.Headers["x-amz-content-sha256"].ToString();
        var mode = ParsePayload(content, allowSigned: false);
        return S3Caller.Anonymous(mode, mode == S3PayloadMode.Sha256 ? content.ToLowerInvariant() : null);
    }

    private S3Caller FromHeader(HttpContext context, string authorization)
    {
        var (credential, signedHeaders, signature) = ParseAuthorization(authorization);
        var request = context.Request;
        var amzDate = request.Headers["x-amz-date"].ToString();
        DateTimeOffset date;
        if (amzDate.Length > 0)
        {
            date = ParseAmzDate(amzDate);
        }
        else if (DateTimeOffset.TryParseExact(request.Headers.Date.ToString(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var httpDate))
        {
            date = httpDate;
            amzDate = date.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        }
        else
        {
            throw S3Exception.AccessDenied("AWS authentication requires a valid Date or x-amz-date header.");
        }

        CheckSkew(date);
        var (accessKey, region, scope, secret) = ParseCredential(credential, amzDate);
        var content = request.Headers["x-amz-content-sha256"].ToString();
        if (content.Length == 0)
        {
            throw S3Exception.InvalidRequest("Missing required header for this request: x-amz-content-sha256.");
        }

        var mode = ParsePayload(content, allowSigned: true);
        var headerNames = signedHeaders.Split(';');
        if (!headerNames.Contains("host"))
        {
            throw S3Exception.AccessDenied("The host header must be signed.");
        }

        var key = SigningKey(secret, amzDate[..8], region);
        Verify(context, headerNames, content, amzDate, scope, key, signature, excludeQuery: null);
        return new S3Caller(accessKey, region, mode, mode == S3PayloadMode.Sha256 ? content.ToLowerInvariant() : null, amzDate, scope, signature.ToLowerInvariant(), key);
    }

    /// <summary>
    /// Verifies a header-signed request to another AWS service on this server (Rekognition's JSON API): the
    /// signature covers the SHA-256 of the body, which the caller has read. Returns the caller's access key.
    /// </summary>
    public string AuthenticateService(HttpContext context, string service, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(body);
        var request = context.Request;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            throw S3Exception.AccessDenied("The request is not signed; this server requires AWS Signature Version 4 (its access keys are the S3 endpoint's).");
        }

        var (credential, signedHeaders, signature) = ParseAuthorization(authorization);
        var amzDate = request.Headers["x-amz-date"].ToString();
        if (amzDate.Length == 0)
        {
            throw S3Exception.AccessDenied("AWS authentication requires an x-amz-date header.");
        }

        CheckSkew(ParseAmzDate(amzDate));
        var (accessKey, region, scope, secret) = ParseCredential(credential, amzDate, service);
        var headerNames = signedHeaders.Split(';');
        if (!headerNames.Contains("host"))
        {
            throw S3Exception.AccessDenied("The host header must be signed.");
        }

        Verify(context, headerNames, Convert.ToHexStringLower(SHA256.HashData(body)), amzDate, scope, SigningKey(secret, amzDate[..8], region, service), signature, excludeQuery: null);
        return accessKey;
    }

    private static (string Credential, string SignedHeaders, string Signature) ParseAuthorization(string authorization)
    {
        if (authorization.StartsWith("AWS ", StringComparison.Ordinal))
        {
            throw S3Exception.InvalidRequest("Signature Version 2 is not supported; use AWS4-HMAC-SHA256.");
        }

        if (!authorization.StartsWith(Algorithm + " ", StringComparison.Ordinal))
        {
            throw new S3Exception("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; the algorithm must be AWS4-HMAC-SHA256.");
        }

        string? credential = null, signedHeaders = null, signature = null;
        foreach (var part in authorization[(Algorithm.Length + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var value = part[(eq + 1)..].Trim();
            switch (part[..eq].Trim())
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signedHeaders = value; break;
                case "Signature": signature = value; break;
            }
        }

        if (credential is null || signedHeaders is null || signature is null)
        {
            throw new S3Exception("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; it needs Credential, SignedHeaders and Signature.");
        }

        return (credential, signedHeaders, signature);
    }

    private S3Caller FromQuery(HttpContext context)
    {
        var query = context.Request.Query;
        string Required(string name) => query[name].ToString() is { Length: > 0 } v
            ? v
            : throw new S3Exception("AuthorizationQueryParametersError", 400, $"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters ({name} is missing).");

        if (Required("X-Amz-Algorithm") != Algorithm)
        {
            throw new S3Exception("AuthorizationQueryParametersError", 400, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".");
        }

        var credential = Required("X-Amz-Credential");
        var amzDate = Required("X-Amz-Date");
        var signedHeaders = Required("X-Amz-SignedHeaders");
        var signature = Required("X-Amz-Signature");
        if (!int.TryParse(Required("X-Amz-Expires"), NumberStyles.None, CultureInfo.InvariantCulture, out var expires) || expires is < 1 or > 604_800)
        {
            throw new S3Exception("AuthorizationQueryParametersError", 400, "X-Amz-Expires must be a number of seconds from 1 to 604800 (seven days).");
        }

        var date = ParseAmzDate(amzDate);
        var now = _time.GetUtcNow();
        if (date - now > MaxSkew)
        {
            throw S3Exception.AccessDenied("Request is not valid yet.");
        }

        if (now > date.AddSeconds(expires))
        {
            throw S3Exception.AccessDenied("Request has expired.");
        }

        var (accessKey, region, scope, secret) = ParseCredential(credential, amzDate);
        var headerNames = signedHeaders.Split(';');
        var payload = query["X-Amz-Content-Sha256"].ToString() is { Length: > 0 } p ? p : context.Request.Headers["x-amz-content-sha256"].ToString();
        var mode = payload.Length == 0 ? S3PayloadMode.Unsigned : ParsePayload(payload, allowSigned: false);
        var key = SigningKey(secret, amzDate[..8], region);
        Verify(context, headerNames, payload.Length == 0 ? "UNSIGNED-PAYLOAD" : payload, amzDate, scope, key, signature, excludeQuery: "X-Amz-Signature");
        return new S3Caller(accessKey, region, mode, mode == S3PayloadMode.Sha256 ? payload.ToLowerInvariant() : null, amzDate, scope, signature.ToLowerInvariant(), key);
    }

    private (string AccessKey, string Region, string Scope, string Secret) ParseCredential(string credential, string amzDate, string service = "s3")
    {
        // AKID/20250101/us-east-1/s3/aws4_request
        var parts = credential.Split('/');
        if (parts.Length != 5 || parts[4] != "aws4_request" || parts[3] != service || parts[1].Length != 8)
        {
            throw new S3Exception("AuthorizationHeaderMalformed", 400, $"The credential '{ObjectNamesPrintable(credential)}' is malformed; expected ACCESS_KEY/yyyyMMdd/region/{service}/aws4_request.");
        }

        if (!_secrets.TryGetValue(parts[0], out var secret))
        {
            throw new S3Exception("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.");
        }

        if (!amzDate.StartsWith(parts[1], StringComparison.Ordinal))
        {
            throw S3Exception.SignatureDoesNotMatch("The date of the credential scope does not match the request date.");
        }

        return (parts[0], parts[2], string.Join('/', parts[1..]), secret);
    }

    private static string ObjectNamesPrintable(string value) => LabelLens.Storage.ObjectNames.Printable(value);

    private void CheckSkew(DateTimeOffset date)
    {
        if ((_time.GetUtcNow() - date).Duration() > MaxSkew)
        {
            throw new S3Exception("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.");
        }
    }

    private static DateTimeOffset ParseAmzDate(string value) =>
        DateTimeOffset.TryParseExact(value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date)
            ? date
            : throw S3Exception.AccessDenied($"X-Amz-Date '{ObjectNamesPrintable(value)}' is not in the form yyyyMMddTHHmmssZ.");

    public static S3PayloadMode ParsePayload(string value, bool allowSigned)
    {
        switch (value)
        {
            case "" or "UNSIGNED-PAYLOAD":
                return S3PayloadMode.Unsigned;
            case "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
                return S3PayloadMode.StreamingUnsignedTrailer;
            case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" when allowSigned:
                return S3PayloadMode.StreamingSigned;
            case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" when allowSigned:
                return S3PayloadMode.StreamingSignedTrailer;
        }

        if (value.Length == 64 && value.All(char.IsAsciiHexDigit))
        {
            return S3PayloadMode.Sha256;
        }

        throw S3Exception.InvalidArgument($"x-amz-content-sha256 '{ObjectNamesPrintable(value)}' is not a supported payload form.");
    }

    private static void Verify(HttpContext context, string[] signedHeaders, string payloadHash, string amzDate, string scope, byte[] signingKey, string signature, string? excludeQuery)
    {
        var request = context.Request;
        var canonicalHeaders = new StringBuilder();
        foreach (var name in signedHeaders)
        {
            if (name.Length == 0 || name.Any(char.IsAsciiLetterUpper))
            {
                throw new S3Exception("AuthorizationHeaderMalformed", 400, "SignedHeaders must be lowercase header names separated by ';'.");
            }

            var values = name == "host" ? [request.Headers.Host.ToString()] : request.Headers[name].ToArray();
            canonicalHeaders.Append(name).Append(':').Append(string.Join(',', values.Select(v => CollapseSpaces(v ?? "")))).Append('\n');
        }

        var query = CanonicalQuery(context, excludeQuery);
        var expected = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        foreach (var path in CanonicalPaths(context))
        {
            var canonical = string.Join('\n', request.Method, path, query, canonicalHeaders.ToString(), string.Join(';', signedHeaders), payloadHash);
            var toSign = $"{Algorithm}\n{amzDate}\n{scope}\n{Sha256Hex(canonical)}";
            var computed = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(toSign))));
            if (CryptographicOperations.FixedTimeEquals(computed, expected))
            {
                return;
            }
        }

        throw S3Exception.SignatureDoesNotMatch();
    }

    /// <summary>The canonical URI: the path decoded then encoded as SigV4 does (S3: once, slashes kept); the raw path as sent is tried too.</summary>
    private static IEnumerable<string> CanonicalPaths(HttpContext context)
    {
        var raw = S3Request.RawPath(context);
        var normalized = UriEncode(Uri.UnescapeDataString(raw), encodeSlash: false);
        yield return normalized;
        if (raw != normalized)
        {
            yield return raw;
        }
    }

    private static string CanonicalQuery(HttpContext context, string? exclude)
    {
        var raw = context.Request.QueryString.Value ?? "";
        if (raw.StartsWith('?'))
        {
            raw = raw[1..];
        }

        var pairs = new List<(string Name, string Value)>();
        foreach (var item in raw.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? item : item[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(item[(eq + 1)..]);
            if (name == exclude)
            {
                continue;
            }

            pairs.Add((UriEncode(name, encodeSlash: true), UriEncode(value, encodeSlash: true)));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name) is var c and not 0 ? c : string.CompareOrdinal(a.Value, b.Value));
        return string.Join('&', pairs.Select(p => p.Name + "=" + p.Value));
    }

    private static string CollapseSpaces(string value)
    {
        value = value.Trim();
        if (!value.Contains("  ", StringComparison.Ordinal))
        {
            return value;
        }

        var builder = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value)
        {
            if (c == ' ')
            {
                if (!space)
                {
                    builder.Append(c);
                }

                space = true;
            }
            else
            {
                builder.Append(c);
                space = false;
            }
        }

        return builder.ToString();
    }

    /// <summary>SigV4 URI encoding: every byte but A-Z a-z 0-9 - _ . ~ (and '/' when kept) as %XX, uppercase hex.</summary>
    public static string UriEncode(string value, bool encodeSlash)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' || (c == '/' && !encodeSlash))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    public static byte[] SigningKey(string secret, string date, string region, string service = "s3")
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8.ToArray());
    }

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}

/// <summary>Raw request pieces the S3 endpoint needs exactly as the client sent them.</summary>
public static class S3Request
{
    public static string RawPath(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? target : target[..query];
        if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // Absolute-form request target: keep the path only.
            var start = path.IndexOf('/', path.IndexOf("//", StringComparison.Ordinal) + 2);
            path = start < 0 ? "/" : path[start..];
        }

        return path.Length == 0 ? "/" : path;
    }
}
