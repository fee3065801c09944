using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabelLens.Server.External;

/// <summary>The JSON body of a webhook delivery: the event, and the image with its labels as they are now.</summary>
/// <param name="Id">The outbox event id: the same on every retry of this delivery (deduplicate on it).</param>
/// <param name="Image">Null when the image was deleted before the delivery.</param>
public sealed record WebhookPayload(long Id, string Type, DateTimeOffset Time, string ImageId, string Bucket, string Key, ImageRecord? Image, IReadOnlyList<StoredLabel> Labels);

/// <summary>
/// Delivers LabelsReady and LabelingFailed to the configured webhooks. The catalog's events table is the
/// outbox (the labels and their event commit in one transaction), each webhook keeps its position in
/// webhook_cursors, so deliveries survive restarts; events go out in order, one at a time per webhook, and a
/// failed delivery is retried with exponential backoff (MaxAttempts, then recorded in webhook_failures and
/// skipped). Labeling never waits for a webhook.
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    public const string SignatureHeader = "X-LabelLens-Signature";
    public const string TimestampHeader = "X-LabelLens-Timestamp";
    public const string EventHeader = "X-LabelLens-Event";
    public const string DeliveryHeader = "X-LabelLens-Delivery";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly IReadOnlyList<WebhookOptions> _webhooks;
    private readonly ICatalog _catalog;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly HttpClient _http;
    private readonly string _owner = $"webhooks:{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    public WebhookDispatcher(IReadOnlyList<WebhookOptions> webhooks, ICatalog catalog, TimeProvider time, ILogger<WebhookDispatcher> logger)
    {
        _webhooks = webhooks;
        _catalog = catalog;
        _time = time;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("LabelLens-Webhooks", "1"));
    }

    /// <summary>sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)): what X-LabelLens-Signature carries.</summary>
    public static string Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(timestamp);
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>Long enough to cover a delivery (its timeout) and the wait before the next, so the holder keeps it while alive.</summary>
    private static TimeSpan DeliveryLease(WebhookOptions webhook) => TimeSpan.FromSeconds(Math.Max(30, 3 * (webhook.TimeoutSeconds + webhook.PollSeconds)));

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_webhooks.Select(webhook => Task.Run(() => RunAsync(webhook, stoppingToken), stoppingToken)));

    private async Task RunAsync(WebhookOptions webhook, CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(webhook.Secret))
        {
            _logger.LogWarning("Webhook {Url} has no Secret: its deliveries are not signed", webhook.Url);
        }

        var poll = TimeSpan.FromSeconds(webhook.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var cursor = await _catalog.InitWebhookCursorAsync(webhook.Key, stoppingToken);
                // Processes sharing a catalog take turns: the holder of the lease delivers, the others wait.
                if (!await _catalog.TryLeaseWebhookAsync(webhook.Key, _owner, DeliveryLease(webhook), stoppingToken))
                {
                    await Task.Delay(poll, _time, stoppingToken);
                    continue;
                }

                var wait = cursor.NextAttemptAt - _time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait < poll ? wait : poll, _time, stoppingToken);
                    continue;
                }

                var next = await _catalog.NextOutboxEventAsync(cursor.LastEventId, webhook.EventTypes, stoppingToken);
                if (next is null)
                {
                    await Task.Delay(poll, _time, stoppingToken);
                    continue;
                }

                var error = await DeliverAsync(webhook, next, stoppingToken);
                if (error is null)
                {
                    await _catalog.WebhookDeliveredAsync(webhook.Key, next.Id, stoppingToken);
                    continue;
                }

                var attempts = cursor.Attempts + 1;
                if (attempts >= webhook.MaxAttempts)
                {
                    _logger.LogError("Webhook {Url}: gave up on event {Id} ({Type}) after {Attempts} attempt(s): {Error}", webhook.Url, next.Id, next.Type, attempts, error);
                    await _catalog.WebhookGaveUpAsync(webhook.Key, next.Id, attempts, error, stoppingToken);
                }
                else
                {
                    var delay = webhook.Backoff(attempts);
                    _logger.LogWarning("Webhook {Url}: event {Id} attempt {Attempt} failed ({Error}); retrying in {Delay} s", webhook.Url, next.Id, attempts, error, delay.TotalSeconds);
                    await _catalog.WebhookAttemptFailedAsync(webhook.Key, attempts, _time.GetUtcNow() + delay, error, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The catalog failed (busy, disk): try again later; nothing is lost, the cursor did not move.
                _logger.LogError(ex, "Webhook {Url}: delivery loop error", webhook.Url);
                try
                {
                    await Task.Delay(poll, _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <returns>Null when the receiver answered 2xx; the reason otherwise.</returns>
    private async Task<string?> DeliverAsync(WebhookOptions webhook, OutboxEvent outboxEvent, CancellationToken stoppingToken)
    {
        var details = await _catalog.GetDetailsAsync(outboxEvent.ImageId, stoppingToken);
        var payload = new WebhookPayload(outboxEvent.Id, outboxEvent.Type.ToString(), outboxEvent.CreatedAt, outboxEvent.ImageId, outboxEvent.Bucket, outboxEvent.Key, details?.Image, details?.Labels ?? []);
        var body = JsonSerializer.SerializeToUtf8Bytes(payload, Json);
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(EventHeader, outboxEvent.Type.ToString());
        request.Headers.Add(DeliveryHeader, outboxEvent.Id.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(TimestampHeader, timestamp);
        if (!string.IsNullOrEmpty(webhook.Secret))
        {
            request.Headers.Add(SignatureHeader, Sign(webhook.Secret, timestamp, body));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(webhook.TimeoutSeconds));
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return $"no answer within {webhook.TimeoutSeconds} s";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }
}
