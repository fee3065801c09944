namespace LabelLens.Storage.External;

/// <summary>
/// One S3-compatible bucket host LabelLens reads from (bring your own bucket): AWS S3, MinIO, Ceph, Garage,
/// another LabelLens. Section "ExternalStores:&lt;name&gt;".
/// </summary>
public sealed class ExternalStoreOptions
{
    public const string Section = "ExternalStores";

    /// <summary>Endpoint of an S3-compatible service (http://minio:9000); empty means AWS S3 in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Region requests are signed for (and the AWS region when no ServiceUrl is set).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Access key; empty uses the AWS SDK's default credential chain (environment, profile, instance role).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>Path-style addressing (http://host/bucket/key). Default: on when ServiceUrl is set, off for AWS.</summary>
    public bool? ForcePathStyle { get; set; }

    /// <summary>The buckets of this store whose events and backfills LabelLens accepts; empty means one bucket named like the store.</summary>
    public List<string> Buckets { get; set; } = [];

    /// <summary>Per-request timeout.</summary>
    public double TimeoutSeconds { get; set; } = 60;
}
