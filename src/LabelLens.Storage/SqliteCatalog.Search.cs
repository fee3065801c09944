using System.Globalization;
using System.Runtime.CompilerServices;
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
/// index, a required label's rows newest first in labels_by_time, or a label's confidence index) and the filters
/// applied until the page is full, which is cheap exactly because the filters match many images. Both give the
/// same pages. Newest first, a required label is walked, never started from: its rows come in time order already.
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
        await using var connection = OpenForSearch();
        var (rows, next) = SearchSql.Cut(search, await FindAsync(connection, search, cancellationToken));
        var ids = rows.Select(r => r.Image.Id).ToList();
        var (labels, properties) = await CatalogRows.ReadPageAsync(
            connection,
            ids,
            _ => ValueTask.FromResult(OpenForSearch()),
            (c, part) => ReadLabelsByPositionAsync(c, part, cancellationToken),
            (c, part) => ReadPropertiesAsync(c, part, cancellationToken),
            cancellationToken);
        return SearchSql.Page(rows, next, labels, properties);
    }

    private SqliteConnection OpenForSearch()
    {
        var connection = Open();
        // Searches probe the catalog at random; reading pages through a memory map instead of read() calls into
        // SQLite's small page cache makes those probes 3-4x cheaper once the catalog outgrows the cache.
        Execute(connection, null, $"PRAGMA mmap_size = {SearchMmapBytes}");
        return connection;
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
        var pattern = SearchSql.FacetPattern(prefix, limit);
        var column = labeledOnly ? "labeled" : "images";
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            $"SELECT name, {column} FROM label_counts WHERE {column} > 0 AND name LIKE $prefix ESCAPE '\\' ORDER BY {column} DESC, name LIMIT $limit",
            ("$prefix", pattern), ("$limit", limit));
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
            return SearchSql.RequiredLabels(search) is { Count: > 0 } required
                ? await FindByLabelTimeAsync(connection, search, required, cancellationToken)
                : await FindByTimeAsync(connection, search, cancellationToken);
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
            WHERE 1 = 1{Filters(sql, search)}{SearchSql.TimeKeyset(sql, search)}
            ORDER BY i.updated_at DESC, i.id DESC LIMIT {sql.Add(search.Limit + 1)}
            """;
        return await ReadFoundAsync(connection, text, sql, cancellationToken);
    }

    /// <summary>Newest first among the images of the search's rarest required label (<see cref="SearchSql.LabelTimePage"/>).</summary>
    private async Task<List<FoundImage>> FindByLabelTimeAsync(SqliteConnection connection, NormalizedSearch search, List<string> required, CancellationToken cancellationToken)
    {
        var label = required[0];
        if (required.Count > 1)
        {
            var counts = new SqlParameters();
            await using var command = Command(connection, null, SearchSql.LabelImageCounts(counts, required), counts.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = new List<(string, long)>();
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), reader.GetInt64(1)));
            }

            label = SearchSql.RarestLabel(required, rows);
        }

        var sql = new SqlParameters();
        var text = SearchSql.LabelTimePage(sql, search, Dialect, ImageColumnsOfD, "labels d INDEXED BY labels_by_time CROSS JOIN images i ON i.id = d.image_id", label, "d.image_time");
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
        var text = SearchSql.BestLabelPage(sql, search, Dialect, ImageColumnsOfD, "labels d INDEXED BY labels_by_name CROSS JOIN images i ON i.id = d.image_id");
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
                {SearchSql.ConfidenceKeyset(sql, search, "d.confidence", "d.image_id")}{Filters(sql, search)}
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
                SELECT i.rowid AS r, i.updated_at AS score, i.id AS id FROM {source}{Filters(sql, search, driver)}{SearchSql.TimeKeyset(sql, search)}
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
                SELECT r, score, id FROM c WHERE 1 = 1{SearchSql.ConfidenceKeyset(sql, search, "score", "id")}
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

    /// <summary>SQLite's words for the shared filters: "+" keeps a column's index out of a plan, CROSS JOIN keeps the join order, FTS5 for text.</summary>
    internal static readonly SearchDialect Dialect = new("+", "CROSS JOIN", (text, needle) => $"instr(lower({text}), lower({needle})) > 0", TextFilter);

    /// <summary>Sets the search keys of image $id's label rows (<see cref="SearchSql.LabelSearchKeys"/>), after a write of its labels or boxes.</summary>
    private static readonly string RefreshLabelSearchKeys = SearchSql.LabelSearchKeys(Dialect, "WHERE image_id = $id");

    /// <summary>Every filter (<see cref="SearchSql.Filters"/>), but the label a label driver already yields.</summary>
    private static string Filters(SqlParameters sql, NormalizedSearch search, Driver? driver = null) =>
        SearchSql.Filters(sql, search, Dialect, driver is LabelDriver { Names: [var driven] } ? driven : null);

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

    /// <summary>A filter the search can start from: how many images it matches (capped), and the FROM/WHERE that yields them.</summary>
    private abstract class Driver
    {
        public static IEnumerable<Driver> Candidates(NormalizedSearch search)
        {
            // Newest first, a required label's rows are walked in time order (labels_by_time): reading them all
            // first would never be cheaper.
            var walksLabel = search.Sort == ImageSort.Time && SearchSql.RequiredLabels(search).Count > 0;
            foreach (var label in walksLabel ? [] : SearchSql.RequiredLabels(search))
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
            var conditions = SearchSql.PlaceConditions(sql, search);
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

    /// <summary>
    /// Label rows carry two search keys of their image (<see cref="SearchSql.LabelSearchKeys"/>): image_time, the
    /// image's updated_at, so a label's images are read newest first straight from labels_by_time (a rare label's
    /// 50 newest images out of 1,000,000 were found by walking the newest images and probing each for the label:
    /// 64 ms); and boxes, how many boxes of the label or of its children the image has, an upper bound of what a
    /// count= filter counts at any confidence, checked in the index before the boxes are. The trigger keeps
    /// image_time when an upload replaces the image; every write of an image's labels or boxes refreshes both.
    /// </summary>
    public static readonly string Step10 =
        $"""
        ALTER TABLE labels ADD COLUMN image_time INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE labels ADD COLUMN boxes INTEGER NOT NULL DEFAULT 0;
        {SearchSql.LabelSearchKeys(SqliteCatalog.Dialect, "")};
        CREATE INDEX labels_by_time ON labels (name, image_time DESC, image_id DESC, confidence, boxes);
        CREATE TRIGGER labels_image_time AFTER UPDATE OF updated_at ON images WHEN new.updated_at <> old.updated_at BEGIN
            UPDATE labels SET image_time = new.updated_at WHERE image_id = new.id;
        END;
        """;
}
