using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;

namespace LabelLens.Server;

/// <summary>A page of search results: images with their labels, and the cursor of the next page (null on the last).</summary>
public sealed record SearchResponse(IReadOnlyList<ImageResponse> Images, string? NextCursor);

/// <summary>An analysis of the vocabulary: its task, model and how many classes the model has.</summary>
public sealed record VocabularyAnalysis(string Task, string Model, string ModelVersion, int Classes);

/// <summary>What the configured analyses can find.</summary>
public sealed record VocabularyResponse(IReadOnlyList<VocabularyAnalysis> Analyses, IReadOnlyList<VocabularyLabel> Labels);

/// <summary>Label names with the number of images having each, most common first.</summary>
public sealed record LabelFacetsResponse(IReadOnlyList<LabelFacet> Labels);

/// <summary>
/// How many searches read the catalog at once: two per core, the rest wait their turn (asynchronously, no thread).
/// Searches are CPU-bound in SQLite, so more at once only interleave; and each one holds a pooled connection that
/// memory-maps the catalog and keeps its own page cache for as long as the pool keeps it. 32 clients used to open
/// 30 such connections: 30 maps of the catalog counted in RSS (8.7 GB for a 326 MiB catalog, bench/README.md),
/// and 30 page caches that stayed after the load.
/// </summary>
public sealed class SearchConcurrency : IDisposable
{
    private readonly SemaphoreSlim _slots = new(Environment.ProcessorCount * 2);

