using LabelLens.Taxonomy;

namespace LabelLens.Storage;

/// <summary>How search results are ordered.</summary>
public enum ImageSort
{
    /// <summary>Newest upload first (updated_at, the object's last-modified time), then id.</summary>
    Time,

    /// <summary>
    /// Highest confidence first, then id: the image's best confidence among the <see cref="ImageQuery.Labels"/>
    /// filter, or its best label overall when there is no such filter (images without any label come last).
    /// </summary>
    Confidence,
}

/// <summary>At least <paramref name="Minimum"/> instances (boxes) of <paramref name="Label"/> at or above the query's MinConfidence.</summary>
public sealed record LabelCount(string Label, int Minimum);

/// <summary>
/// A catalog search. Every filter given must hold. Label names match case-insensitively, and a parent label
/// matches its descendants (Dog's image also carries Animal). <see cref="MinConfidence"/> applies to every
/// label filter: a label below it counts as absent (for <see cref="NotLabels"/> too), and so do instances below
/// it (for <see cref="Counts"/> and <see cref="MinArea"/>).
/// </summary>
public sealed record ImageQuery
{
    public const int DefaultLimit = 50;

    /// <summary>A colour filter's default: the colour covers at least this share (percent) of the image.</summary>
    public const double DefaultMinColorPercent = 10;
    public const int MaxLimit = 1000;

    /// <summary>Most values a list filter (Labels, AnyLabels, NotLabels, Counts) may hold.</summary>
    public const int MaxValues = 20;

    public const int MaxNameLength = 200;

    /// <summary>Labels the image must all have.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Labels of which the image must have at least one.</summary>
    public IReadOnlyList<string> AnyLabels { get; init; } = [];

    /// <summary>Labels the image must not have.</summary>
    public IReadOnlyList<string> NotLabels { get; init; } = [];

    /// <summary>0-100; a label (or instance) below it does not count for the label filters.</summary>
    public double MinConfidence { get; init; }

    public string? Bucket { get; init; }

    /// <summary>Object key prefix (case-sensitive, as keys are).</summary>
    public string? Prefix { get; init; }

    /// <summary>One of <see cref="ImageStatus.All"/>.</summary>
    public string? Status { get; init; }

    /// <summary>Instance counts: <c>Person:2</c> is at least two Person boxes (a parent counts its descendants' boxes).</summary>
    public IReadOnlyList<LabelCount> Counts { get; init; } = [];

    /// <summary>
    /// 0-1: the image has an instance whose box covers at least this share of the image (width × height), among
    /// the instances of the filtered labels (Labels, AnyLabels, Counts), or any instance when there is no label filter.
    /// </summary>
    public double? MinArea { get; init; }

    /// <summary>The image has a label of this category (e.g. "Animals and Pets"), case-insensitive.</summary>
    public string? Category { get; init; }

    /// <summary>Simple colour names (red, blue, ...) that must each cover at least <see cref="MinColorPercent"/> of the image.</summary>
    public IReadOnlyList<string> Colors { get; init; } = [];

    public double MinColorPercent { get; init; } = DefaultMinColorPercent;

    /// <summary>Quality ranges (0-100), from the image properties.</summary>
    public double? MinBrightness { get; init; }

    public double? MaxBrightness { get; init; }

    public double? MinSharpness { get; init; }

    public double? MaxSharpness { get; init; }

    public double? MinContrast { get; init; }

    public double? MaxContrast { get; init; }

    /// <summary>
    /// Text read in the image: words (each must be on one line of it) or a "quoted phrase", case- and
    /// accent-insensitive, full-text search: <c>exit</c>, <c>take 7</c>, <c>"scene 42"</c>.
    /// </summary>
    public string? Text { get; init; }

    /// <summary>Exactly this many faces (0: pictures the face analysis found no face in).</summary>
    public int? Faces { get; init; }

    /// <summary>At least this many faces.</summary>
    public int? MinFaces { get; init; }

    /// <summary>At most this many faces (pictures the face analysis has not run on never match a face filter).</summary>
    public int? MaxFaces { get; init; }

    /// <summary>Shot size from the largest face: close-up, medium or wide (<see cref="LabelLens.Analysis.ShotSizes"/>).</summary>
    public string? Shot { get; init; }

    public ImageSort Sort { get; init; } = ImageSort.Time;

    /// <summary>1 to <see cref="MaxLimit"/>.</summary>
    public int Limit { get; init; } = DefaultLimit;

    /// <summary>The previous page's <see cref="ImagePage.NextCursor"/>, for the next page.</summary>
    public string? Cursor { get; init; }
}

/// <summary>Search terms as people type them, resolved to the labels the catalog stores.</summary>
public static class ImageQueryAliases
{
    /// <summary>
    /// Every label term of the query through <see cref="LabelTaxonomy.ResolveAlias"/>: label=Puppy searches Dog,
    /// label=Seashore Beach. A term that names a label (or is nobody's alias) is kept as typed.
    /// </summary>
    public static ImageQuery WithAliasesResolved(this ImageQuery query, LabelTaxonomy taxonomy)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(taxonomy);
        return query with
        {
            Labels = query.Labels.Select(taxonomy.ResolveAlias).ToList(),
            AnyLabels = query.AnyLabels.Select(taxonomy.ResolveAlias).ToList(),
            NotLabels = query.NotLabels.Select(taxonomy.ResolveAlias).ToList(),
            Counts = query.Counts.Select(c => c with { Label = taxonomy.ResolveAlias(c.Label) }).ToList(),
        };
    }
}

/// <summary>One page of search results; <paramref name="NextCursor"/> is null on the last page.</summary>
public sealed record ImagePage(IReadOnlyList<ImageDetails> Images, string? NextCursor);

/// <summary>A label and the number of distinct images that have it.</summary>
public sealed record LabelFacet(string Name, long Images);

/// <summary>A search the catalog refuses because of what was asked; <see cref="Code"/> is stable and machine-readable.</summary>
public sealed class InvalidQueryException : ArgumentException
{
    public InvalidQueryException(string code, string message)
        : base(message) => Code = code;

    public InvalidQueryException()
        : this("InvalidQuery", "The search is invalid.")
    {
    }

    public InvalidQueryException(string message)
        : this("InvalidQuery", message)
    {
    }

    public InvalidQueryException(string message, Exception innerException)
        : base(message, innerException) => Code = "InvalidQuery";

    public string Code { get; }
}

/// <summary>Which stretches of a video a search's face conditions found: the face spans where they all hold (what each provider's search matched the video by).</summary>
public static class VideoFaceSearch
{
    public static bool HasFaceConditions(ImageQuery query) =>
        query is { Faces: not null } or { MinFaces: not null } or { MaxFaces: not null } || !string.IsNullOrWhiteSpace(query?.Shot);

    /// <summary>The spans every face condition of <paramref name="query"/> holds on.</summary>
    public static IReadOnlyList<LabelLens.Video.FaceSpan> Matching(IReadOnlyList<LabelLens.Video.FaceSpan> spans, ImageQuery query)
    {
        ArgumentNullException.ThrowIfNull(spans);
        ArgumentNullException.ThrowIfNull(query);
        var shot = query.Shot?.Trim();
        return spans.Where(s =>
            (query.Faces is not { } exactly || s.Faces == exactly)
            && (query.MinFaces is not { } min || s.Faces >= min)
            && (query.MaxFaces is not { } max || s.Faces <= max)
            && (string.IsNullOrEmpty(shot) || string.Equals(s.ShotSize, shot, StringComparison.OrdinalIgnoreCase))).ToList();
    }
}
