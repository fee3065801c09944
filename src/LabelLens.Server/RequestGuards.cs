using LabelLens.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LabelLens.Server;

/// <summary>Request checks that must see the path exactly as the client sent it.</summary>
public static class RequestGuards
{
    /// <summary>
    /// Refuses a request whose raw path has "." or ".." segments (plain or percent-encoded). Kestrel would
    /// otherwise resolve them before routing, so a PUT to objects/a/../../x would silently become a request
    /// for another route; a client that sends them gets a clear 400 instead.
    /// </summary>
    public static async Task RejectDotSegments(HttpContext context, RequestDelegate next)
    {
        var raw = RawPath(context);
        if (raw.Split('/').Select(Unescape).Any(segment => segment is "." or ".."))
        {
            await Problems.BadRequest("InvalidPath", "The request path has a '.' or '..' segment; object keys may not contain them.").ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    /// <summary>
    /// A client that sent <c>Expect: 100-continue</c> holds its body back until the server says 100 Continue,
    /// which Kestrel does when the endpoint first reads the body. An early refusal (no such bucket, access denied,
    /// a bad argument) answers without reading it; the client then skips the body, but Kestrel, to keep the
    /// connection, would read the declared Content-Length from the client's next request: that request fails
    /// (400, or a signature mismatch) or stalls for seconds. Such a refusal therefore closes the connection
    /// after the response (boto3, the AWS CLI and the SDKs reconnect transparently). Both listeners, REST and S3.
    /// </summary>
    public static Task CloseAfterEarlyRefusal(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Headers.Expect.Any(value => value is not null && value.Contains("100-continue", StringComparison.OrdinalIgnoreCase)))
        {
            context.Response.OnStarting(() =>
            {
                if (context.Response.StatusCode >= StatusCodes.Status300MultipleChoices)
                {
                    context.Response.Headers.Connection = "close";
                }

                return Task.CompletedTask;
            });
        }

        return next(context);
    }

    /// <summary>
    /// A page on another site can make the browser send a form POST (or a fetch) here: to a server on loopback
    /// with no credentials, that is an upload or a delete by anyone whose page the user opens. Writes that a
    /// browser marks as coming from another origin (Origin, Sec-Fetch-Site) are refused; clients that are not
    /// browsers send neither header and are unaffected.
    /// </summary>
    public static async Task RefuseCrossOriginWrites(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method) && IsCrossOrigin(request))
        {
            await Problems.Problem(StatusCodes.Status403Forbidden, "CrossOriginRefused", "Writes from a page on another origin are refused.").ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    private static bool IsCrossOrigin(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none"))
        {
            return true;
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return false;
        }

        // "null" is what sandboxed pages and some redirects send: never this server's own page.
        return !Uri.TryCreate(origin, UriKind.Absolute, out var parsed)
            || !string.Equals(parsed.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(parsed.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The object key exactly as sent, decoded once. Route values keep "%2F" encoded (an ASP.NET quirk),
    /// which would turn the key "a/b" sent as "a%2Fb" into a different key; reading the raw target fixes that.
    /// </summary>
    public static string ObjectKey(HttpContext context, string bucket, string routeKey)
    {
        ArgumentNullException.ThrowIfNull(context);
        var raw = RawPath(context);
        var marker = $"/buckets/{bucket}/objects/";
        var start = raw.IndexOf(marker, StringComparison.Ordinal);
        return start < 0 ? routeKey : Unescape(raw[(start + marker.Length)..]);
    }

    private static string RawPath(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = target.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? target : target[..query];
    }

    private static string Unescape(string value) => Uri.UnescapeDataString(value);
}

/// <summary>Turns storage refusals and bad requests that escape an endpoint into problem details with a code.</summary>
public sealed class ProblemExceptionHandler(LabelLens.Application.DiskSpace disk) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not StorageException && DiskFull.Is(exception))
        {
            // A delete or a label edit the catalog could not write: say so, as for uploads (507), not a bare 500.
            disk.WriteFailed(exception);
            exception = DiskFull.Refusal(disk.DataFolder, exception);
        }

        var result = exception switch
        {
            StorageException storage => Problems.From(storage),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => Problems.Problem(StatusCodes.Status413PayloadTooLarge, nameof(StorageError.EntityTooLarge), "The request body is larger than this server accepts."),
            BadHttpRequestException bad => Problems.Problem(bad.StatusCode, "BadRequest", bad.Message),
            _ => null,
        };
        if (result is null)
        {
            return false;
        }

        await result.ExecuteAsync(httpContext);
        return true;
    }
}
