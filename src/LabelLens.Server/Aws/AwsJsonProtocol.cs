using LabelLens.Server.Aws.S3;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws;

/// <summary>Why a request on the AWS JSON protocol was refused before its operation ran: the error's name (without a namespace) and message.</summary>
public sealed record AwsJsonRefusal(string Type, string Message);

/// <summary>
/// What the services on POST / of the API port (the AWS JSON protocol: Rekognition, DynamoDB) share: reading the
/// body, and who may call — SigV4 with the S3 endpoint's keys for the service's own signing name, or
/// Server:ApiKeys when no keys are configured. Each service wraps a refusal in its own error shape.
/// </summary>
public static class AwsJsonProtocol
{
    /// <summary>
    /// Sends POST / whose X-Amz-Target satisfies <paramref name="target"/> to <paramref name="handler"/>: the AWS JSON
    /// protocol addresses a service by that header. A branch of the pipeline rather than an endpoint: an endpoint
    /// at "/" would answer GET / (the web page) with 405. Branches are tried in the order they are mapped.
    /// </summary>
    public static void MapAwsJson(this WebApplication app, Func<string, bool> target, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(target);
        app.MapWhen(
            context => HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Value is "/" or "" && target(context.Request.Headers["X-Amz-Target"].ToString()),
            branch => branch.Run(handler));
    }

    /// <summary>The whole body, or null when it is longer than <paramref name="limit"/> bytes (checked as it streams, not only from Content-Length).</summary>
    public static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Null when the caller may go on. With keys configured the request must be signed for
    /// <paramref name="service"/> ("rekognition", "dynamodb") by one of them; with none, it needs an API key
    /// when Server:ApiKeys is set (these endpoints read the catalog and bucket objects, so they are no more open
    /// than /api), and is accepted otherwise.
    /// </summary>
    public static AwsJsonRefusal? Authenticate(S3SigV4 signatures, IReadOnlyList<string> apiKeys, HttpContext context, string service, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        ArgumentNullException.ThrowIfNull(context);
        if (!signatures.HasCredentials)
        {
            // AWS clients cannot send an API key; S3Credentials are what let them in.
            return ApiKeys.Accepts(context.Request, apiKeys)
                ? null
                : new AwsJsonRefusal("AccessDeniedException", "This server needs an API key (Server:ApiKeys): send 'X-Api-Key: KEY' or 'Authorization: Bearer KEY', or configure S3 credentials to sign requests with SigV4.");
        }

        try
        {
            signatures.AuthenticateService(context, service, body);
            return null;
        }
        catch (S3Exception ex)
        {
            // The names AWS's JSON services give these failures (the S3 endpoint's own codes are XML-only).
            return ex.Code switch
            {
                "InvalidAccessKeyId" => new AwsJsonRefusal("UnrecognizedClientException", "The security token included in the request is invalid."),
                "SignatureDoesNotMatch" => new AwsJsonRefusal("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."),
                "RequestTimeTooSkewed" => new AwsJsonRefusal("InvalidSignatureException", "Signature expired: the request time is more than 15 minutes from the server's time."),
                "AuthorizationHeaderMalformed" or "InvalidRequest" => new AwsJsonRefusal("IncompleteSignatureException", ex.Message),
                _ => new AwsJsonRefusal("AccessDeniedException", ex.Message),
            };
        }
    }
}
