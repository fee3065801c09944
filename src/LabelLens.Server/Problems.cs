using LabelLens.Storage;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server;

/// <summary>RFC 7807 problem details for the errors the API returns, with a stable machine-readable code.</summary>
public static class Problems
{
    public static IResult From(StorageException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var status = error.Error switch
        {
            StorageError.InvalidBucketName or StorageError.InvalidKey => StatusCodes.Status400BadRequest,
            StorageError.NoSuchBucket or StorageError.NoSuchKey => StatusCodes.Status404NotFound,
            StorageError.BucketNotEmpty => StatusCodes.Status409Conflict,
            StorageError.EntityTooLarge => StatusCodes.Status413PayloadTooLarge,
            StorageError.SlowDown => StatusCodes.Status429TooManyRequests,
            StorageError.DiskFull => StatusCodes.Status507InsufficientStorage,
            _ => StatusCodes.Status400BadRequest,
        };
        var problem = Problem(status, error.Error.ToString(), error.Message);
        return error.Error == StorageError.SlowDown ? new RetryLater(problem, UploadBacklog.RetryAfter) : problem;
    }

    public static IResult NotFound(string code, string detail) => Problem(StatusCodes.Status404NotFound, code, detail);

    public static IResult BadRequest(string code, string detail) => Problem(StatusCodes.Status400BadRequest, code, detail);

    public static IResult Problem(int status, string code, string detail) =>
        Results.Problem(detail: detail, statusCode: status, title: code, type: $"https://labellens.dev/errors/{code}", extensions: new Dictionary<string, object?> { ["code"] = code });
}

/// <summary>A refusal that tells the client when to come back (Retry-After, in seconds).</summary>
internal sealed class RetryLater(IResult inner, TimeSpan after) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.Headers.RetryAfter = ((int)after.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return inner.ExecuteAsync(httpContext);
    }
}
