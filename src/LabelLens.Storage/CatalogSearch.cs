using System.Buffers.Text;
using System.Globalization;
using System.Text;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Properties;

namespace LabelLens.Storage;

// What every catalog provider's search shares: the query checked and normalised, the cursor, the filters as SQL
// (standard SQL both SQLite and PostgreSQL run, the few differences in a SearchDialect), and the page.

/// <summary>An <see cref="ImageQuery"/> checked, trimmed and de-duplicated, with its cursor decoded.</summary>
internal sealed record NormalizedSearch(
    IReadOnlyList<string> Labels,
    IReadOnlyList<string> AnyLabels,
    IReadOnlyList<string> NotLabels,
    double MinConfidence,
    string? Bucket,
    string? Prefix,
    string? PrefixEnd,
    string? Status,
    IReadOnlyList<(string Label, int Minimum)> Counts,
    double? MinArea,
    string? Category,
    ImageSort Sort,
    int Limit,
    SearchCursor? Cursor,
    PropertyFilter Properties)
{
    /// <summary>The words and phrases of ImageQuery.Text (<see cref="TextSearch.Terms"/>), or null.</summary>
    public IReadOnlyList<string>? TextTerms { get; init; }

    public int? Faces { get; init; }

    public int? MinFaces { get; init; }

    public int? MaxFaces { get; init; }

    /// <summary>A shot size of ShotSizes.All, or null.</summary>
    public string? Shot { get; init; }

    /// <summary>Labels whose instances MinArea looks at.</summary>
    public List<string> AreaLabels { get; } =
        Labels.Concat(AnyLabels).Concat(Counts.Select(c => c.Label)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Only images with at least one label can match.</summary>
    public bool RequiresLabel => Labels.Count > 0 || AnyLabels.Count > 0 || Counts.Count > 0 || MinArea is not null || Category is not null;

    public static NormalizedSearch From(ImageQuery query)
    {
        if (!double.IsFinite(query.MinConfidence) || query.MinConfidence is < 0 or > 100)
        {
            throw new InvalidQueryException("InvalidConfidence", "minConfidence must be a number from 0 to 100.");
        }

        if (query.MinArea is { } area && (!double.IsFinite(area) || area is < 0 or > 1))
        {
            throw new InvalidQueryException("InvalidArea", "minArea must be a number from 0 to 1 (a share of the image).");
        }

        if (query.Limit is < 1 or > ImageQuery.MaxLimit)
        {
            throw new InvalidQueryException("InvalidLimit", $"limit must be between 1 and {ImageQuery.MaxLimit}.");
        }

        if (!Enum.IsDefined(query.Sort))
        {
            throw new InvalidQueryException("InvalidSort", "sort is time or confidence.");
        }

        var counts = new List<(string, int)>();
        foreach (var count in query.Counts ?? [])
        {
            ArgumentNullException.ThrowIfNull(count);
            if (count.Minimum is < 1 or > 1000)
            {
                throw new InvalidQueryException("InvalidCount", $"The instance count for '{count.Label}' must be between 1 and 1000.");
            }

            counts.Add((Name(count.Label, "count"), count.Minimum));
        }

        if (counts.Count > ImageQuery.MaxValues)
        {
            throw new InvalidQueryException("TooManyValues", $"count holds at most {ImageQuery.MaxValues} values.");
        }

        string? status = null;
        if (!string.IsNullOrEmpty(query.Status))
        {
            status = ImageStatus.All.FirstOrDefault(s => s.Equals(query.Status.Trim(), StringComparison.OrdinalIgnoreCase))
                ?? throw new InvalidQueryException("InvalidStatus", $"status is one of: {string.Join(", ", ImageStatus.All)}.");
        }

        string? prefix = null;
        if (!string.IsNullOrEmpty(query.Prefix))
        {
            prefix = query.Prefix;
            if (!IsWellFormed(prefix) || Encoding.UTF8.GetByteCount(prefix) > ObjectNames.MaxKeyBytes)
            {
                throw new InvalidQueryException("InvalidPrefix", $"prefix must be well-formed text of at most {ObjectNames.MaxKeyBytes} bytes.");
            }
        }

        string? bucket = null;
        if (!string.IsNullOrEmpty(query.Bucket))
        {
            bucket = query.Bucket.Trim();
            if (bucket.Length > 63 || bucket.Any(char.IsControl))
            {
                throw new InvalidQueryException("InvalidBucket", "bucket must be a bucket name (3 to 63 characters).");
            }
        }

        var category = string.IsNullOrWhiteSpace(query.Category) ? null : Name(query.Category, "category", "InvalidCategory");
        return new NormalizedSearch(
            Names(query.Labels, "label"),
            Names(query.AnyLabels, "anyLabel"),
            Names(query.NotLabels, "notLabel"),
            query.MinConfidence,
            bucket,
            prefix,
            prefix is null ? null : SearchSql.PrefixUpperBound(prefix),
            status,
            counts,
            query.MinArea,
            category,
            query.Sort,
            query.Limit,
            query.Cursor is null ? null : SearchCursor.Decode(query.Cursor, query.Sort),
            PropertyFilter.From(query))
        {
            TextTerms = TextSearch.Terms(query.Text),
            Faces = FaceCount(query.Faces, "faces"),
            MinFaces = FaceCount(query.MinFaces, "minFaces"),
            MaxFaces = FaceCount(query.MaxFaces, "maxFaces"),
            Shot = ShotSize(query.Shot),
        };
    }

    private static List<string> Names(IReadOnlyList<string>? names, string parameter)
    {
        var list = (names ?? []).Select(n => Name(n, parameter)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return list.Count <= ImageQuery.MaxValues
            ? list
            : throw new InvalidQueryException("TooManyValues", $"{parameter} holds at most {ImageQuery.MaxValues} values.");
    }

    private static string Name(string? name, string parameter, string code = "InvalidLabel")
    {
        var trimmed = name?.Trim();
        return string.IsNullOrEmpty(trimmed) || trimmed.Length > ImageQuery.MaxNameLength || trimmed.Any(char.IsControl) || trimmed.Contains('|', StringComparison.Ordinal)
            ? throw new InvalidQueryException(code, $"{parameter} must be a name of 1 to {ImageQuery.MaxNameLength} printable characters, without '|'.")
            : trimmed;
    }

    private static int? FaceCount(int? value, string parameter) =>
        value is null or (>= 0 and <= 10_000) ? value : throw new InvalidQueryException("InvalidFaces", $"{parameter} must be a whole number from 0 to 10000.");

    private static string? ShotSize(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : ShotSizes.All.FirstOrDefault(s => s.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidQueryException("InvalidShot", $"shot is one of {string.Join(", ", ShotSizes.All)} (from the largest face's height: close-up at least {ShotSizes.CloseUpMin:0.##} of the picture's, medium at least {ShotSizes.MediumMin:0.##}, wide below).");

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Where the next page starts: the sort key and id of the previous page's last image, base64url-encoded.</summary>
internal sealed record SearchCursor(ImageSort Sort, long Time, double Confidence, string Id)
{
    /// <summary>The cursor after <paramref name="last"/>: its sort key as the page's query read it (updated_at, or a label row's copy of it, for time), so the next page starts after it whichever it was.</summary>
    public static SearchCursor From(ImageSort sort, FoundImage last) =>
        new(sort, sort == ImageSort.Time ? (long)last.Score : 0, sort == ImageSort.Confidence ? last.Score : 0, last.Image.Id);

    public string Encode()
    {
        var key = Sort == ImageSort.Time ? "t" + Time.ToString(CultureInfo.InvariantCulture) : "c" + Confidence.ToString("R", CultureInfo.InvariantCulture);
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{key}:{Id}"));
    }

    public static SearchCursor Decode(string cursor, ImageSort sort)
    {
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException)
        {
            throw Invalid();
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 2 || text.Length - colon - 1 != 32 || !text[(colon + 1)..].All(char.IsAsciiHexDigitLower))
        {
            throw Invalid();
        }

        var id = text[(colon + 1)..];
        var key = text[1..colon];
        switch (text[0])
        {
            case 't' when sort == ImageSort.Time && long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var time):
                return new SearchCursor(sort, time, 0, id);
            case 'c' when sort == ImageSort.Confidence && double.TryParse(key, NumberStyles.Float, CultureInfo.InvariantCulture, out var confidence) && double.IsFinite(confidence):
                return new SearchCursor(sort, 0, confidence, id);
            case 't' or 'c':
                throw new InvalidQueryException("InvalidCursor", "The cursor belongs to a search with another sort order.");
            default:
                throw Invalid();
        }
    }

    private static InvalidQueryException Invalid() => new("InvalidCursor", "The cursor is not one this server issued.");
}

/// <summary>A found image with its sort key (updated_at, or the confidence score), before the page is cut.</summary>
internal sealed record FoundImage(ImageRecord Image, double Score);

/// <summary>
/// Query parameters named p0, p1... in the order they are added, written in the SQL with the provider's marker:
/// $p0 for SQLite (whose parameter names carry the marker too), @p0 for PostgreSQL (Npgsql's names do not).
/// </summary>
internal sealed class SqlParameters(char marker = '$')
{
    private readonly List<(string Name, object? Value)> _values = [];

    public string Add(object? value)
    {
        var name = "p" + _values.Count.ToString(CultureInfo.InvariantCulture);
        _values.Add((marker == '$' ? "$" + name : name, value));
        return marker + name;
    }

    public string List(IEnumerable<string> values) => string.Join(", ", values.Select(v => Add(v)));

    public (string Name, object? Value)[] ToArray() => [.. _values];
}

/// <summary>Colour and quality filters of a search, checked.</summary>
internal sealed record PropertyFilter(
    IReadOnlyList<string> Colors,
    double MinColorPercent,
    double? MinBrightness,
    double? MaxBrightness,
    double? MinSharpness,
    double? MaxSharpness,
    double? MinContrast,
    double? MaxContrast)
{
    public static PropertyFilter From(ImageQuery query)
    {
        var colors = new List<string>();
        foreach (var color in query.Colors)
        {
            colors.Add(NamedColors.CanonicalSimplified(color ?? "")
                ?? throw new InvalidQueryException("InvalidColor", $"color is one of: {string.Join(", ", NamedColors.Simplified)}."));
        }

        if (colors.Count > ImageQuery.MaxValues)
        {
            throw new InvalidQueryException("TooManyValues", $"color holds at most {ImageQuery.MaxValues} values.");
        }

        Percent(query.MinColorPercent, "minColorPercent");
        foreach (var (value, name) in new[]
        {
            (query.MinBrightness, "minBrightness"), (query.MaxBrightness, "maxBrightness"), (query.MinSharpness, "minSharpness"),
            (query.MaxSharpness, "maxSharpness"), (query.MinContrast, "minContrast"), (query.MaxContrast, "maxContrast"),
        })
        {
            if (value is { } v)
            {
                Percent(v, name);
            }
        }

        return new PropertyFilter(
            colors.Distinct().ToList(), query.MinColorPercent, query.MinBrightness, query.MaxBrightness, query.MinSharpness, query.MaxSharpness, query.MinContrast, query.MaxContrast);
    }

    public bool Any => Colors.Count > 0 || MinBrightness is not null || MaxBrightness is not null || MinSharpness is not null
        || MaxSharpness is not null || MinContrast is not null || MaxContrast is not null;

    private static void Percent(double value, string name)
    {
        if (!double.IsFinite(value) || value is < 0 or > 100)
        {
            throw new InvalidQueryException("InvalidProperty", $"{name} must be a number from 0 to 100.");
        }
    }
}

/// <summary>
/// Where the providers' SQL differs inside the shared filters. <paramref name="Unindexed"/> prefixes a column
/// the planner must not use an index for (SQLite's unary "+"; PostgreSQL costs its plans and needs no hint);
/// <paramref name="OrderedJoin"/> is an inner join with ON that keeps the written join order (SQLite's
/// CROSS JOIN; PostgreSQL's CROSS JOIN takes no ON, and its planner orders joins itself);
/// <paramref name="ContainsIgnoringCase"/> is a case-insensitive substring test of an expression and a text
/// parameter; <paramref name="TextFilter"/> is the full-text condition on image <c>i</c> for the typed terms.
/// <paramref name="ExistsOverUnion"/>: "one of two correlated subqueries has a row" is written as one EXISTS over
/// their UNION ALL instead of two EXISTS joined by OR. PostgreSQL turns an OR of correlated EXISTS into hashed
/// subplans that read the whole instances table per query (2.7 s at 1,000,000 images, against 90 ms probing per
/// image); SQLite probes per image either way, and keeps the shape its timings were taken with.
/// <paramref name="LimitEachArm"/>: each arm of a compound page carries the page's ORDER BY and LIMIT itself, so
/// PostgreSQL costs it as "the first rows" and walks the label index in order; without it, it joined every row of
/// both labels and sorted them (two labels sorted by confidence: 1-3.5 s at 1,000,000 images). SQLite merges the
/// ordered arms and stops at the page on its own.
/// </summary>
internal sealed record SearchDialect(
    string Unindexed,
    string OrderedJoin,
    Func<string, string, string> ContainsIgnoringCase,
    Func<SqlParameters, IReadOnlyList<string>, string> TextFilter,
    bool ExistsOverUnion = false,
    bool LimitEachArm = false);

/// <summary>The search filters and keysets as SQL conditions on the image row aliased <c>i</c>, for every provider.</summary>
internal static class SearchSql
{
    public static string TimeKeyset(SqlParameters sql, NormalizedSearch search) =>
        search.Cursor is { } cursor ? $" AND (i.updated_at, i.id) < ({sql.Add(cursor.Time)}, {sql.Add(cursor.Id)})" : "";

    public static string ConfidenceKeyset(SqlParameters sql, NormalizedSearch search, string score, string id)
    {
        if (search.Cursor is not { } cursor)
        {
            return "";
        }

        var value = sql.Add(cursor.Confidence);
        return $" AND {score} <= {value} AND ({score} < {value} OR {id} > {sql.Add(cursor.Id)})";
    }

    /// <summary>Every filter, as conditions on the image row aliased <c>i</c>.</summary>
    /// <param name="drivenLabel">A label the caller's FROM already restricts to (its images all have it): not tested again.</param>
    public static string Filters(SqlParameters sql, NormalizedSearch search, SearchDialect dialect, string? drivenLabel = null)
    {
        var where = new StringBuilder();
        var min = sql.Add(search.MinConfidence);
        var plus = dialect.Unindexed;
        foreach (var label in RequiredLabels(search))
        {
            if (drivenLabel is not null && drivenLabel.Equals(label, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name = {sql.Add(label)} AND {plus}f.confidence >= {min} LIMIT 1)");
        }

        if (search.AnyLabels.Count > 0)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name IN ({sql.List(search.AnyLabels)}) AND {plus}f.confidence >= {min} LIMIT 1)");
        }

        if (search.NotLabels.Count > 0)
        {
            where.Append($" AND NOT EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name IN ({sql.List(search.NotLabels)}) AND {plus}f.confidence >= {min} LIMIT 1)");
        }

        foreach (var condition in PlaceConditions(sql, search))
        {
            where.Append($" AND {condition}");
        }

        if (search.Status is { } status)
        {
            where.Append($" AND i.status = {sql.Add(status)}");
        }

        foreach (var (label, minimum) in search.Counts)
        {
            where.Append($" AND {CountInstances(sql, [label], min, "", dialect)} >= {sql.Add(minimum)}");
        }

        if (search.MinArea is { } area)
        {
            var large = $" AND n.box_width * n.box_height >= {sql.Add(area)}";
            where.Append(search.AreaLabels.Count > 0
                ? $" AND {HasInstance(sql, search.AreaLabels, min, large, dialect)}"
                : $" AND EXISTS (SELECT 1 FROM instances n WHERE n.image_id = i.id AND n.confidence >= {min}{large})");
        }

        where.Append(PropertyFilters(sql, search.Properties));
        if (search.Category is { } category)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.confidence >= {min} AND {dialect.ContainsIgnoringCase("'|' || f.categories || '|'", sql.Add($"|{category}|"))} LIMIT 1)");
        }

        if (search.TextTerms is { } terms)
        {
            where.Append(dialect.TextFilter(sql, terms));
        }

        where.Append(FaceFilters(sql, search));
        return where.ToString();
    }

    /// <summary>
    /// The UPDATE that sets the search keys of label rows (<paramref name="where"/>: which, or "" for all): image_time,
    /// the image's updated_at; boxes, the image's boxes of the label or of a label that has it as a parent (what
    /// <see cref="CountInstances"/> counts at confidence 0, so never fewer than it counts at any confidence). Run
    /// after every write of an image's labels or boxes.
    /// </summary>
    public static string LabelSearchKeys(SearchDialect dialect, string where) =>
        $"""
        UPDATE labels SET
            image_time = (SELECT i.updated_at FROM images i WHERE i.id = labels.image_id),
            boxes = (SELECT COUNT(*) FROM instances n WHERE n.image_id = labels.image_id AND n.name = labels.name)
                + (SELECT COUNT(*) FROM labels p {dialect.OrderedJoin} instances n ON n.image_id = p.image_id AND n.name = p.name
                   WHERE p.image_id = labels.image_id AND p.parents <> '' AND {dialect.ContainsIgnoringCase("'|' || p.parents || '|'", "('|' || labels.name || '|')")})
        {where}
        """;

    /// <summary>
    /// Newest first among the images with <paramref name="label"/> (the search's rarest required label), walking that
    /// label's rows in labels_by_time order (name, image_time DESC, image_id DESC) from <paramref name="from"/> (label
    /// rows <c>d</c> joined to their images <c>i</c>): the page's images are the label's newest, and the other filters
    /// apply to them only. A count= of that label first checks the boxes upper bound kept on the row.
    /// </summary>
    public static string LabelTimePage(SqlParameters sql, NormalizedSearch search, SearchDialect dialect, string imageColumns, string from, string label, string score)
    {
        var boxes = search.Counts.Where(c => c.Label.Equals(label, StringComparison.OrdinalIgnoreCase)).Select(c => c.Minimum).DefaultIfEmpty(0).Max();
        var where = $"d.name = {sql.Add(label)} AND d.confidence >= {sql.Add(search.MinConfidence)}";
        if (boxes > 0)
        {
            where += $" AND d.boxes >= {sql.Add(boxes)}";
        }

        if (search.Cursor is { } cursor)
        {
            where += $" AND (d.image_time, d.image_id) < ({sql.Add(cursor.Time)}, {sql.Add(cursor.Id)})";
        }

        return $"""
            SELECT {imageColumns}, {score} FROM {from}
            WHERE {where}{Filters(sql, search, dialect, label)}
            ORDER BY d.image_time DESC, d.image_id DESC LIMIT {sql.Add(search.Limit + 1)}
            """;
    }

    /// <summary>The labels a search requires (label= and count=), whose rows a time-ordered page can walk.</summary>
    public static List<string> RequiredLabels(NormalizedSearch search) =>
        search.Labels.Concat(search.Counts.Select(c => c.Label)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>The query for how many images have each of <paramref name="labels"/> (label_counts, which triggers keep exact).</summary>
    public static string LabelImageCounts(SqlParameters sql, IReadOnlyList<string> labels) =>
        $"SELECT name, images FROM label_counts WHERE name IN ({sql.List(labels)})";

    /// <summary>The label with the fewest images (a label with none: no row in <paramref name="counts"/>, counted 0).</summary>
    public static string RarestLabel(IReadOnlyList<string> labels, IReadOnlyCollection<(string Name, long Images)> counts) =>
        labels.MinBy(l => counts.Where(c => c.Name.Equals(l, StringComparison.OrdinalIgnoreCase)).Select(c => c.Images).DefaultIfEmpty(0).Max())!;

    /// <summary>The bucket and key prefix conditions on image <c>i</c> (a key range: the prefix and its upper bound); none without either.</summary>
    public static List<string> PlaceConditions(SqlParameters sql, NormalizedSearch search)
    {
        var conditions = new List<string>();
        if (search.Bucket is { } bucket)
        {
            conditions.Add($"i.bucket = {sql.Add(bucket)}");
        }

        if (search.Prefix is { } prefix)
        {
            conditions.Add($"i.key >= {sql.Add(prefix)}");
            if (search.PrefixEnd is { } end)
            {
                conditions.Add($"i.key < {sql.Add(end)}");
            }
        }

        return conditions;
    }

    /// <summary>
    /// A page sorted by the best confidence among the search's labels, as one compound SELECT ordered by (score, id):
    /// arm k yields the images whose best label of the filter is the k-th (a tie goes to the earlier label), from
    /// <paramref name="from"/> (that label's rows <c>d</c> joined to their images <c>i</c>), so no image comes twice
    /// and each arm is in its label index's order: the database merges the arms and stops at the page.
    /// </summary>
    public static string BestLabelPage(SqlParameters sql, NormalizedSearch search, SearchDialect dialect, string imageColumns, string from)
    {
        var min = sql.Add(search.MinConfidence);
        var filters = Filters(sql, search, dialect);
        var keyset = ConfidenceKeyset(sql, search, "d.confidence", "d.image_id");
        var arms = new List<string>();
        for (var index = 0; index < search.Labels.Count; index++)
        {
            var best = new List<string>();
            if (index > 0)
            {
                best.Add($"(o.name IN ({sql.List(search.Labels.Take(index))}) AND o.confidence >= d.confidence)");
            }

            if (index < search.Labels.Count - 1)
            {
                best.Add($"(o.name IN ({sql.List(search.Labels.Skip(index + 1))}) AND o.confidence > d.confidence)");
            }

            var onlyBest = best.Count == 0 ? "" : $" AND NOT EXISTS (SELECT 1 FROM labels o WHERE o.image_id = d.image_id AND ({string.Join(" OR ", best)}))";
            arms.Add($"""
                SELECT {imageColumns}, d.confidence AS score
                FROM {from}
                WHERE d.name = {sql.Add(search.Labels[index])} AND d.confidence >= {min}{keyset}{onlyBest}{filters}
                """);
        }

        var limit = sql.Add(search.Limit + 1);
        const string Order = "ORDER BY score DESC, id ASC";
        if (dialect.LimitEachArm)
        {
            arms = arms.Select((arm, index) => $"(SELECT * FROM ({arm} {Order} LIMIT {limit}) arm{index})").ToList();
        }

        return $"{string.Join("\nUNION ALL\n", arms)}\n{Order} LIMIT {limit}";
    }

    /// <summary>
    /// The number of the image's instances (at or above MinConfidence, meeting <paramref name="condition"/>) of one
    /// of <paramref name="labels"/>: named so (through the (image_id, name) index), or of a label that has one of
    /// them as a parent (a Dog box is an Animal box; the image's few label rows are scanned for the parent).
    /// </summary>
    private static string CountInstances(SqlParameters sql, IReadOnlyCollection<string> labels, string min, string condition, SearchDialect dialect) =>
        $"((SELECT COUNT(*) FROM instances n WHERE n.image_id = i.id AND {Instances(sql, labels, min, condition, dialect, "COUNT(*)", " + ")}";

    /// <summary><see cref="CountInstances"/> &gt; 0, stopping at the first instance found.</summary>
    private static string HasInstance(SqlParameters sql, IReadOnlyCollection<string> labels, string min, string condition, SearchDialect dialect) =>
        dialect.ExistsOverUnion
            ? $"EXISTS ((SELECT 1 FROM instances n WHERE n.image_id = i.id AND {Instances(sql, labels, min, condition, dialect, "1", " UNION ALL ")}"
            : $"(EXISTS (SELECT 1 FROM instances n WHERE n.image_id = i.id AND {Instances(sql, labels, min, condition, dialect, "1", " OR EXISTS ")}";

    /// <summary>The rest of <see cref="CountInstances"/> and <see cref="HasInstance"/> after their first subquery's FROM: named instances, then the descendants' ones.</summary>
    private static string Instances(SqlParameters sql, IReadOnlyCollection<string> labels, string min, string condition, SearchDialect dialect, string select, string join)
    {
        var plus = dialect.Unindexed;
        var named = $"n.name IN ({sql.List(labels)}) AND {plus}n.confidence >= {min}{condition})";
        var parents = string.Join(" OR ", labels.Select(l => dialect.ContainsIgnoringCase("'|' || p.parents || '|'", sql.Add($"|{l}|"))));
        return $"""
            {named}
             {join.Trim()} (SELECT {select} FROM labels p {dialect.OrderedJoin} instances n ON n.image_id = p.image_id AND n.name = p.name
                WHERE p.image_id = i.id AND p.parents <> '' AND ({parents}) AND {plus}n.confidence >= {min}{condition}))
            """;
    }

    /// <summary>The SQL for the colour and quality filters of a search (empty when there are none).</summary>
    public static string PropertyFilters(SqlParameters sql, PropertyFilter filter)
    {
        var where = new StringBuilder();
        foreach (var color in filter.Colors)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM image_colors c WHERE c.image_id = i.id AND c.color = {sql.Add(color)} AND c.pixel_percent >= {sql.Add(filter.MinColorPercent)})");
        }

        var quality = new List<string>();
        void Range(string column, double? min, double? max)
        {
            if (min is { } low)
            {
                quality.Add($"q.{column} >= {sql.Add(low)}");
            }

            if (max is { } high)
            {
                quality.Add($"q.{column} <= {sql.Add(high)}");
            }
        }

        Range("brightness", filter.MinBrightness, filter.MaxBrightness);
        Range("sharpness", filter.MinSharpness, filter.MaxSharpness);
        Range("contrast", filter.MinContrast, filter.MaxContrast);
        if (quality.Count > 0)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM image_properties q WHERE q.image_id = i.id AND {string.Join(" AND ", quality)})");
        }

        return where.ToString();
    }

    /// <summary>
    /// The search conditions for face counts and shot size: on the image row <c>i</c> for a picture; for a video, on
    /// one of its face spans (<c>video_face_spans</c>), so every condition holds at the same time of the video.
    /// </summary>
    public static string FaceFilters(SqlParameters sql, NormalizedSearch search)
    {
        var picture = new StringBuilder();
        var span = new StringBuilder();
        void Both(string pictureColumn, string spanColumn, string comparison, object value)
        {
            var parameter = sql.Add(value);
            picture.Append($" AND i.{pictureColumn} {comparison} {parameter}");
            span.Append($" AND s.{spanColumn} {comparison} {parameter}");
        }

        if (search.Faces is { } exactly)
        {
            Both("face_count", "faces", "=", exactly);
        }

        if (search.MinFaces is { } min)
        {
            Both("face_count", "faces", ">=", min);
        }

        if (search.MaxFaces is { } max)
        {
            Both("face_count", "faces", "<=", max);
        }

        if (search.Shot is { } shot)
        {
            var (low, high) = ShotSizes.Range(shot);
            picture.Append($" AND i.face_height >= {sql.Add(low)} AND i.face_height < {sql.Add(high)}");
            span.Append($" AND s.shot = {sql.Add(shot)}");
        }

        return picture.Length == 0
            ? ""
            : $" AND ((i.media_type <> 'video'{picture}) OR (i.media_type = 'video' AND EXISTS (SELECT 1 FROM video_face_spans s WHERE s.image_id = i.id{span})))";
    }

    /// <summary>The LIKE pattern (escape character '\') of a facet prefix, after checking the facet request.</summary>
    public static string FacetPattern(string? prefix, int limit)
    {
        if (limit is < 1 or > ImageQuery.MaxLimit)
        {
            throw new InvalidQueryException("InvalidLimit", $"limit must be between 1 and {ImageQuery.MaxLimit}.");
        }

        prefix ??= "";
        if (prefix.Length > ImageQuery.MaxNameLength)
        {
            throw new InvalidQueryException("InvalidPrefix", $"A label prefix is at most {ImageQuery.MaxNameLength} characters.");
        }

        return EscapeLike(prefix) + "%";
    }

    /// <summary>
    /// Cuts the page from what the search found (one row more than the limit, when there is more): the page's
    /// rows and the cursor of the next page, or null on the last page.
    /// </summary>
    public static (List<FoundImage> Rows, string? Next) Cut(NormalizedSearch search, List<FoundImage> rows)
    {
        if (rows.Count <= search.Limit)
        {
            return (rows, null);
        }

        rows.RemoveRange(search.Limit, rows.Count - search.Limit);
        return (rows, SearchCursor.From(search.Sort, rows[^1]).Encode());
    }

    /// <summary>The page of images with their labels and properties.</summary>
    public static ImagePage Page(List<FoundImage> rows, string? next, Dictionary<string, List<StoredLabel>> labels, Dictionary<string, ImageProperties> properties) =>
        new(rows.Select(r => new ImageDetails(r.Image, labels.GetValueOrDefault(r.Image.Id) ?? []) { Properties = properties.GetValueOrDefault(r.Image.Id) }).ToList(), next);

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    /// <summary>
    /// The smallest string greater than every string starting with <paramref name="prefix"/> in code-point
    /// (UTF-8 byte) order, SQLite's BINARY order: the last code point that can be incremented, incremented, with
    /// what follows dropped. Null when there is none (only U+10FFFF), so only the lower bound applies.
    /// </summary>
    internal static string? PrefixUpperBound(string prefix)
    {
        var runes = prefix.EnumerateRunes().ToList();
        for (var i = runes.Count - 1; i >= 0; i--)
        {
            var value = runes[i].Value;
            if (value == 0x10FFFF)
            {
                continue;
            }

            var builder = new StringBuilder();
            foreach (var rune in runes.Take(i))
            {
                builder.Append(rune.ToString());
            }

            return builder.Append(new Rune(value + 1 == 0xD800 ? 0xE000 : value + 1).ToString()).ToString();
        }

        return null;
    }
}

