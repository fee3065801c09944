using System.ComponentModel.DataAnnotations;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>The DynamoDB-compatible, read-only results table (POST / with X-Amz-Target: DynamoDB_20120810.*). Section "DynamoDb".</summary>
public sealed class DynamoDbOptions
{
    public const string Section = "DynamoDb";

    public bool Enabled { get; set; } = true;

    /// <summary>The table's name, as the tutorials call it; DynamoDB's rules for table names (3-255 of a-z A-Z 0-9 _ - .).</summary>
    [Required]
    [RegularExpression("^[a-zA-Z0-9_.-]{3,255}$", ErrorMessage = "DynamoDb:TableName must be 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.', as DynamoDB table names are.")]
    public string TableName { get; set; } = "ImageLabels";
}
