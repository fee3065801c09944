using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;

[assembly: InternalsVisibleTo("LabelLens.Tests")]
[assembly: InternalsVisibleTo("LabelLens.SearchBench")]
[assembly: InternalsVisibleTo("LabelLens.Storage.Postgres")]

namespace LabelLens.Storage;

/// <summary>
/// Search and label facets.
/// <para>
/// Pagination is keyset-based: the cursor holds the sort key (time or score) and id of the last image of the
/// page, and the next page starts strictly after it in the one total order (sort key, then id), so pages never
/// overlap and new uploads (which sort first by time) never shift later pages.
/// </para>
/// <para>
/// A page is found in one of two ways. When one filter is selective (a label, a bucket or key prefix, a status
/// matching few images; counted with a capped index scan), its images are read, the other filters applied,
/// and the page picked from them. Otherwise the images are walked in sort order through an index (the time
/// index, or a label's confidence index) and the filters applied until the page is full, which is cheap exactly
/// because the filters match many images. Both give the same pages.
/// </para>
/// </summary>
public sealed partial class SqliteCatalog
{
    private const double NoLabelScore = -1;

    private const long SearchMmapBytes = 1L << 30;

    private static readonly string ImageColumnsOfI = string.Join(", ", ImageColumns.Split(", ").Select(c => "i." + c));

    private static readonly string ImageColumnsOfD = "d.image_id AS id, " + string.Join(", ", ImageColumns.Split(", ").Skip(1).Select(c => "i." + c));

    private static readonly int ImageColumnCount = ImageColumns.Split(", ").Length;

    /// <summary>
    /// Tests and the benchmark force a strategy: 0 always walks in sort order, int.MaxValue always starts from
    /// the most selective filter. Null picks by selectivity.
    /// </summary>
    internal int? SearchDriverThreshold { get; set; }

    /// <summary>Sees every search statement with its parameters before it runs (the benchmark prints their query plans).</summary>
    internal Action<SqliteConnection, string, (string Name, object? Value)[]>? SearchStatementObserver { get; set; }

    /// <summary>Searches the catalog: one page of images with their labels, and the cursor of the next page.</summary>
    /// <exception cref="InvalidQueryException">A value is out of range or the cursor is not one of this sort's.</exception>
    public async Task<ImagePage> SearchAsync(ImageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var search = NormalizedSearch.From(query);
        await using var connection = Open();
        // Searches probe the catalog at random; reading pages through a memory map instead of read() calls into
        // SQLite's small page cache makes those probes 3-4x cheaper once the catalog outgrows the cache.
        Execute(connection, null, $"PRAGMA mmap_size = {SearchMmapBytes}");
        var rows = await FindAsync(connection, search, cancellationToken);
        var more = rows.Count > search.Limit;
        if (more)
        {
            rows.RemoveRange(search.Limit, rows.Count - search.Limit);
        }

        var ids = rows.Select(r => r.Image.Id).ToList();
        var labels = await ReadLabelsAsync(connection, ids, cancellationToken);
        var properties = await ReadPropertiesAsync(connection, ids, cancellationToken);
        var images = rows.Select(r => new ImageDetails(r.Image, labels.GetValueOrDefault(r.Image.Id) ?? []) { Properties = properties.GetValueOrDefault(r.Image.Id) }).ToList();
        var next = more ? SearchCursor.From(search.Sort, rows[^1]).Encode() : null;
        return new ImagePage(images, next);
    }

    /// <summary>Label names with the number of images having each, most common first; for facets and autocomplete.</summary>
    public Task<IReadOnlyList<LabelFacet>> LabelFacetsAsync(string? prefix, int limit, CancellationToken cancellationToken) =>
        LabelFacetsAsync(prefix, limit, labeledOnly: false, cancellationToken);

    /// <summary>
    /// Label names with the number of images having each (only images with status labeled when
    /// <paramref name="labeledOnly"/>), most common first, optionally only names starting with
    /// <paramref name="prefix"/> (case-insensitive). Read from counts the catalog keeps up to date on every write.
    /// </summary>
    public async Task<IReadOnlyList<LabelFacet>> LabelFacetsAsync(string? prefix, int limit, bool labeledOnly, CancellationToken cancellationToken)
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

        var column = labeledOnly ? "labeled" : "images";
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            $"SELECT name, {column} FROM label_counts WHERE {column} > 0 AND name LIKE $prefix ESCAPE '\\' ORDER BY {column} DESC, name LIMIT $limit",
            ("$prefix", EscapeLike(prefix) + "%"), ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var facets = new List<LabelFacet>();
        while (await reader.ReadAsync(cancellationToken))
        {
            facets.Add(new LabelFacet(reader.GetString(0), reader.GetInt64(1)));
        }