/// <summary>Text search as people type it, the same in every provider.</summary>
internal static class TextSearch
{
    /// <summary>
    /// The terms of what a person typed: each "quoted phrase" and each bare word (all required, each a phrase of
    /// its words in order, on one line). Null when nothing was typed.
    /// </summary>
    /// <exception cref="InvalidQueryException">Too long, control characters, or no letter or digit to search for.</exception>
    public static IReadOnlyList<string>? Terms(string? typed)
    {
        if (string.IsNullOrWhiteSpace(typed))
        {
            return null;
        }

        if (typed.Length > ImageQuery.MaxNameLength || typed.Any(char.IsControl))
        {
            throw new InvalidQueryException("InvalidText", $"text must be 1 to {ImageQuery.MaxNameLength} printable characters: words, or a \"quoted phrase\".");
        }

        var terms = new List<string>();
        var parts = typed.Split('"');
        for (var i = 0; i < parts.Length; i++)
        {
            // Odd parts were inside quotes (an unclosed quote runs to the end).
            var words = i % 2 == 1 ? [parts[i].Trim()] : parts[i].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            terms.AddRange(words.Where(w => w.Any(char.IsLetterOrDigit)));
        }

        return terms.Count == 0 ? throw new InvalidQueryException("InvalidText", "text has no letters or digits to search for.") : terms;
    }
}

