using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LabelLens.Storage;
using LabelLens.Storage.External;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server.External;

/// <summary>The result of one event record.</summary>
/// <param name="Outcome">queued, unchanged, deleted, notFound, duplicate, stale, ignored (not a create/remove), noStore, invalid.</param>
public sealed record S3EventResult(string? EventName, string? Bucket, string? Key, string? ImageId, string Outcome, string? Detail);

public sealed record S3EventsResponse(int Records, int Queued, int Deleted, IReadOnlyList<S3EventResult> Results);

/// <summary>POST /api/v1/backfill body.</summary>
public sealed record BackfillApiRequest(string? Bucket, string? Prefix, string? Store, long? MaxObjects);

/// <summary>Bring your own bucket: S3 event notifications in, backfill of an external bucket.</summary>
public static class ExternalEndpoints
{
    public static void MapExternal(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1").WithTags("External stores");
        group.MapPost("/events/s3", HandleS3EventsAsync).DisableAntiforgery();
        group.MapPost("/backfill", BackfillAsync);
    }

    /// <summary>
    /// Applies every record of an AWS or MinIO S3 event notification: ObjectCreated catalogs the object (its
    /// bytes stay in the external store) and queues labeling; ObjectRemoved removes the image and its labels.
    /// Redeliveries and out-of-order deliveries are recognised by the per-key sequencer (and ETag).
    /// </summary>
    private static async Task<IResult> HandleS3EventsAsync(
        HttpContext context, string? store, IOptions<EventsOptions> options, ExternalStores stores, ICatalog catalog, QueueSignal signal, ILoggerFactory loggers, CancellationToken ct)
    {
        var settings = options.Value;
        if (string.IsNullOrEmpty(settings.Token))
        {
            return Problems.Problem(StatusCodes.Status403Forbidden, "EventsDisabled", "S3 event notifications are refused: no Events:Token is configured on this server (set Events:Token, or LABELLENS_Events__Token, and send it as 'Authorization: Bearer TOKEN').");
        }

        if (!HasToken(context.Request, settings.Token))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return Problems.Problem(StatusCodes.Status401Unauthorized, "Unauthorized", "S3 event notifications need the Events:Token shared secret: 'Authorization: Bearer TOKEN', 'X-LabelLens-Token: TOKEN' or '?token=TOKEN'.");
        }

        JsonElement root;
        try
        {
            root = await ReadJsonAsync(context.Request, settings.MaxBodyBytes, ct);
        }
        catch (InvalidDataException ex)
        {
            return Problems.Problem(StatusCodes.Status413PayloadTooLarge, "EntityTooLarge", ex.Message);
        }
        catch (JsonException ex)
        {
            return Problems.BadRequest("MalformedEvent", $"The body is not an S3 event notification: {ex.Message}");
        }

        IReadOnlyList<(S3EventRecord? Record, string? Problem)> records;
        try
        {
            records = S3EventNotification.Parse(root);
        }
        catch (JsonException ex)
        {
            return Problems.BadRequest("MalformedEvent", $"The body is not an S3 event notification: {ex.Message}");
        }

        var logger = loggers.CreateLogger("LabelLens.Server.External.S3Events");
        var results = new List<S3EventResult>(records.Count);
        foreach (var (record, problem) in records)
        {
            results.Add(await ApplyAsync(record, problem, store, stores, catalog, logger, ct));
        }

        var queued = results.Count(r => r.Outcome == "queued");
        if (queued > 0)
        {
            signal.Notify(queued);
        }

