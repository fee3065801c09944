using System.ComponentModel.DataAnnotations;
using LabelLens.Labels;

namespace LabelLens.Server;

/// <summary>Where `serve` listens and keeps its data. Section "Server".</summary>
public sealed class ServerOptions
{
    public const string Section = "Server";

    /// <summary>Address to bind; 127.0.0.1 by default so nothing is exposed by accident.</summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>HTTP port; 0 picks a free one (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>
    /// What this process does (--role): all (HTTP API, S3, Rekognition, web UI and labeling: the default), api
    /// (everything but labeling) or worker (labeling; over HTTP only /healthz, /readyz and /metrics). Several api and
    /// worker processes share one PostgreSQL catalog (Catalog:ConnectionString) and one object store.
    /// </summary>
    public ServerRole Role { get; set; } = ServerRole.All;

    /// <summary>Objects, catalog and temporary files. Also LABELLENS_DATA or --data.</summary>
    [Required]
    public string DataFolder { get; set; } = "data";

    /// <summary>Largest object accepted by an upload (default 5 GiB); images over the decoder's limit are stored but fail labeling with ImageTooLarge.</summary>
    [Range(1, long.MaxValue)]
    public long MaxObjectBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>When any key is set, every /api call needs one (Authorization: Bearer KEY or X-Api-Key: KEY).</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>S3-compatible listener port (--s3-port); default 9000, or a free port when Port is 0; 0 picks a free one; -1 turns the listener off.</summary>
    [Range(-1, 65535)]
    public int? S3Port { get; set; }

    /// <summary>Address the S3 listener binds; default: Host.</summary>
    public string? S3Host { get; set; }

    /// <summary>Access key / secret pairs accepted by the S3 listener (AWS Signature Version 4); LABELLENS_ACCESS_KEY / LABELLENS_SECRET_KEY add one.</summary>
    public List<S3Credential> S3Credentials { get; set; } = [];

    /// <summary>Unsigned S3 requests are served (as the anonymous user) instead of refused with AccessDenied.</summary>
    public bool S3AllowAnonymous { get; set; }

    /// <summary>The region GetBucketLocation reports; requests signed for any region are accepted.</summary>
    [Required]
    public string S3Region { get; set; } = "us-east-1";

    /// <summary>
    /// Host names requests may be addressed to (Host header; "*.example.com" patterns allowed). Empty: the
    /// loopback names when listening on loopback, which stops DNS rebinding (a page on another site whose name
    /// resolves to 127.0.0.1); any name otherwise.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>The Host names accepted: <see cref="AllowedHosts"/>, else the loopback names (on loopback) or any.</summary>
    public IReadOnlyList<string> EffectiveAllowedHosts => AllowedHosts.Count > 0
        ? AllowedHosts
        : IsLoopback && (S3Host is null || S3Host is "127.0.0.1" or "localhost" or "::1" or "[::1]")
            ? ["localhost", "*.localhost", "127.0.0.1", "[::1]"]
            : ["*"];

    public bool IsLoopback => Host is "127.0.0.1" or "localhost" or "::1" or "[::1]";

    /// <summary>The S3 port actually configured: -1 when off.</summary>
    public int EffectiveS3Port => S3Port ?? (Port == 0 ? 0 : 9000);
}

/// <summary>One S3 access key and its secret.</summary>
public sealed class S3Credential
{
    public string AccessKey { get; set; } = "";

    public string SecretKey { get; set; } = "";
}


/// <summary>What a `serve` process does; see <see cref="ServerOptions.Role"/>.</summary>
public enum ServerRole
{
    All,
    Api,
    Worker,
}
