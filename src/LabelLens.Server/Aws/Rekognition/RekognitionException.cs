using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>An error as Rekognition returns it: the exception name in "__type", a message, and the service's status code.</summary>
public sealed class RekognitionException : Exception
{
    public RekognitionException(string type, int status, string message)
        : base(message)
    {
        Type = type;
        Status = status;
    }

    public RekognitionException()
        : this("InternalServerError", StatusCodes.Status500InternalServerError, "Amazon Rekognition experienced a service issue. Try your call again.")
    {
    }

    public RekognitionException(string message)
        : this("InvalidParameterException", StatusCodes.Status400BadRequest, message)
    {
    }

    public RekognitionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Type = "InvalidParameterException";
        Status = StatusCodes.Status400BadRequest;
    }

    public string Type { get; }

    public int Status { get; }

    public static RekognitionException InvalidParameter(string message) => new("InvalidParameterException", 400, message);

    public static RekognitionException InvalidImageFormat(string message) => new("InvalidImageFormatException", 400, message);

    public static RekognitionException ImageTooLarge(string message) => new("ImageTooLargeException", 400, message);

    public static RekognitionException InvalidS3Object(string message) => new("InvalidS3ObjectException", 400, message);

    public static RekognitionException AccessDenied(string message) => new("AccessDeniedException", 400, message);

    /// <summary>AWS SDKs retry this one with backoff by themselves (HTTP 500, as the service documents it).</summary>
    public static RekognitionException Throttling(string message) => new("ThrottlingException", 500, message);
}
