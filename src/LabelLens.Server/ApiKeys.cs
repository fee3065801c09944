using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server;

/// <summary>Optional API keys: when configured, every /api call needs one; health and metrics stay open.</summary>
public static class ApiKeys
{
    public static Func<HttpContext, RequestDelegate, Task> Middleware(IReadOnlyList<string> keys)
    {
        var expected = keys.Where(k => k.Length > 0).Select(k => Encoding.UTF8.GetBytes(k)).ToList();
        return async (context, next) =>
        {
            // S3 event notifications carry their own shared secret (Events:Token), checked by the endpoint.
            if (expected.Count == 0 || !context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || IsAllowed(context.Request, expected)
                || context.Request.Path.StartsWithSegments("/api/v1/events/s3", StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Problems.Problem(StatusCodes.Status401Unauthorized, "Unauthorized", "This server needs an API key: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'.").ExecuteAsync(context);
        };
    }

    /// <summary>
    /// Whether the request carries one of <paramref name="keys"/> (X-Api-Key or Bearer); true when no keys are
    /// configured. For endpoints outside /api that must still honour Server:ApiKeys (Rekognition's POST /).
    /// </summary>
    public static bool Accepts(HttpRequest request, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(keys);
        var expected = keys.Where(k => k.Length > 0).Select(k => Encoding.UTF8.GetBytes(k)).ToList();
        return expected.Count == 0 || IsAllowed(request, expected);
    }

    /// <summary>Thumbnails, object downloads and the event stream, read with GET or HEAD; never a write.</summary>
    private static bool AcceptsKeyInQuery(HttpRequest request)
    {
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            return false;
        }

        var path = request.Path.Value ?? "";
        return path.Equals("/api/v1/events/stream", StringComparison.OrdinalIgnoreCase)
            || (path.StartsWith("/api/v1/images/", StringComparison.OrdinalIgnoreCase) && path.EndsWith("/thumbnail", StringComparison.OrdinalIgnoreCase))
            || (path.StartsWith("/api/v1/buckets/", StringComparison.OrdinalIgnoreCase) && path.Contains("/objects/", StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsAllowed(HttpRequest request, List<byte[]> expected)
    {
        string? presented = request.Headers["X-Api-Key"];
        var authorization = request.Headers.Authorization.ToString();
        if (presented is null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization["Bearer ".Length..].Trim();
        }

        // The web UI's <img> tags, download links and EventSource cannot send headers: those reads may carry ?apiKey= instead.
        if (presented is null && AcceptsKeyInQuery(request))
        {
            presented = request.Query["apiKey"];
        }

        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        var bytes = Encoding.UTF8.GetBytes(presented);
        // Constant-time comparison: response timing must not reveal how much of a key was right.
        return expected.Any(key => CryptographicOperations.FixedTimeEquals(key, bytes));
    }
}
