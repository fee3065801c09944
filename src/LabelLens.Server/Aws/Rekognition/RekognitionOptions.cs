using System.ComponentModel.DataAnnotations;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>The Rekognition-compatible API (POST / with X-Amz-Target). Section "Rekognition".</summary>
public sealed class RekognitionOptions
{
    public const string Section = "Rekognition";

    public bool Enabled { get; set; } = true;

    /// <summary>Largest decoded Image.Bytes, as Rekognition's 5 MB limit.</summary>
    [Range(1, 1L << 31)]
    public long MaxImageBytes { get; set; } = 5 * 1024 * 1024;

    /// <summary>Largest Image.S3Object, as Rekognition's 15 MB limit.</summary>
    [Range(1, 1L << 34)]
    public long MaxS3ObjectBytes { get; set; } = 15 * 1024 * 1024;

    /// <summary>Requests labeled at once; 0 = one per core.</summary>
    [Range(0, 1024)]
    public int MaxConcurrent { get; set; }

    /// <summary>Requests allowed to wait for a turn; past that the caller gets ThrottlingException and its SDK backs off.</summary>
    [Range(0, 100_000)]
    public int MaxQueued { get; set; } = 16;
}