    public async Task<T> RunAsync<T>(Func<Task<T>> search, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(search);
        await _slots.WaitAsync(cancellationToken);
        try
        {
            return await search();
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}

/// <summary>Search (<c>GET /api/v1/images</c>) and label facets / autocomplete (<c>GET /api/v1/labels</c>).</summary>
public static class SearchEndpoints
{
    public const int DefaultFacetLimit = 100;

    private static readonly string[] SearchParameters =
        [
            "label", "anyLabel", "notLabel", "minConfidence", "bucket", "prefix", "status", "count", "minArea", "category", "text", "sort", "limit", "cursor",
            "faces", "minFaces", "maxFaces", "shot",
            "color", "minColorPercent", "minBrightness", "maxBrightness", "minSharpness", "maxSharpness", "minContrast", "maxContrast",
        ];

    private static readonly string[] FacetParameters = ["prefix", "limit", "labeledOnly"];

    public static void MapSearch(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/images", SearchAsync)
            .WithTags("Search")
            .WithSummary("Search images by label")
            .WithDescription(
                "Query parameters, all optional, all must hold: label= (repeatable, every one), anyLabel= (repeatable, at least one), "
                + "notLabel= (repeatable, none), minConfidence= (0-100, applies to the label filters), bucket=, prefix= (object key prefix), "
                + "status= (queued, labeling, labeled, failed), count=LABEL:N (repeatable, at least N boxes), minArea= (0-1, a box covering at "
                + "least this share of the image), category=, sort=time|confidence, limit= (1-1000, default 50), cursor= (nextCursor of the "
                + "previous page); from the image properties: color= (repeatable: red, orange, yellow, green, teal, blue, purple, pink, brown, black, "
                + "white, gray; each covering at least minColorPercent=, default 10, of the image), minBrightness=/maxBrightness=, "
                + "minSharpness=/maxSharpness=, minContrast=/maxContrast= (0-100); text= (words read in the image, all on one line of it, or a \"quoted phrase\"; "
                + "case- and accent-insensitive; the hits carry their text); faces=/minFaces=/maxFaces= (number of faces found), shot=close-up|medium|wide "
                + "(from the largest face's height relative to the picture's: close-up at least 0.25, medium at least 0.10, wide below); hits carry their faces. Label names match case-insensitively; a parent label "
                + "(Animal) matches its descendants (Dog); an alias matches its label (Puppy and Alaskan Malamute find Dog, Seashore finds Beach).")
            .Produces<SearchResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/labels", LabelsAsync)
            .WithTags("Search")
            .WithSummary("Label facets and autocomplete")
            .WithDescription("prefix= (case-insensitive name prefix), limit= (1-1000, default 100), labeledOnly=true (count only images with status labeled).")
            .Produces<LabelFacetsResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        app.MapGet("/api/v1/labels/vocabulary", VocabularyAsync)
            .WithTags("Search")
            .WithSummary("Every label the configured analyses can produce")
            .WithDescription(
                "The labels each configured analysis (objects, classes) can produce with their parents, categories, aliases and the analyses "
                + "that produce them; q= narrows to one label by name or alias (404 when no configured model finds it), prefix= to names or aliases "
                + "starting with it. 503 while the models load.")
            .Produces<VocabularyResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> VocabularyAsync(HttpRequest request, LabelerHolder holder, LabelTaxonomy taxonomy, CancellationToken ct)
    {
        try
        {
            RefuseUnknown(request.Query, ["q", "prefix"]);
        }
        catch (InvalidQueryException ex)
        {
            return Problems.BadRequest(ex.Code, ex.Message);
        }

        if (!holder.IsReady)
        {
            return Problems.Problem(StatusCodes.Status503ServiceUnavailable, "ModelNotReady", holder.LoadError is { } error ? $"No model is loaded: {error}" : "The models are still loading.");
        }

        var labeler = await holder.Labeler.WaitAsync(ct);
        var vocabulary = holder.Vocabulary(taxonomy);
        var analyses = labeler.Analyses.Select(a => new VocabularyAnalysis(a.Task.Name(), a.Model.Name, a.Model.Version, a.ClassNames.Count)).ToList();
        if (request.Query["q"].FirstOrDefault() is { Length: > 0 } term)
        {
            return vocabulary.Find(term) is { } found
                ? Results.Ok(new VocabularyResponse(analyses, [found]))
                : Problems.NotFound("NotInVocabulary", $"No configured model finds '{term}' (analyses: {string.Join(", ", analyses.Select(a => $"{a.Task} with {a.Model}"))}).");
        }

        var prefix = request.Query["prefix"].FirstOrDefault() ?? "";
        var labels = vocabulary.Labels
            .Where(l => l.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || l.Aliases.Any(a => a.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        return Results.Ok(new VocabularyResponse(analyses, labels));
    }

    /// <summary>Reads a search from query parameters.</summary>
    /// <exception cref="InvalidQueryException">An unknown parameter, a value that does not parse, or a single-valued parameter given twice.</exception>
    public static ImageQuery ParseQuery(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        RefuseUnknown(query, SearchParameters);
        var counts = new List<LabelCount>();
        foreach (var value in query["count"])
        {
            var colon = value?.LastIndexOf(':') ?? -1;
            if (colon < 1 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var minimum))
            {
                throw new InvalidQueryException("InvalidCount", $"count is LABEL:N, e.g. count=Person:2 (got '{value}').");
            }

            counts.Add(new LabelCount(value![..colon], minimum));
        }

        var sort = Single(query, "sort", "InvalidSort") switch
        {
            null => ImageSort.Time,
            var s when s.Equals("time", StringComparison.OrdinalIgnoreCase) => ImageSort.Time,
            var s when s.Equals("confidence", StringComparison.OrdinalIgnoreCase) => ImageSort.Confidence,
            _ => throw new InvalidQueryException("InvalidSort", "sort is time or confidence."),
        };

        return new ImageQuery
        {
            Labels = Values(query, "label"),
            AnyLabels = Values(query, "anyLabel"),
            NotLabels = Values(query, "notLabel"),
            MinConfidence = Number(query, "minConfidence", "InvalidConfidence") ?? 0,
            Bucket = Single(query, "bucket", "InvalidBucket"),
            Prefix = Single(query, "prefix", "InvalidPrefix"),
            Status = Single(query, "status", "InvalidStatus"),
            Counts = counts,
            MinArea = Number(query, "minArea", "InvalidArea"),
            Category = Single(query, "category", "InvalidCategory"),
            Text = Single(query, "text", "InvalidText"),
            Faces = Integer(query, "faces"),
            MinFaces = Integer(query, "minFaces"),
            MaxFaces = Integer(query, "maxFaces"),
            Shot = Single(query, "shot", "InvalidShot"),
            Sort = sort,
            Limit = Single(query, "limit", "InvalidLimit") is { } limit
                ? int.TryParse(limit, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw new InvalidQueryException("InvalidLimit", $"limit must be a whole number from 1 to {ImageQuery.MaxLimit}.")
                : ImageQuery.DefaultLimit,
            Cursor = Single(query, "cursor", "InvalidCursor"),
            Colors = Values(query, "color"),
            MinColorPercent = Number(query, "minColorPercent", "InvalidProperty") ?? ImageQuery.DefaultMinColorPercent,
            MinBrightness = Number(query, "minBrightness", "InvalidProperty"),
            MaxBrightness = Number(query, "maxBrightness", "InvalidProperty"),
            MinSharpness = Number(query, "minSharpness", "InvalidProperty"),
            MaxSharpness = Number(query, "maxSharpness", "InvalidProperty"),
            MinContrast = Number(query, "minContrast", "InvalidProperty"),
            MaxContrast = Number(query, "maxContrast", "InvalidProperty"),
        };
    }

    private static async Task<IResult> SearchAsync(HttpRequest request, ICatalog catalog, LabelTaxonomy taxonomy, SearchConcurrency concurrency, CancellationToken ct)
    {
        try
        {
            var query = ParseQuery(request.Query).WithAliasesResolved(taxonomy);
            return await concurrency.RunAsync<IResult>(
                async () =>
                {
                    var page = await catalog.SearchAsync(query, ct);
                    // Videos come with their segments of the searched labels.
                    var images = await ImageViews.AttachFacesAsync(catalog, await ImageViews.AttachAsync(catalog, page.Images.Select(ImageResponse.From).ToList(), [.. query.Labels, .. query.AnyLabels], ct, query.MinConfidence, query), ct);
                    if (query.Text is not null)
                    {
                        // A text search's hits carry their text: what matched, and where.
                        images = await ImageViews.AttachTextAsync(catalog, images, ct, query.Text);
                    }

                    return Results.Ok(new SearchResponse(images, page.NextCursor));
                },
                ct);
        }
        catch (InvalidQueryException ex)
        {
            return Problems.BadRequest(ex.Code, ex.Message);
        }
    }

    private static async Task<IResult> LabelsAsync(HttpRequest request, ICatalog catalog, CancellationToken ct)
    {
        try
        {
            var query = request.Query;
            RefuseUnknown(query, FacetParameters);
            var limit = Single(query, "limit", "InvalidLimit") is { } text
                ? int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw new InvalidQueryException("InvalidLimit", $"limit must be a whole number from 1 to {ImageQuery.MaxLimit}.")
                : DefaultFacetLimit;
            var labeledOnly = Single(query, "labeledOnly", "InvalidLabeledOnly") is { } flag
                ? bool.TryParse(flag, out var b) ? b : throw new InvalidQueryException("InvalidLabeledOnly", "labeledOnly is true or false.")
                : false;
            var facets = await catalog.LabelFacetsAsync(Single(query, "prefix", "InvalidPrefix"), limit, labeledOnly, ct);
            return Results.Ok(new LabelFacetsResponse(facets));
        }
        catch (InvalidQueryException ex)
        {
            return Problems.BadRequest(ex.Code, ex.Message);
        }
    }

    /// <summary>A misspelt parameter (labels=Dog) would otherwise widen the search silently.</summary>
    private static void RefuseUnknown(IQueryCollection query, string[] known)
    {
        foreach (var key in query.Keys)
        {
            if (!known.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                throw new InvalidQueryException("UnknownParameter", $"Unknown query parameter '{key}'; known: {string.Join(", ", known)}.");
            }
        }
    }

    private static List<string> Values(IQueryCollection query, string name) => query[name].Select(v => v ?? "").ToList();

    private static string? Single(IQueryCollection query, string name, string code)
    {
        StringValues values = query[name];
        return values.Count switch
        {
            0 => null,
            1 => string.IsNullOrEmpty(values[0]) ? null : values[0],
            _ => throw new InvalidQueryException(code, $"{name} may be given only once."),
        };
    }

    private static int? Integer(IQueryCollection query, string name) =>
        Single(query, name, "InvalidFaces") is { } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : throw new InvalidQueryException("InvalidFaces", $"{name} must be a whole number from 0 (got '{text}').")
            : null;

    private static double? Number(IQueryCollection query, string name, string code) =>
        Single(query, name, code) is { } text
            ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : throw new InvalidQueryException(code, $"{name} must be a number (got '{text}').")
            : null;
}
