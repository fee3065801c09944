using System.ComponentModel.DataAnnotations;

namespace LabelLens.Storage;

/// <summary>The labeling queue's behaviour. Section "Queue".</summary>
public sealed class QueueOptions
{
    public const string Section = "Queue";

    /// <summary>
    /// Uploads are refused (S3 503 SlowDown, REST 429 with Retry-After) while this many jobs wait, so a flood of
    /// uploads cannot grow the queue, the disk and memory without bound; clients retry later. 0: no limit.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int MaxBacklog { get; set; } = 10_000;

    /// <summary>Concurrent labeling workers; 0 means one per core plus one.</summary>
    [Range(0, 256)]
    public int Workers { get; set; }

    /// <summary>Jobs a worker claims at once (one transaction to claim them).</summary>
    [Range(1, 64)]
    public int BatchSize { get; set; } = 2;

    /// <summary>A claimed job not finished within this many seconds may be claimed again (a crashed or stuck worker).</summary>
    [Range(1, 86_400)]
    public double LeaseSeconds { get; set; } = 120;

    /// <summary>Attempts before a job is failed for good. Input errors (not an image) fail at once.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry; doubled each attempt.</summary>
    [Range(0.001, 3600)]
    public double RetryBaseSeconds { get; set; } = 2;

    /// <summary>Retries never wait longer than this.</summary>
    [Range(0.001, 86_400)]
    public double RetryMaxSeconds { get; set; } = 300;

    /// <summary>How often idle workers look for due retries and expired leases (new uploads wake them at once).</summary>
    [Range(0.01, 60)]
    public double PollSeconds { get; set; } = 1;

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    /// <summary>Exponential backoff after the <paramref name="attempt"/>-th failure (1-based).</summary>
    public TimeSpan Backoff(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(RetryMaxSeconds, RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempt - 1))));
}

/// <summary>Which catalog holds images, results and the queue. Section "Catalog"; LABELLENS_CATALOG sets the connection string.</summary>
public sealed class CatalogOptions
{
    public const string Section = "Catalog";

    /// <summary>
    /// "sqlite" (embedded: catalog.db in the data folder, one server per folder) or "postgres" (shared by any
    /// number of api and worker processes). Empty: postgres when a ConnectionString is set, else sqlite.
    /// </summary>
    [RegularExpression("^(|sqlite|postgres|postgresql)$", ErrorMessage = "Catalog:Provider is sqlite or postgres.")]
    public string Provider { get; set; } = "";

    /// <summary>PostgreSQL's connection: a libpq URL (postgresql://USER[:PASSWORD]@HOST:PORT/DB) or Npgsql's Host=...;Username=... form.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>True when the catalog is PostgreSQL.</summary>
    public bool IsPostgres => Provider is "postgres" or "postgresql" || (Provider.Length == 0 && !string.IsNullOrWhiteSpace(ConnectionString));
}
