using LabelLens.Analysis;
using LabelLens.Video;

namespace LabelLens.Storage;

/// <summary>
/// The catalog read as one table of results (what the DynamoDB-compatible API serves): one row per image or
/// video, found by its object key, in pages of a stable order, and a label index ordered by confidence. Every
/// page is keyset-based: the caller passes where the previous page ended.
/// </summary>
public interface IResultsTable
{
    /// <summary>
    /// The image a bare object key names: among the images with this key (one per bucket holding it), the
    /// first cataloged (creation time, then bucket name). Null when no bucket holds the key.
    /// </summary>
    Task<string?> FindKeyOwnerAsync(string key, CancellationToken cancellationToken);

    /// <summary>The rows of these images, in no particular order; unknown ids are left out.</summary>
    Task<IReadOnlyList<ResultRow>> GetResultRowsAsync(IReadOnlyCollection<string> imageIds, CancellationToken cancellationToken);

    /// <summary>
    /// Rows in image id order, after <paramref name="afterId"/> (null: from the start), of one of
    /// <paramref name="totalSegments"/> even parts of the table (<see cref="TableSegments"/>); at most
    /// <paramref name="limit"/> rows.
    /// </summary>
    Task<IReadOnlyList<ResultRow>> ScanResultRowsAsync(string? afterId, int segment, int totalSegments, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The images having <paramref name="label"/> (the exact name, case-sensitive), by that label's confidence:
    /// ascending or descending, ties in a stable order, within <paramref name="range"/>, after
    /// <paramref name="after"/> (the last entry of the previous page). At most <paramref name="limit"/> entries.
    /// </summary>
    Task<IReadOnlyList<LabelIndexEntry>> QueryLabelIndexAsync(string label, ConfidenceRange range, bool ascending, LabelIndexPosition? after, int limit, CancellationToken cancellationToken);

    /// <summary>How many rows the table and the label index have (for DescribeTable), and since when the catalog records.</summary>
    Task<ResultsTableCounts> CountResultsAsync(CancellationToken cancellationToken);
}

/// <summary>One image or video as a row of the results table.</summary>
/// <param name="MediaType"><see cref="MediaTypes.Image"/> or <see cref="MediaTypes.Video"/>.</param>
/// <param name="OwnsKey">True when this is the image its bare key names (<see cref="IResultsTable.FindKeyOwnerAsync"/>).</param>
/// <param name="Labels">Highest confidence first.</param>
/// <param name="Segments">A video's segments by start time; empty for images.</param>
public sealed record ResultRow(ImageRecord Image, string MediaType, bool OwnsKey, IReadOnlyList<StoredLabel> Labels, IReadOnlyList<LabelSegment> Segments)
{
    /// <summary>The text lines read (a video's occurrences in time order); null when the text analysis has not run on it.</summary>
    public IReadOnlyList<TextLine>? Text { get; init; }

    /// <summary>The faces found, with the count and shot size; null when the face analysis has not run on it.</summary>
    public FaceSummary? Faces { get; init; }
}

/// <summary>An entry of the label index: an image having the label, with the label's confidence on it.</summary>
public sealed record LabelIndexEntry(string Label, double Confidence, ResultRow Row);

/// <summary>Where a page of the label index starts (exclusive): the last entry of the previous page.</summary>
public sealed record LabelIndexPosition(double Confidence, string ImageId);

/// <summary>Bounds on a label's confidence; a null end is open.</summary>
public sealed record ConfidenceRange(double? Min = null, bool MinInclusive = true, double? Max = null, bool MaxInclusive = true)
{
    public static readonly ConfidenceRange All = new();
}

/// <summary>Rows of the results table and entries of its label index; <paramref name="Since"/> is the catalog's first recorded event.</summary>
public sealed record ResultsTableCounts(long Rows, long LabelEntries, DateTimeOffset? Since);

/// <summary>
/// Even parts of the results table for parallel scans. Image ids are the hex of a SHA-256 prefix
/// (<see cref="ImageIds"/>), uniform over their range in every provider, so part i of n is the ids from
/// i/n to (i+1)/n of that range.
/// </summary>
public static class TableSegments
{
    /// <summary>The first id of the part (a prefix of 16 hex digits) and the first id after it (null for the last part).</summary>
    public static (string From, string? To) Range(int segment, int totalSegments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSegments, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(segment, totalSegments);
        return (Start(segment, totalSegments), segment + 1 == totalSegments ? null : Start(segment + 1, totalSegments));
    }

    /// <summary>The part an id belongs to.</summary>
    public static int Of(string imageId, int totalSegments)
    {
        ArgumentNullException.ThrowIfNull(imageId);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSegments, 1);
        var prefix = imageId.Length >= 16 && ulong.TryParse(imageId.AsSpan(0, 16), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
        // The largest part whose start is at or below the id (starts are floors, so this is at most one off).
        var segment = (int)(((UInt128)prefix * (ulong)totalSegments) >> 64);
        while (segment + 1 < totalSegments && string.CompareOrdinal(Start(segment + 1, totalSegments), imageId) <= 0)
        {
            segment++;
        }

        while (segment > 0 && string.CompareOrdinal(Start(segment, totalSegments), imageId) > 0)
        {
            segment--;
        }

        return segment;
    }

    private static string Start(int segment, int totalSegments) =>
        ((ulong)(((UInt128)(ulong)segment << 64) / (ulong)totalSegments)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