        return facets;
    }

    private async Task<List<FoundImage>> FindAsync(SqliteConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var driver = await ChooseDriverAsync(connection, search, cancellationToken);
        if (driver is not null)
        {
            return await FindFromDriverAsync(connection, search, driver, cancellationToken);
        }

        if (search.Sort == ImageSort.Time)
        {
            return await FindByTimeAsync(connection, search, cancellationToken);
        }

        return search.Labels.Count > 0
            ? await FindByLabelConfidenceAsync(connection, search, cancellationToken)
            : await FindByBestConfidenceAsync(connection, search, cancellationToken);
    }

    /// <summary>The filter matching the fewest images, when it matches few enough to start from.</summary>
    private async Task<Driver?> ChooseDriverAsync(SqliteConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        // Walking in sort order reads about (limit + 1) * total / N images for a filter matching N of them,
        // each a cheap index probe; starting from the filter reads its N rows at about 4 times the cost each.
        // The walk is the better choice while N^2 > (limit + 1) * total / 4.
        var candidates = Driver.Candidates(search).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        long threshold;
        if (SearchDriverThreshold is { } forced)
        {
            threshold = forced;
        }
        else
        {
            await using var command = Command(connection, null, "SELECT COALESCE(MAX(rowid), 0) FROM images");
            var total = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            threshold = (long)Math.Max(100, 0.5 * Math.Sqrt((search.Limit + 1.0) * total));
        }

        Driver? best = null;
        foreach (var candidate in candidates)
        {
            if (threshold <= 0)
            {
                break;
            }

            // Counting stops at the cap: only "fewer than the best so far" matters.
            var cap = threshold >= int.MaxValue ? threshold : threshold * candidate.RowsPerCost;
            var sql = new SqlParameters();
            await using var command = Command(connection, null, candidate.CountSql(sql, search, cap), sql.ToArray());
            var cost = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) / candidate.RowsPerCost;
            if (cost < threshold)
            {
                best = candidate;
                threshold = cost;
            }
        }

        return best;
    }

    /// <summary>Newest first, walking the time index; for filters that match many images.</summary>
    private async Task<List<FoundImage>> FindByTimeAsync(SqliteConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var sql = new SqlParameters();
        var text = $"""
            SELECT {ImageColumnsOfI}, i.updated_at FROM images i INDEXED BY images_updated
            WHERE 1 = 1{Filters(sql, search)}{TimeKeyset(sql, search)}
            ORDER BY i.updated_at DESC, i.id DESC LIMIT {sql.Add(search.Limit + 1)}
            """;
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>
    /// Highest confidence among the label filter first. One label's images come in confidence order from its
    /// index; for several labels, each image is taken from the index of its best label only, and the ordered
    /// streams are merged (a compound SELECT with ORDER BY is a merge in SQLite), so the walk stops at the page.
    /// </summary>
    private async Task<List<FoundImage>> FindByLabelConfidenceAsync(SqliteConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var sql = new SqlParameters();
        var min = sql.Add(search.MinConfidence);
        var filters = Filters(sql, search);
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
                SELECT {ImageColumnsOfD}, d.confidence AS score
                FROM labels d INDEXED BY labels_by_name CROSS JOIN images i ON i.id = d.image_id
                WHERE d.name = {sql.Add(search.Labels[index])} AND d.confidence >= {min}{keyset}{onlyBest}{filters}
                """);
        }

        var text = $"{string.Join("\nUNION ALL\n", arms)}\nORDER BY score DESC, id ASC LIMIT {sql.Add(search.Limit + 1)}";
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>
    /// Highest best-label confidence first: each image's best label row (ties broken by name) from the confidence
    /// index; then the images with no label at all, by id, when the query lets such images match.
    /// </summary>
    private async Task<List<FoundImage>> FindByBestConfidenceAsync(SqliteConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var found = new List<FoundImage>();
        if (search.Cursor is not { Confidence: < 0 })
        {
            var sql = new SqlParameters();
            var text = $"""
                SELECT {ImageColumnsOfD}, d.confidence AS score
                FROM labels d INDEXED BY labels_by_confidence CROSS JOIN images i ON i.id = d.image_id
                WHERE NOT EXISTS (SELECT 1 FROM labels o WHERE o.image_id = d.image_id AND (o.confidence > d.confidence OR (o.confidence = d.confidence AND o.name < d.name)))
                {ConfidenceKeyset(sql, search, "d.confidence", "d.image_id")}{Filters(sql, search)}
                ORDER BY score DESC, id ASC LIMIT {sql.Add(search.Limit + 1)}
                """;
            found = await ReadFoundAsync(connection, text, sql, cancellationToken);
        }

        if (found.Count <= search.Limit && !search.RequiresLabel)
        {
            var sql = new SqlParameters();
            var after = search.Cursor is { Confidence: < 0 } cursor ? $" AND i.id > {sql.Add(cursor.Id)}" : "";
            var text = $"""
                SELECT {ImageColumnsOfI}, {NoLabelScore.ToString(CultureInfo.InvariantCulture)} FROM images i
                WHERE NOT EXISTS (SELECT 1 FROM labels u WHERE u.image_id = i.id){after}{Filters(sql, search)}
                ORDER BY i.id LIMIT {sql.Add(search.Limit + 1 - found.Count)}
                """;
            found.AddRange(await ReadFoundAsync(connection, text, sql, cancellationToken));
        }

        return found;
    }

    /// <summary>
    /// Starts from the images of the most selective filter, applies the others and sorts what is left by
    /// (sort key, id) only; the page's rows are read afterwards, so the sort never carries whole image rows.
    /// </summary>
    private async Task<List<FoundImage>> FindFromDriverAsync(SqliteConnection connection, NormalizedSearch search, Driver driver, CancellationToken cancellationToken)
    {
        var sql = new SqlParameters();
        var source = driver.FromSql(sql, search);
        string page;
        if (search.Sort == ImageSort.Time)
        {
            // "+" keeps SQLite from walking the time index instead of the driver's.
            page = $"""
                SELECT i.rowid AS r, i.updated_at AS score, i.id AS id FROM {source}{Filters(sql, search, driver)}{TimeKeyset(sql, search)}
                ORDER BY +i.updated_at DESC, i.id DESC LIMIT {sql.Add(search.Limit + 1)}
                """;
        }
        else
        {
            var score = search.Labels.Count > 0
                ? $"(SELECT MAX(s.confidence) FROM labels s WHERE s.image_id = i.id AND s.name IN ({sql.List(search.Labels)}))"
                : $"COALESCE((SELECT MAX(s.confidence) FROM labels s WHERE s.image_id = i.id), {NoLabelScore.ToString(CultureInfo.InvariantCulture)})";
            page = $"""
                WITH c AS MATERIALIZED (SELECT i.rowid AS r, {score} AS score, i.id AS id FROM {source}{Filters(sql, search, driver)})
                SELECT r, score, id FROM c WHERE 1 = 1{ConfidenceKeyset(sql, search, "score", "id")}
                ORDER BY score DESC, id ASC LIMIT {sql.Add(search.Limit + 1)}
                """;
        }

        var order = search.Sort == ImageSort.Time ? "p.score DESC, p.id DESC" : "p.score DESC, p.id ASC";
        var text = $"""
            SELECT {ImageColumnsOfI}, p.score FROM ({page}) p CROSS JOIN images i ON i.rowid = p.r
            ORDER BY {order}
            """;
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    private async Task<List<FoundImage>> ReadFoundAsync(SqliteConnection connection, string text, SqlParameters sql, CancellationToken cancellationToken)
    {
        SearchStatementObserver?.Invoke(connection, text, sql.ToArray());
        await using var command = Command(connection, null, text, sql.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<FoundImage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(new FoundImage(ReadImage(reader), reader.GetDouble(ImageColumnCount)));
        }

        return found;
    }

    private static string TimeKeyset(SqlParameters sql, NormalizedSearch search) =>
        search.Cursor is { } cursor ? $" AND (i.updated_at, i.id) < ({sql.Add(cursor.Time)}, {sql.Add(cursor.Id)})" : "";

    private static string ConfidenceKeyset(SqlParameters sql, NormalizedSearch search, string score, string id)
    {
        if (search.Cursor is not { } cursor)
        {
            return "";
        }

        var value = sql.Add(cursor.Confidence);
        return $" AND {score} <= {value} AND ({score} < {value} OR {id} > {sql.Add(cursor.Id)})";
    }

    /// <summary>Every filter, as conditions on the image row aliased <c>i</c>.</summary>
    private static string Filters(SqlParameters sql, NormalizedSearch search, Driver? driver = null)
    {
        var where = new StringBuilder();
        var min = sql.Add(search.MinConfidence);
        foreach (var label in search.Labels.Concat(search.Counts.Select(c => c.Label)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (driver is LabelDriver { Names: [var driven] } && driven.Equals(label, StringComparison.OrdinalIgnoreCase))
            {
                continue; // the driver only yields images with this label
            }

            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name = {sql.Add(label)} AND +f.confidence >= {min} LIMIT 1)");
        }

        if (search.AnyLabels.Count > 0)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name IN ({sql.List(search.AnyLabels)}) AND +f.confidence >= {min} LIMIT 1)");
        }

        if (search.NotLabels.Count > 0)
        {
            where.Append($" AND NOT EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.name IN ({sql.List(search.NotLabels)}) AND +f.confidence >= {min} LIMIT 1)");
        }

        if (search.Bucket is { } bucket)
        {
            where.Append($" AND i.bucket = {sql.Add(bucket)}");
        }

        if (search.Prefix is { } prefix)
        {
            where.Append($" AND i.key >= {sql.Add(prefix)}");
            if (search.PrefixEnd is { } end)
            {
                where.Append($" AND i.key < {sql.Add(end)}");
            }
        }

        if (search.Status is { } status)
        {
            where.Append($" AND i.status = {sql.Add(status)}");
        }

        foreach (var (label, minimum) in search.Counts)
        {
            where.Append($" AND {CountInstances(sql, [label], min, "")} >= {sql.Add(minimum)}");
        }

        if (search.MinArea is { } area)
        {
            var large = $" AND n.box_width * n.box_height >= {sql.Add(area)}";
            where.Append(search.AreaLabels.Count > 0
                ? $" AND {HasInstance(sql, search.AreaLabels, min, large)}"
                : $" AND EXISTS (SELECT 1 FROM instances n WHERE n.image_id = i.id AND n.confidence >= {min}{large})");
        }

        where.Append(PropertyFilters(sql, search.Properties));
        if (search.Category is { } category)
        {
            where.Append($" AND EXISTS (SELECT 1 FROM labels f WHERE f.image_id = i.id AND f.confidence >= {min} AND instr(lower('|' || f.categories || '|'), lower({sql.Add($"|{category}|")})) > 0 LIMIT 1)");
        }

        if (search.TextMatch is { } match)
        {
            where.Append(TextFilter(sql, match));
        }

        where.Append(FaceFilters(sql, search));

        return where.ToString();
    }

    /// <summary>
    /// The number of the image's instances (at or above MinConfidence, meeting <paramref name="condition"/>) of one
    /// of <paramref name="labels"/>: named so (through the (image_id, name) index), or of a label that has one of
    /// them as a parent (a Dog box is an Animal box; the image's few label rows are scanned for the parent).
    /// </summary>
    private static string CountInstances(SqlParameters sql, IReadOnlyCollection<string> labels, string min, string condition)
    {
        var parents = string.Join(" OR ", labels.Select(l => $"instr(lower('|' || p.parents || '|'), lower({sql.Add($"|{l}|")})) > 0"));
        return $"""
            ((SELECT COUNT(*) FROM instances n WHERE n.image_id = i.id AND n.name IN ({sql.List(labels)}) AND +n.confidence >= {min}{condition})
             + (SELECT COUNT(*) FROM labels p CROSS JOIN instances n ON n.image_id = p.image_id AND n.name = p.name
                WHERE p.image_id = i.id AND p.parents <> '' AND ({parents}) AND +n.confidence >= {min}{condition}))
            """;
    }

    /// <summary><see cref="CountInstances"/> &gt; 0, stopping at the first instance found.</summary>
    private static string HasInstance(SqlParameters sql, IReadOnlyCollection<string> labels, string min, string condition)
    {
        var parents = string.Join(" OR ", labels.Select(l => $"instr(lower('|' || p.parents || '|'), lower({sql.Add($"|{l}|")})) > 0"));
        return $"""
            (EXISTS (SELECT 1 FROM instances n WHERE n.image_id = i.id AND n.name IN ({sql.List(labels)}) AND +n.confidence >= {min}{condition})
             OR EXISTS (SELECT 1 FROM labels p CROSS JOIN instances n ON n.image_id = p.image_id AND n.name = p.name
                WHERE p.image_id = i.id AND p.parents <> '' AND ({parents}) AND +n.confidence >= {min}{condition}))
            """;
    }

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

    private sealed record FoundImage(ImageRecord Image, double Score);

    /// <summary>Query parameters named $p0, $p1... in the order they are added.</summary>
    private sealed class SqlParameters
    {
        private readonly List<(string Name, object? Value)> _values = [];

        public string Add(object? value)
        {
            var name = "$p" + _values.Count.ToString(CultureInfo.InvariantCulture);
            _values.Add((name, value));
            return name;
        }

        public string List(IEnumerable<string> values) => string.Join(", ", values.Select(v => Add(v)));

        public (string Name, object? Value)[] ToArray() => [.. _values];
    }

    /// <summary>A filter the search can start from: how many images it matches (capped), and the FROM/WHERE that yields them.</summary>
    private abstract class Driver
    {
        public static IEnumerable<Driver> Candidates(NormalizedSearch search)
        {
            foreach (var label in search.Labels.Concat(search.Counts.Select(c => c.Label)).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                yield return new LabelDriver([label]);
            }

            if (search.AnyLabels.Count > 0)
            {
                yield return new LabelDriver(search.AnyLabels);
            }

            if (search.Bucket is not null || search.Prefix is not null)
            {
                yield return new KeyDriver();
            }

            if (search.Status is not null)
            {
                yield return new StatusDriver();
            }
        }

        /// <summary>How many candidate rows of this driver cost about as much as one of a label driver's.</summary>
        public virtual int RowsPerCost => 1;

        public abstract string CountSql(SqlParameters sql, NormalizedSearch search, long cap);

        /// <summary>FROM ... WHERE ... giving image rows aliased <c>i</c> (further conditions are appended with AND).</summary>
        public abstract string FromSql(SqlParameters sql, NormalizedSearch search);
    }

    private sealed class LabelDriver(IReadOnlyList<string> names) : Driver
    {
        public IReadOnlyList<string> Names => names;

        public override string CountSql(SqlParameters sql, NormalizedSearch search, long cap) =>
            $"SELECT COUNT(*) FROM (SELECT 1 FROM labels INDEXED BY labels_by_name WHERE name IN ({sql.List(names)}) AND confidence >= {sql.Add(search.MinConfidence)} LIMIT {sql.Add(cap)})";

        public override string FromSql(SqlParameters sql, NormalizedSearch search) => names.Count == 1
            ? $"labels d INDEXED BY labels_by_name CROSS JOIN images i ON i.id = d.image_id WHERE d.name = {sql.Add(names[0])} AND d.confidence >= {sql.Add(search.MinConfidence)}"
            : $"(SELECT DISTINCT image_id FROM labels INDEXED BY labels_by_name WHERE name IN ({sql.List(names)}) AND confidence >= {sql.Add(search.MinConfidence)}) d CROSS JOIN images i ON i.id = d.image_id WHERE 1 = 1";
    }

    /// <summary>
    /// Bucket and/or key prefix, through an index that also holds (updated_at, id): finding and ordering the
    /// candidates reads no image row, so this driver is worth taking for many more images than the others.
    /// Key prefixes are often dates, which the time order meets late (a walk from the newest image would cross
    /// every newer one first).
    /// </summary>
    private sealed class KeyDriver : Driver
    {
        public override int RowsPerCost => 8;

        public override string CountSql(SqlParameters sql, NormalizedSearch search, long cap) =>
            $"SELECT COUNT(*) FROM (SELECT 1 FROM {Source(sql, search)} LIMIT {sql.Add(cap)})";

        public override string FromSql(SqlParameters sql, NormalizedSearch search) => Source(sql, search);

        private static string Source(SqlParameters sql, NormalizedSearch search)
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

            var index = search.Bucket is null ? "images_key_time" : "images_bucket_key_time";
            return $"images i INDEXED BY {index} WHERE {string.Join(" AND ", conditions)}";
        }
    }

    private sealed class StatusDriver : Driver
    {
        public override string CountSql(SqlParameters sql, NormalizedSearch search, long cap) =>
            $"SELECT COUNT(*) FROM (SELECT 1 FROM images i INDEXED BY images_status WHERE i.status = {sql.Add(search.Status)} LIMIT {sql.Add(cap)})";

        public override string FromSql(SqlParameters sql, NormalizedSearch search) =>
            $"images i INDEXED BY images_status WHERE i.status = {sql.Add(search.Status)}";
    }

    /// <summary>An <see cref="ImageQuery"/> checked, trimmed and de-duplicated, with its cursor decoded.</summary>
    private sealed record NormalizedSearch(
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
        /// <summary>The FTS5 query of ImageQuery.Text, or null.</summary>
        public string? TextMatch { get; init; }

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
                prefix is null ? null : PrefixUpperBound(prefix),
                status,
                counts,
                query.MinArea,
                category,
                query.Sort,
                query.Limit,
                query.Cursor is null ? null : SearchCursor.Decode(query.Cursor, query.Sort),
                PropertyFilter.From(query))
            {
                TextMatch = TextMatch(query.Text),
                Faces = FaceCount(query.Faces, "faces"),
                MinFaces = FaceCount(query.MinFaces, "minFaces"),
                MaxFaces = FaceCount(query.MaxFaces, "maxFaces"),
                Shot = Shot(query.Shot),
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
    private sealed record SearchCursor(ImageSort Sort, long Time, double Confidence, string Id)
    {
        public static SearchCursor From(ImageSort sort, FoundImage last) =>
            new(sort, last.Image.UpdatedAt.ToUnixTimeMilliseconds(), sort == ImageSort.Confidence ? last.Score : 0, last.Image.Id);

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
}

/// <summary>Schema step 2 (search), appended to <see cref="CatalogSchema.Migrations"/>.</summary>
internal static class SearchSchema
{
    /// <summary>
    /// Indexes for sorting by best confidence and for key prefixes (holding the time order's columns); and per-label image counts
    /// (total, and of images with status labeled) for facets, kept exact by triggers on every write to labels
    /// and to image status. Counting labels on demand reads every label row (tens of ms at 100k images).
    /// The triggers count plain INSERT/DELETE/UPDATE and cascades; INSERT OR REPLACE into labels would also be
    /// counted right because this SQLite build turns recursive_triggers on (REPLACE then fires delete triggers).
    /// </summary>
    public const string Step2 =
        """
        CREATE INDEX labels_by_confidence ON labels (confidence DESC, image_id);
        CREATE INDEX images_key_time ON images (key, updated_at, id);
        CREATE INDEX images_bucket_key_time ON images (bucket, key, updated_at, id);

        CREATE TABLE label_counts (
            name    TEXT PRIMARY KEY COLLATE NOCASE,
            images  INTEGER NOT NULL,
            labeled INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO label_counts (name, images, labeled)
        SELECT l.name, COUNT(*), SUM(i.status = 'labeled') FROM labels l JOIN images i ON i.id = l.image_id GROUP BY l.name;

        CREATE TRIGGER label_counts_insert AFTER INSERT ON labels BEGIN
            INSERT INTO label_counts (name, images, labeled)
            VALUES (new.name, 1, EXISTS (SELECT 1 FROM images WHERE id = new.image_id AND status = 'labeled'))
            ON CONFLICT (name) DO UPDATE SET images = images + 1, labeled = labeled + excluded.labeled;
        END;

        CREATE TRIGGER label_counts_delete AFTER DELETE ON labels BEGIN
            UPDATE label_counts SET images = images - 1,
                labeled = labeled - EXISTS (SELECT 1 FROM images WHERE id = old.image_id AND status = 'labeled')
            WHERE name = old.name;
            DELETE FROM label_counts WHERE name = old.name AND images <= 0;
        END;

        CREATE TRIGGER label_counts_update AFTER UPDATE OF image_id, name ON labels BEGIN
            UPDATE label_counts SET images = images - 1,
                labeled = labeled - EXISTS (SELECT 1 FROM images WHERE id = old.image_id AND status = 'labeled')
            WHERE name = old.name;
            DELETE FROM label_counts WHERE name = old.name AND images <= 0;
            INSERT INTO label_counts (name, images, labeled)
            VALUES (new.name, 1, EXISTS (SELECT 1 FROM images WHERE id = new.image_id AND status = 'labeled'))
            ON CONFLICT (name) DO UPDATE SET images = images + 1, labeled = labeled + excluded.labeled;
        END;

        CREATE TRIGGER label_counts_status AFTER UPDATE OF status ON images
        WHEN (old.status = 'labeled') <> (new.status = 'labeled') BEGIN
            UPDATE label_counts SET labeled = labeled + (CASE WHEN new.status = 'labeled' THEN 1 ELSE -1 END)
            WHERE name IN (SELECT name FROM labels WHERE image_id = new.id);
        END;

        -- The cascade to labels runs after the image row is gone, so the labeled count is taken down here.
        CREATE TRIGGER label_counts_image_delete BEFORE DELETE ON images WHEN old.status = 'labeled' BEGIN
            UPDATE label_counts SET labeled = labeled - 1 WHERE name IN (SELECT name FROM labels WHERE image_id = old.id);
        END;
        """;
}
