using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LabelLens.Server;

public sealed record LabelEdit(string Name);

public sealed record RelabelRequest(string Scope);

/// <summary>Images: details, relabel (one or in bulk), manual label edits, queue status.</summary>
public static class ImageEndpoints
{
    public static void MapImages(this IEndpointRouteBuilder app)
    {
        var images = app.MapGroup("/api/v1/images").WithTags("Images");
        images.MapGet("/{id}", async (string id, ICatalog catalog, CancellationToken ct) =>
            await catalog.GetDetailsAsync(id, ct) is { } details
                ? Results.Ok((await ImageViews.AttachAsync(catalog, [ImageResponse.From(details)], null, ct))[0])
                : Problems.NotFound("NoSuchImage", $"No image with id '{id}'."));

        images.MapPost("/{id}/relabel", async (string id, ICatalog catalog, QueueSignal signal, CancellationToken ct) =>
        {
            if (!await catalog.EnqueueRelabelAsync(id, ct))
            {
                return Problems.NotFound("NoSuchImage", $"No image with id '{id}'.");
            }

            signal.Notify();
            return Results.Accepted($"/api/v1/images/{id}", new { id, status = ImageStatus.Queued });
        });

        images.MapPost("/{id}/labels", async (string id, LabelEdit edit, ICatalog catalog, LabelTaxonomy taxonomy, CancellationToken ct) =>
        {
            var name = edit.Name?.Trim();
            if (string.IsNullOrEmpty(name) || name.Length > 200 || name.Any(char.IsControl) || name.Contains('|', StringComparison.Ordinal))
            {
                return Problems.BadRequest("InvalidLabel", "A label name is 1 to 200 printable characters, without '|'.");
            }

            // A known label keeps its taxonomy (parents, categories); a new one stands alone.
            var known = taxonomy.TryGetLabel(name, out var label);
            var parents = known ? label.Ancestors.Select(a => new NamedItem(a)).ToList() : [];
            var categories = known ? label.Categories.Select(c => new NamedItem(c)).ToList() : [new NamedItem(LabelTaxonomy.FallbackCategory)];
            return await catalog.AddManualLabelAsync(id, known ? label.Name : name, parents, categories, ct)
                ? Results.Ok(ImageResponse.From((await catalog.GetDetailsAsync(id, ct))!))
                : Problems.NotFound("NoSuchImage", $"No image with id '{id}'.");
        });

        images.MapDelete("/{id}/labels/{name}", async (string id, string name, ICatalog catalog, CancellationToken ct) =>
            await catalog.RemoveManualLabelAsync(id, name, ct)
                ? Results.Ok(ImageResponse.From((await catalog.GetDetailsAsync(id, ct))!))
                : Problems.NotFound("NoSuchImage", $"No image with id '{id}'."));

        app.MapPost("/api/v1/relabel", async (RelabelRequest request, ICatalog catalog, LabelerHolder holder, QueueSignal signal, CancellationToken ct) =>
        {
            if (!Enum.TryParse<RelabelScope>(request.Scope?.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var scope))
            {
                return Problems.BadRequest("InvalidScope", "scope is one of: failed, all, model-older.");
            }

            if (scope == RelabelScope.ModelOlder && !holder.IsReady)
            {
                return Problems.Problem(StatusCodes.Status503ServiceUnavailable, "ModelNotReady", "The models are still loading (or failed to load: see /readyz); model-older compares with them.");
            }

            var models = scope == RelabelScope.ModelOlder ? (await holder.Labeler).Models : new Dictionary<LabelLens.Analysis.AnalysisTask, LabelLens.Analysis.ModelIdentity>();
            var queued = await catalog.EnqueueRelabelAsync(scope, models, ct);
            signal.Notify(queued.Count);
            return Results.Accepted("/api/v1/queue", new { scope = request.Scope, queued = queued.Count });
        }).WithTags("Images");

        app.MapGet("/api/v1/queue", async (ICatalog catalog, CancellationToken ct) =>
            Results.Ok(new { jobs = await catalog.GetQueueCountsAsync(ct), images = await catalog.GetImageCountsAsync(ct), videos = await catalog.GetVideoQueueAsync(ct) })).WithTags("Queue");
    }
}