/// <summary>The results table's label index as SQL conditions on the label row <c>l</c>, for every provider.</summary>
internal static class LabelIndexSql
{
    /// <summary>
    /// The confidence range and the keyset position as conditions, and the order: the label index's own
    /// (confidence DESC, image_id ASC), walked forwards or backwards, so no sort step.
    /// </summary>
    public static (List<string> Where, string Order) Range(SqlParameters sql, ConfidenceRange range, bool ascending, LabelIndexPosition? after)
    {
        var where = new List<string>();
        if (range.Min is { } min)
        {
            where.Add($"l.confidence {(range.MinInclusive ? ">=" : ">")} {sql.Add(min)}");
        }

        if (range.Max is { } max)
        {
            where.Add($"l.confidence {(range.MaxInclusive ? "<=" : "<")} {sql.Add(max)}");
        }

        if (after is not null)
        {
            // The inclusive bound is what the index seeks to; the OR drops the ties already returned.
            var confidence = sql.Add(after.Confidence);
            var id = sql.Add(after.ImageId);
            where.Add(ascending
                ? $"l.confidence >= {confidence} AND (l.confidence > {confidence} OR l.image_id < {id})"
                : $"l.confidence <= {confidence} AND (l.confidence < {confidence} OR l.image_id > {id})");
        }

        return (where, ascending ? "l.confidence ASC, l.image_id DESC" : "l.confidence DESC, l.image_id ASC");
    }
}
