using System.Security.Cryptography;
using System.Text;
using LabelLens.Server.Aws.S3;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LabelLens.Server;

/// <summary>
/// Who may call /api. One credential story for every interface: when any credential is configured, nothing is
/// open. Credentials are the API keys (Server:ApiKeys) and the S3 key pairs (Server:S3Credentials,
/// LABELLENS_ACCESS_KEY / LABELLENS_SECRET_KEY). S3 and Rekognition clients sign with a pair (SigV4); REST
/// takes an API key or a pair's secret key as a bearer token (<c>Authorization: Bearer</c>, <c>X-Api-Key</c>), or
/// the pair itself as HTTP Basic (<c>curl -u ACCESS:SECRET</c>). The web UI trades its key for a session cookie
/// (HttpOnly, SameSite=Strict), so images, downloads and the event stream never carry a key in their URL.
/// Health and metrics stay open.
/// </summary>
public sealed class ApiKeys
{
    /// <summary>The web UI's session cookie.</summary>
    public const string SessionCookie = "labellens_session";

    private static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);

    private readonly List<byte[]> _bearerKeys;
    private readonly Dictionary<string, byte[]> _pairs;
    private readonly byte[] _sessionKey;
    private readonly TimeProvider _time;

    public ApiKeys(ServerOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var secrets = S3Setup.Secrets(options);
        _bearerKeys = options.ApiKeys.Where(k => k.Length > 0).Concat(secrets.Values).Distinct(StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes).ToList();
        _pairs = secrets.ToDictionary(p => p.Key, p => Encoding.UTF8.GetBytes(p.Value), StringComparer.Ordinal);
        // Sessions are signed with a key derived from the credentials: every server with the same credentials
        // accepts them, and changing a credential ends every session.
        _sessionKey = SHA256.HashData(Encoding.UTF8.GetBytes("labellens-session\n" + string.Join('\n', _bearerKeys.Select(Convert.ToBase64String).Order(StringComparer.Ordinal))));
        _time = time;
    }

    /// <summary>Whether any credential is configured (then every /api call needs one).</summary>
    public bool Required => _bearerKeys.Count > 0;

    public Func<HttpContext, RequestDelegate, Task> Middleware() => async (context, next) =>
    {
        // S3 event notifications carry their own shared secret (Events:Token), checked by the endpoint.
        if (!Required || !context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || IsAllowed(context.Request)
            || context.Request.Path.StartsWithSegments("/api/v1/events/s3", StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        context.Response.Headers.WWWAuthenticate = "Bearer";
        await Problems.Problem(
            StatusCodes.Status401Unauthorized,
            "Unauthorized",
            "This server needs credentials: 'Authorization: Bearer KEY' or 'X-Api-Key: KEY' (an API key or an S3 secret key), or HTTP Basic with an S3 access key and secret key.").ExecuteAsync(context);
    };

    /// <summary>
    /// Whether the request carries one of <paramref name="keys"/> (X-Api-Key or Bearer); true when no keys are
    /// configured. For endpoints outside /api that must still honour Server:ApiKeys (Rekognition's POST /).
    /// </summary>
    public static bool Accepts(HttpRequest request, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(keys);
        var expected = keys.Where(k => k.Length > 0).Select(k => Encoding.UTF8.GetBytes(k)).ToList();
        return expected.Count == 0 || Presented(request) is { } presented && Matches(expected, presented);
    }

    /// <summary>POST /api/v1/session (with a credential) sets the UI's session cookie; DELETE ends it.</summary>
    public void MapSession(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/session", (HttpContext context) =>
            {
                if (Required)
                {
                    var expires = _time.GetUtcNow().Add(SessionLifetime);
                    context.Response.Cookies.Append(SessionCookie, SessionToken(expires.ToUnixTimeSeconds()), new CookieOptions
                    {
                        HttpOnly = true,
                        SameSite = SameSiteMode.Strict,
                        Secure = context.Request.IsHttps,
                        Path = "/api",
                        Expires = expires,
                    });
                }

                return Results.NoContent();
            })
            .WithTags("Session")
            .WithSummary("Trade a credential for a session cookie (HttpOnly, SameSite=Strict) that the web UI's images, downloads and event stream use");
        app.MapDelete("/api/v1/session", (HttpContext context) =>
            {
                context.Response.Cookies.Delete(SessionCookie, new CookieOptions { Path = "/api" });
                return Results.NoContent();
            })
            .WithTags("Session")
            .WithSummary("End the web UI's session");
    }

    private bool IsAllowed(HttpRequest request)
    {
        if (Presented(request) is { } presented)
        {
            return Matches(_bearerKeys, presented);
        }

        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return BasicMatches(authorization["Basic ".Length..].Trim());
        }

        return request.Cookies[SessionCookie] is { Length: > 0 } session && SessionValid(session);
    }

    private static string? Presented(HttpRequest request)
    {
        string? presented = request.Headers["X-Api-Key"];
        var authorization = request.Headers.Authorization.ToString();
        if (presented is null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization["Bearer ".Length..].Trim();
        }

        return string.IsNullOrEmpty(presented) ? null : presented;
    }

    /// <summary>Constant-time comparison: response timing must not reveal how much of a key was right.</summary>
    private static bool Matches(List<byte[]> expected, string presented)
    {
        var bytes = Encoding.UTF8.GetBytes(presented);
        return expected.Any(key => CryptographicOperations.FixedTimeEquals(key, bytes));
    }

    private bool BasicMatches(string encoded)
    {
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon > 0
            && _pairs.TryGetValue(decoded[..colon], out var secret)
            && CryptographicOperations.FixedTimeEquals(secret, Encoding.UTF8.GetBytes(decoded[(colon + 1)..]));
    }

    /// <summary>"v1.EXPIRY.SIGNATURE": the expiry (Unix seconds) signed with the credentials' session key.</summary>
    private string SessionToken(long expires) => $"v1.{expires}.{Signature(expires)}";

    private string Signature(long expires) =>
        Convert.ToBase64String(HMACSHA256.HashData(_sessionKey, Encoding.ASCII.GetBytes($"v1.{expires}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private bool SessionValid(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[0] != "v1" || !long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var expires))
        {
            return false;
        }

        return expires > _time.GetUtcNow().ToUnixTimeSeconds()
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Signature(expires)), Encoding.ASCII.GetBytes(parts[2]));
    }
}
