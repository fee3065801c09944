using System.ComponentModel.DataAnnotations;
using LabelLens.Storage;

namespace LabelLens.Server.External;

/// <summary>Incoming S3 event notifications. Section "Events".</summary>
public sealed class EventsOptions
{
    public const string Section = "Events";

    /// <summary>
    /// Shared secret of POST /api/v1/events/s3, sent as <c>Authorization: Bearer TOKEN</c> (MinIO's
    /// <c>auth_token</c>), <c>X-LabelLens-Token</c>, or <c>?token=</c>. Without one, every event is refused.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Largest notification body accepted.</summary>
    [Range(1024, 100L * 1024 * 1024)]
    public long MaxBodyBytes { get; set; } = 10L * 1024 * 1024;
}

/// <summary>One outbound webhook. Section "Webhooks" (a list: Webhooks:0:Url, Webhooks:0:Secret, ...).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    public const string LabelsReady = "LabelsReady";
    public const string LabelingFailed = "LabelingFailed";

    /// <summary>Identifies the webhook's delivery position in the catalog; default: the URL.</summary>
    public string? Name { get; set; }

    public string Url { get; set; } = "";

    /// <summary>Key of the HMAC-SHA256 signature (X-LabelLens-Signature); without one, deliveries are unsigned.</summary>
    public string? Secret { get; set; }

    /// <summary>Event types delivered: LabelsReady, LabelingFailed (default both).</summary>
    public List<string> Events { get; set; } = [];

    /// <summary>Attempts per event before it is given up (recorded in webhook_failures) and the next one is sent.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Delay after the first failed attempt; doubled after each further one.</summary>
    public double RetryBaseSeconds { get; set; } = 1;

    public double RetryMaxSeconds { get; set; } = 600;

    public double TimeoutSeconds { get; set; } = 10;

    /// <summary>How often an idle webhook looks for new events.</summary>
    public double PollSeconds { get; set; } = 1;

    public string Key => string.IsNullOrEmpty(Name) ? Url : Name;

    public IReadOnlyList<CatalogEventType> EventTypes => Events.Count == 0
        ? [CatalogEventType.LabelsReady, CatalogEventType.LabelingFailed]
        : Events.Select(Enum.Parse<CatalogEventType>).ToList();

    public TimeSpan Backoff(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(RetryMaxSeconds, RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempt - 1))));

    /// <summary>Checks the settings; throws with the setting's name.</summary>
    public void Validate(int index)
    {
        var setting = $"{Section}:{index}";
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new InvalidOperationException($"{setting}:Url '{Url}' must be an absolute http(s) URL.");
        }

        if (Events.FirstOrDefault(e => e is not (LabelsReady or LabelingFailed)) is { } unknown)
        {
            throw new InvalidOperationException($"{setting}:Events: unknown event type '{unknown}' (LabelsReady, LabelingFailed).");
        }

        if (MaxAttempts is < 1 or > 1000 || RetryBaseSeconds is <= 0 or > 86_400 || RetryMaxSeconds is <= 0 or > 86_400 || TimeoutSeconds is <= 0 or > 600 || PollSeconds is <= 0 or > 600)
        {
            throw new InvalidOperationException($"{setting}: MaxAttempts (1-1000), RetryBaseSeconds, RetryMaxSeconds, TimeoutSeconds and PollSeconds must be positive and sensible.");
        }
    }
}
