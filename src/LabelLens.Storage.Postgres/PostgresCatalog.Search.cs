using System.Globalization;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// Search and label facets: the SQLite catalog's queries (<see cref="SqliteCatalog"/>'s Search), the same filters
/// (<see cref="SearchSql"/>), cursors, orders and pages. PostgreSQL plans each query from its statistics, so there
/// is no hand-picked strategy (SQLite's driver choice and INDEXED BY): one statement per sort order, which the
/// planner starts from whichever index the filters make cheapest.
/// </summary>
public sealed partial class PostgresCatalog
{
    /// <summary>The text search configuration of text_lines.tsv (schema step 2): the 'simple' one, accents removed.</summary>
    internal const string TextConfig = "labellens_text";

    private const double NoLabelScore = -1;

    /// <summary>PostgreSQL's words for the shared filters: no index hints, strpos, and the tsvector for text.</summary>
    internal static readonly SearchDialect Dialect = new("", "JOIN", (text, needle) => $"strpos(lower({text}), lower({needle}::text)) > 0", TextFilter, ExistsOverUnion: true, LimitEachArm: true);

    /// <summary>Sets the search keys of image @id's label rows (<see cref="SearchSql.LabelSearchKeys"/>), after a write of its labels or boxes.</summary>
    private static readonly string RefreshLabelSearchKeys = SearchSql.LabelSearchKeys(Dialect, "WHERE image_id = @id");

    private static readonly string ImageColumnsOfI = string.Join(", ", ImageColumns.Split(", ").Select(c => "i." + c));

    private static readonly string ImageColumnsOfD = "d.image_id AS id, " + string.Join(", ", ImageColumns.Split(", ").Skip(1).Select(c => "i." + c));

    private static readonly int ImageColumnCount = ImageColumns.Split(", ").Length;

    private static readonly string NoLabel = $"CAST({NoLabelScore.ToString(CultureInfo.InvariantCulture)} AS float8)";

    public async Task<ImagePage> SearchAsync(ImageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var search = NormalizedSearch.From(query);
        await using var connection = await OpenAsync(cancellationToken);
        var found = search.Sort == ImageSort.Time
                ? SearchSql.RequiredLabels(search) is { Count: > 0 } required ? await FindByLabelTimeAsync(connection, search, required, cancellationToken) : await FindByTimeAsync(connection, search, cancellationToken)
            : search.Labels.Count > 0 ? await FindByLabelConfidenceAsync(connection, search, cancellationToken)
            : await FindByBestConfidenceAsync(connection, search, cancellationToken);
        var (rows, next) = SearchSql.Cut(search, found);
        var ids = rows.Select(r => r.Image.Id).ToList();
        var (labels, properties) = await CatalogRows.ReadPageAsync(
            connection,
            ids,
            OpenAsync,
            (c, part) => ReadLabelsByPositionAsync(c, part, cancellationToken),
            (c, part) => ReadPropertiesAsync(c, part, cancellationToken),
            cancellationToken);
        return SearchSql.Page(rows, next, labels, properties);
    }

    /// <summary>Label names with their image counts (all, or labeled only), most common first; read from label_counts, which triggers keep exact.</summary>
    public async Task<IReadOnlyList<LabelFacet>> LabelFacetsAsync(string? prefix, int limit, bool labeledOnly, CancellationToken cancellationToken)
    {
        var pattern = SearchSql.FacetPattern(prefix, limit);
        var column = labeledOnly ? "labeled" : "images";
        await using var connection = await OpenAsync(cancellationToken);
        // name is CITEXT: LIKE on it ignores case, as SQLite's NOCASE column does.
        return await QueryAsync(
            connection,
            null,
            $"SELECT name, {column} FROM label_counts WHERE {column} > 0 AND name LIKE @prefix ESCAPE '\\' ORDER BY {column} DESC, name LIMIT @limit",
            r => new LabelFacet(r.GetString(0), r.GetInt64(1)),
            cancellationToken,
            ("prefix", pattern), ("limit", limit));
    }

