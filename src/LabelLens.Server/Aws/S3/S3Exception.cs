using LabelLens.Storage;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

/// <summary>A request the S3 endpoint refuses, with S3's error code and HTTP status.</summary>
public sealed class S3Exception : Exception
{
    public S3Exception(string code, int status, string message)
        : base(message)
    {
        Code = code;
        Status = status;
    }

    public S3Exception()
        : this("InternalError", StatusCodes.Status500InternalServerError, "We encountered an internal error.")
    {
    }

    public S3Exception(string message)
        : this("InvalidArgument", StatusCodes.Status400BadRequest, message)
    {
    }

    public S3Exception(string message, Exception inner)
        : base(message, inner)
    {
        Code = "InvalidArgument";
        Status = StatusCodes.Status400BadRequest;
    }

    public string Code { get; }

    public int Status { get; }

    public static S3Exception AccessDenied(string message = "Access Denied") => new("AccessDenied", 403, message);

    public static S3Exception SignatureDoesNotMatch(string message = "The request signature we calculated does not match the signature you provided. Check your key and signing method.") =>
        new("SignatureDoesNotMatch", 403, message);

    public static S3Exception InvalidArgument(string message) => new("InvalidArgument", 400, message);

    public static S3Exception InvalidRequest(string message) => new("InvalidRequest", 400, message);

    public static S3Exception MalformedXml(string message = "The XML you provided was not well-formed or did not validate against our published schema.") => new("MalformedXML", 400, message);

    public static S3Exception BadDigest(string message) => new("BadDigest", 400, message);

    public static S3Exception NoSuchBucket(string bucket) => new("NoSuchBucket", 404, $"The specified bucket '{bucket}' does not exist.");

    public static S3Exception NoSuchKey() => new("NoSuchKey", 404, "The specified key does not exist.");

    public static S3Exception NoSuchUpload() => new("NoSuchUpload", 404, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.");

    public static S3Exception NotImplemented(string what) => new("NotImplemented", 501, $"{what} is not implemented by LabelLens.");

    /// <summary>A storage refusal as S3 reports it.</summary>
    public static S3Exception From(StorageException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.Error switch
        {
            StorageError.InvalidBucketName => new("InvalidBucketName", 400, error.Message),
            StorageError.InvalidKey when error.Message.Contains("longer than 1024", StringComparison.Ordinal) => new("KeyTooLongError", 400, "Your key is too long (at most 1024 bytes)."),
            StorageError.InvalidKey => new("InvalidArgument", 400, error.Message),
            StorageError.NoSuchBucket => new("NoSuchBucket", 404, error.Message),
            StorageError.NoSuchKey => new("NoSuchKey", 404, error.Message),
            StorageError.EntityTooLarge => new("EntityTooLarge", 400, error.Message),
            StorageError.BucketNotEmpty => new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty."),
            StorageError.SlowDown => new("SlowDown", 503, error.Message),
            // S3 has no code for it: InternalError with the reason, and 507 so SDKs do not retry into a full disk.
            StorageError.DiskFull => new("InternalError", 507, error.Message),
            _ => new("InvalidArgument", 400, error.Message),
        };
    }
}
