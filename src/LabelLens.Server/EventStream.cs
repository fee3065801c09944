using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using LabelLens.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabelLens.Server;

/// <summary>
/// A change pushed to the web UI: <c>created</c>, <c>labeling</c>, <c>labeled</c>, <c>failed</c> or <c>deleted</c>.
/// <c>labeling</c> is seen, not recorded: its <see cref="Id"/> is 0 and it is not replayed after a reconnect.
/// </summary>
public sealed record ImageChange(long Id, string Type, string ImageId, string Bucket, string Key, DateTimeOffset Time)
{
    public static ImageChange From(CatalogChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var type = change.Type switch
        {
            CatalogEventType.ObjectCreated => "created",
            CatalogEventType.LabelsReady => "labeled",
            CatalogEventType.LabelingFailed => "failed",
            CatalogEventType.ObjectRemoved => "deleted",
            var other => other.ToString(),
        };
        return new ImageChange(change.Id, type, change.ImageId, change.Bucket, change.Key, change.CreatedAt);
    }
}

/// <summary>
/// Follows the catalog's events table and fans every change out to the connected live streams. One reader
/// polls for the whole process (not one per browser tab), and the table — not an in-process hook — is the
/// source, so uploads over S3, external events and CLI relabels show up as well as REST uploads. It also
/// drops the cached thumbnails of deleted images.
/// </summary>
public sealed class ImageChangeHub(ICatalog catalog, ThumbnailCache thumbnails, TimeProvider time, ILogger<ImageChangeHub> logger) : BackgroundService
{
    /// <summary>How often the events table is read while a stream is open; the delay a browser sees at most.</summary>
    public static readonly TimeSpan LivePoll = TimeSpan.FromMilliseconds(250);

    /// <summary>With nobody watching, only deleted images' thumbnails need following.</summary>
    public static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private HashSet<string> _labeling = [];
    private readonly List<Channel<ImageChange>> _subscribers = [];
    private long _position = -1;

    public int Subscribers
    {
        get
        {
            lock (_lock)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>A channel receiving every change from now on; complete it with <see cref="Unsubscribe"/>.</summary>
    public Channel<ImageChange> Subscribe()
    {
        // Bounded: a stalled browser must not grow memory without end. It loses the oldest changes and
        // resynchronises (the page reloads its search when it reconnects).
        var channel = Channel.CreateBounded<ImageChange>(new BoundedChannelOptions(2_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_lock)
        {
            _subscribers.Add(channel);
        }

        return channel;
    }

    public void Unsubscribe(Channel<ImageChange> channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        lock (_lock)
        {
            _subscribers.Remove(channel);
        }

        channel.Writer.TryComplete();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_position < 0)
                {
                    _position = await catalog.LastChangeIdAsync(stoppingToken);
                }

                IReadOnlyList<CatalogChange> changes;
                do
                {
                    changes = await catalog.ReadChangesAsync(_position, 500, stoppingToken);
                    foreach (var change in changes)
                    {
                        Publish(ImageChange.From(change));
                        _position = change.Id;
                    }
                }
                while (changes.Count == 500);

                if (Subscribers > 0)
                {
                    await PublishLabelingAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A busy or briefly locked catalog: try again on the next tick rather than end the stream.
                logger.LogWarning("Reading catalog changes failed: {Error}", ex.Message);
            }

            try
            {
                await Task.Delay(Subscribers > 0 ? LivePoll : IdlePoll, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Announces images that went into labeling since the last look (a worker claimed their job).</summary>
    private async Task PublishLabelingAsync(CancellationToken cancellationToken)
    {
        var now = await catalog.GetLabelingAsync(200, cancellationToken);
        var seen = new HashSet<string>(now.Select(i => i.Id), StringComparer.Ordinal);
        foreach (var (id, bucket, key) in now.Where(i => !_labeling.Contains(i.Id)))
        {
            Publish(new ImageChange(0, "labeling", id, bucket, key, time.GetUtcNow()));
        }

        _labeling = seen;
    }

    private void Publish(ImageChange change)
    {
        if (change.Type == "deleted")
        {
            thumbnails.Remove(change.ImageId);
        }

        lock (_lock)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(change);
            }
        }
    }
}

/// <summary>
/// <c>GET /api/v1/events/stream</c>: server-sent events for the web UI, one per catalog change. Each event's id is
/// the catalog event id, so a browser that reconnects (EventSource sends Last-Event-ID) gets what it missed.
/// </summary>
public static class EventStreamEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A comment line this often keeps proxies and load balancers from closing an idle stream.</summary>
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static void MapEventStream(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/events/stream", StreamAsync)
            .WithTags("Events")
            .WithSummary("Live image changes (server-sent events)")
            .WithDescription(
                "text/event-stream; event types created, labeling, labeled, failed, deleted; data {id, type, imageId, bucket, key, time}. "
                + "Send Last-Event-ID (or ?after=ID) to resume after an event.");
    }

    private static async Task StreamAsync(HttpContext context, long? after, ICatalog catalog, ImageChangeHub hub, IHostApplicationLifetime lifetime, CancellationToken requestAborted)
    {
        // A stream never ends by itself: end it when the server stops, or shutdown would wait for every open page.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var ct = stopping.Token;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-transform";
        // nginx and similar proxies buffer responses by default, which would hold events back.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var resumeFrom = long.TryParse(context.Request.Headers["Last-Event-ID"], NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? last : after;
        // Subscribe before reading the backlog, so nothing falls between the two; duplicates are skipped by id.
        var channel = hub.Subscribe();
        try
        {
            await response.WriteAsync("retry: 2000\n\n", ct);
            var sent = resumeFrom ?? await catalog.LastChangeIdAsync(ct);
            await response.WriteAsync($": connected at event {sent}\n\n", ct);
            await response.Body.FlushAsync(ct);
            if (resumeFrom is { } from)
            {
                foreach (var change in await catalog.ReadChangesAsync(from, 1_000, ct))
                {
                    await WriteAsync(response, ImageChange.From(change), ct);
                    sent = change.Id;
                }

                await response.Body.FlushAsync(ct);
            }

            while (!ct.IsCancellationRequested)
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(ct);
                beat.CancelAfter(Heartbeat);
                try
                {
                    if (!await channel.Reader.WaitToReadAsync(beat.Token))
                    {
                        return;
                    }
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await response.WriteAsync(": keep-alive\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    continue;
                }

                while (channel.Reader.TryRead(out var change))
                {
                    // Id 0 (labeling) is not in the table: send it as it comes, without an id line.
                    if (change.Id == 0 || change.Id > sent)
                    {
                        await WriteAsync(response, change, ct);
                        sent = Math.Max(sent, change.Id);
                    }
                }

                await response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The browser went away: the normal end of a stream.
        }
        finally
        {
            hub.Unsubscribe(channel);
        }
    }

    private static Task WriteAsync(HttpResponse response, ImageChange change, CancellationToken ct) =>
        // No id line for an unrecorded change: the browser keeps the last real id for Last-Event-ID.
        response.WriteAsync($"{(change.Id > 0 ? $"id: {change.Id}\n" : "")}event: {change.Type}\ndata: {JsonSerializer.Serialize(change, Json)}\n\n", ct);
}