    /// <summary>Newest first: the planner walks images_updated backwards, or sorts a selective filter's few images.</summary>
    private static async Task<List<FoundImage>> FindByTimeAsync(NpgsqlConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var sql = new SqlParameters('@');
        var text = $"""
            SELECT {ImageColumnsOfI}, i.updated_at::float8 FROM images i
            WHERE TRUE{SearchSql.Filters(sql, search, Dialect)}{SearchSql.TimeKeyset(sql, search)}
            ORDER BY i.updated_at DESC, i.id DESC LIMIT {sql.Add(search.Limit + 1)}
            """;
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>Newest first among the images of the search's rarest required label (<see cref="SearchSql.LabelTimePage"/>).</summary>
    private static async Task<List<FoundImage>> FindByLabelTimeAsync(NpgsqlConnection connection, NormalizedSearch search, List<string> required, CancellationToken cancellationToken)
    {
        var label = required[0];
        if (required.Count > 1)
        {
            var counts = new SqlParameters('@');
            label = SearchSql.RarestLabel(required, await QueryAsync(connection, null, SearchSql.LabelImageCounts(counts, required), r => (r.GetString(0), r.GetInt64(1)), cancellationToken, counts.ToArray()));
        }

        var sql = new SqlParameters('@');
        var text = SearchSql.LabelTimePage(sql, search, Dialect, ImageColumnsOfD, "labels d JOIN images i ON i.id = d.image_id", label, "d.image_time::float8");
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>Highest confidence among the label filter first (<see cref="SearchSql.BestLabelPage"/>: PostgreSQL merges the arms with a Merge Append).</summary>
    private static async Task<List<FoundImage>> FindByLabelConfidenceAsync(NpgsqlConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var sql = new SqlParameters('@');
        var text = SearchSql.BestLabelPage(sql, search, Dialect, ImageColumnsOfD, "labels d JOIN images i ON i.id = d.image_id");
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>
    /// Highest best-label confidence first: each image's best label row (ties broken by name) in labels_by_confidence
    /// order; then the images with no label at all, by id, when the query lets such images match.
    /// </summary>
    private static async Task<List<FoundImage>> FindByBestConfidenceAsync(NpgsqlConnection connection, NormalizedSearch search, CancellationToken cancellationToken)
    {
        var found = new List<FoundImage>();
        if (search.Cursor is not { Confidence: < 0 })
        {
            var sql = new SqlParameters('@');
            var text = $"""
                SELECT {ImageColumnsOfD}, d.confidence AS score
                FROM labels d JOIN images i ON i.id = d.image_id
                WHERE NOT EXISTS (SELECT 1 FROM labels o WHERE o.image_id = d.image_id AND (o.confidence > d.confidence OR (o.confidence = d.confidence AND o.name < d.name)))
                {SearchSql.ConfidenceKeyset(sql, search, "d.confidence", "d.image_id")}{SearchSql.Filters(sql, search, Dialect)}
                ORDER BY score DESC, id ASC LIMIT {sql.Add(search.Limit + 1)}
                """;
            found = await ReadFoundAsync(connection, text, sql, cancellationToken);
        }

        if (found.Count <= search.Limit && !search.RequiresLabel)
        {
            var sql = new SqlParameters('@');
            var after = search.Cursor is { Confidence: < 0 } cursor ? $" AND i.id > {sql.Add(cursor.Id)}" : "";
            var text = $"""
                SELECT {ImageColumnsOfI}, {NoLabel} FROM images i
                WHERE NOT EXISTS (SELECT 1 FROM labels u WHERE u.image_id = i.id){after}{SearchSql.Filters(sql, search, Dialect)}
                ORDER BY i.id LIMIT {sql.Add(search.Limit + 1 - found.Count)}
                """;
            found.AddRange(await ReadFoundAsync(connection, text, sql, cancellationToken));
        }

        return found;
    }

    private static async Task<List<FoundImage>> ReadFoundAsync(NpgsqlConnection connection, string text, SqlParameters sql, CancellationToken cancellationToken) =>
        await QueryAsync(connection, null, text, r => new FoundImage(ReadImage(r), r.GetDouble(ImageColumnCount)), cancellationToken, sql.ToArray());

    /// <summary>The search condition on the image row <c>i</c>: one of its lines matches every term (through the GIN index on tsv).</summary>
    private static string TextFilter(SqlParameters sql, IReadOnlyList<string> terms) =>
        $" AND i.id IN (SELECT t.image_id FROM text_lines t WHERE t.tsv @@ {TextQuery(sql, terms)})";

    /// <summary>
    /// The tsquery of the typed terms: each a phrase (its words adjacent and in order, as an FTS5 quoted string),
    /// all required; normalised by the configuration tsv is built with, so case and accents do not matter.
    /// </summary>
    internal static string TextQuery(SqlParameters sql, IReadOnlyList<string> terms) =>
        "(" + string.Join(" && ", terms.Select(t => $"phraseto_tsquery('{TextConfig}', {sql.Add(t)}::text)")) + ")";
}
