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

    /// <summary>Objects, catalog and temporary files. Also LABELLENS_DATA or --data.</summary>
    [Required]
    public string DataFolder { get; set; } = "data";

    /// <summary>Largest object accepted by an upload (default 5 GiB); images over the decoder's limit are stored but fail labeling with ImageTooLarge.</summary>
    [Range(1, long.MaxValue)]
    public long MaxObjectBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>When any key is set, every /api call needs one (Authorization: Bearer KEY or X-Api-Key: KEY).</summary>
    public List<string> ApiKeys { get; set; } = [];

    public bool IsLoopback => Host is "127.0.0.1" or "localhost" or "::1" or "[::1]";
}

/// <summary>How stored objects are labeled. Section "Labeling".</summary>
public sealed class LabelingOptions
{
    public const string Section = "Labeling";

    /// <summary>Labels below this confidence are not stored (Rekognition's default, 55).</summary>
    [Range(0, 100)]
    public double MinConfidence { get; set; } = LabelRequest.DefaultMinConfidence;

    /// <summary>At most this many labels stored per image; null stores all.</summary>
    [Range(0, 10_000)]
    public int? MaxLabels { get; set; }

    /// <summary>The model to label with; empty uses Models:Default.</summary>
    public string? Model { get; set; }

    public LabelRequest Request => new() { MinConfidence = MinConfidence, MaxLabels = MaxLabels };
}