        return Results.Ok(new S3EventsResponse(results.Count, queued, results.Count(r => r.Outcome == "deleted"), results));
    }

    private static async Task<S3EventResult> ApplyAsync(S3EventRecord? record, string? problem, string? storeName, ExternalStores stores, ICatalog catalog, ILogger logger, CancellationToken ct)
    {
        if (record is null)
        {
            return new S3EventResult(null, null, null, null, "invalid", problem);
        }

        var imageId = ImageIds.For(record.Bucket, record.Key);
        S3EventResult Result(string outcome, string? detail = null) => new(record.EventName, record.Bucket, record.Key, imageId, outcome, detail);
        if (!record.IsCreated && !record.IsRemoved)
        {
            return Result("ignored", "only ObjectCreated:* and ObjectRemoved:* events are acted on");
        }

        if (Encoding.UTF8.GetByteCount(record.Key) > ObjectNames.MaxKeyBytes || record.Key.Any(char.IsControl))
        {
            return Result("invalid", "the key is over 1,024 bytes or holds control characters");
        }

        var store = stores.Resolve(record.Bucket, storeName, out var error);
        if (store is null)
        {
            logger.LogWarning("S3 event {Event} for {Bucket}/{Key} ignored: {Error}", record.EventName, record.Bucket, ObjectNames.Printable(record.Key), error);
            return Result("noStore", error);
        }

        if (record.IsRemoved)
        {
            var removed = await catalog.RecordExternalRemovalAsync(store.Name, record.Bucket, record.Key, record.Sequencer, ct);
            return Result(Name(removed));
        }

        var etag = S3ObjectStore.NormalizeETag(record.ETag);
        if (etag.Length == 0 && string.IsNullOrEmpty(record.Sequencer))
        {
            return Result("invalid", "an ObjectCreated record needs s3.object.eTag or s3.object.sequencer");
        }

        // Without an ETag, the sequencer stands for the version (a new sequencer = new content).
        var outcome = await catalog.RecordExternalObjectAsync(
            new ExternalObjectRecord(store.Name, record.Bucket, record.Key, etag.Length > 0 ? etag : "seq-" + record.Sequencer, record.Size, record.Sequencer, record.ContentType),
            ct);
        return Result(Name(outcome));
    }

    private static string Name(ExternalOutcome outcome) => outcome switch
    {
        ExternalOutcome.NotFound => "notFound",
        _ => outcome.ToString().ToLowerInvariant(),
    };

    private static async Task<IResult> BackfillAsync(BackfillApiRequest body, Backfiller backfiller, QueueSignal signal, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(body?.Bucket))
        {
            return Problems.BadRequest("InvalidRequest", "Give the external bucket: {\"bucket\": \"photos\", \"prefix\": \"2024/\", \"store\": \"minio\"} (store is optional when the bucket is mapped in ExternalStores:<name>:Buckets).");
        }

        if (body.MaxObjects is <= 0)
        {
            return Problems.BadRequest("InvalidRequest", "maxObjects must be positive.");
        }

        try
        {
            var summary = await backfiller.RunAsync(new BackfillRequest(body.Bucket, body.Prefix, body.Store, body.MaxObjects), null, n => signal.Notify(n), ct);
            return Results.Ok(summary);
        }
        catch (BackfillException ex)
        {
            return Problems.Problem(ex.Upstream ? StatusCodes.Status502BadGateway : StatusCodes.Status400BadRequest, ex.Code, ex.Message);
        }
    }

    private static bool HasToken(HttpRequest request, string token)
    {
        var expected = Encoding.UTF8.GetBytes(token);
        var authorization = request.Headers.Authorization.ToString();
        string?[] presented =
        [
            authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : authorization.Trim(),
            request.Headers["X-LabelLens-Token"].ToString(),
            request.Query["token"].ToString(),
        ];
        var ok = false;
        foreach (var candidate in presented)
        {
            if (!string.IsNullOrEmpty(candidate))
            {
                // Constant time: how much of the token was right must not show in the response time.
                ok |= CryptographicOperations.FixedTimeEquals(expected, Encoding.UTF8.GetBytes(candidate));
            }
        }

        return ok;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            throw new InvalidDataException($"The notification is larger than the {maxBytes:N0}-byte limit (Events:MaxBodyBytes).");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 14];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw new InvalidDataException($"The notification is larger than the {maxBytes:N0}-byte limit (Events:MaxBodyBytes).");
            }

            buffer.Write(chunk, 0, read);
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }
}
