using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// An error as DynamoDB returns it: "__type" with the namespace the service uses for it (its own for
/// ResourceNotFoundException, coral's for validation and the front end's checks), a message, and the status code.
/// Clients read the name after '#'.
/// </summary>
internal sealed class DynamoDbException : Exception
{
    private const string Service = "com.amazonaws.dynamodb.v20120810#";
    private const string Coral = "com.amazon.coral.service#";

    private DynamoDbException(string type, int status, string message)
        : base(message)
    {
        Type = type;
        Status = status;
    }

    /// <summary>The whole "__type": namespace#Name.</summary>
    public string Type { get; }

    /// <summary>The name clients see (after '#').</summary>
    public string Name => Type[(Type.IndexOf('#', StringComparison.Ordinal) + 1)..];

    public int Status { get; }

    public static DynamoDbException InternalServerError() => new(Service + "InternalServerError", StatusCodes.Status500InternalServerError, "Internal server error");

    public static DynamoDbException Validation(string message) => new("com.amazon.coral.validate#ValidationException", StatusCodes.Status400BadRequest, message);

    public static DynamoDbException ResourceNotFound(string message) => new(Service + "ResourceNotFoundException", StatusCodes.Status400BadRequest, message);

    public static DynamoDbException AccessDenied(string message) => new(Coral + "AccessDeniedException", StatusCodes.Status400BadRequest, message);

    public static DynamoDbException Serialization(string message) => new(Coral + "SerializationException", StatusCodes.Status400BadRequest, message);

    public static DynamoDbException UnknownOperation(string message) => new(Coral + "UnknownOperationException", StatusCodes.Status400BadRequest, message);

    /// <summary>A refused signature or missing key, under the front end's namespace as DynamoDB sends them.</summary>
    public static DynamoDbException Refused(AwsJsonRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return new(Coral + refusal.Type, StatusCodes.Status400BadRequest, refusal.Message);
    }
}
