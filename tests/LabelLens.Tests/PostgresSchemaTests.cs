using System.Globalization;
using LabelLens.Storage;
using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LabelLens.Tests;

/// <summary>The PostgreSQL catalog's schema as its migrations leave it, on the real server.</summary>
public sealed class PostgresSchemaTests
{
    [Fact]
    public async Task Every_image_id_column_compares_bytewise_and_the_label_count_triggers_survive_the_change()
    {
        var url = PostgresServer.Instance.CreateDatabase("schema");
        await using (new PostgresCatalog(url, TimeProvider.System, NullLogger<PostgresCatalog>.Instance))
        {
        }

        await using var connection = await OpenAsync(url);
        await AssertImageIdsCompareBytewiseAsync(connection);

        // Step 6 dropped and made again the triggers that keep label counts when a label row moves or is renamed.
        Assert.Equal("label_counts_update_new,label_counts_update_old", await ScalarAsync(connection, "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'labels'::regclass AND tgname LIKE 'label_counts_update_%'"));
    }

    [Fact]
    public async Task A_catalog_upgraded_to_bytewise_image_ids_keeps_its_rows_and_has_statistics_to_plan_with()
    {
        var url = PostgresServer.Instance.CreateDatabase("upgrade6");
        await using (var catalog = new PostgresCatalog(url, TimeProvider.System, NullLogger<PostgresCatalog>.Instance))
        {
            for (var i = 0; i < 40; i++)
            {
                await catalog.RecordUploadAsync(Stored($"photo-{i:D2}.jpg"), "image/jpeg", default);
            }
        }

        // Back to what step 5 left: ids under the database's collation, schema version 5.
        await using (var connection = await OpenAsync(url))
        {
            await ScalarAsync(connection, """
                DROP TRIGGER label_counts_update_old ON labels;
                DROP TRIGGER label_counts_update_new ON labels;
                ALTER TABLE images ALTER COLUMN id TYPE text COLLATE "default";
                ALTER TABLE jobs ALTER COLUMN image_id TYPE text COLLATE "default";
                CREATE TRIGGER label_counts_update_old AFTER UPDATE OF image_id, name ON labels FOR EACH ROW EXECUTE FUNCTION label_counts_delete();
                CREATE TRIGGER label_counts_update_new AFTER UPDATE OF image_id, name ON labels FOR EACH ROW EXECUTE FUNCTION label_counts_insert();
                DELETE FROM schema_version WHERE version = 6;
                SELECT 1
                """);
            Assert.Equal("0", await ScalarAsync(connection, "SELECT count(*) FROM pg_stats WHERE tablename = 'images' AND attname = 'id'"));
        }

        await using (var catalog = new PostgresCatalog(url, TimeProvider.System, NullLogger<PostgresCatalog>.Instance))
        {
            var found = await catalog.SearchAsync(new ImageQuery { Limit = 100 }, default);
            Assert.Equal(40, found.Images.Count);
        }

        await using (var connection = await OpenAsync(url))
        {
            await AssertImageIdsCompareBytewiseAsync(connection);
            Assert.Equal("6", await ScalarAsync(connection, "SELECT max(version) FROM schema_version"));
            // A changed column loses its statistics; the step analyses the tables again, so plans are not guesses.
            Assert.Equal("1", await ScalarAsync(connection, "SELECT count(*) FROM pg_stats WHERE tablename = 'images' AND attname = 'id'"));
            Assert.Equal("1", await ScalarAsync(connection, "SELECT count(*) FROM pg_stats WHERE tablename = 'jobs' AND attname = 'image_id'"));
        }
    }

    /// <summary>
    /// A join of two image-id columns uses an index only if both sides' collations match, and an id probe under the
    /// database's locale costs a strcoll per comparison: every image-id column is "C".
    /// </summary>
    private static async Task AssertImageIdsCompareBytewiseAsync(NpgsqlConnection connection)
    {
        var columns = new List<(string Table, string Collation)>();
        await using (var command = new NpgsqlCommand(
            """
            SELECT c.relname, coalesce(col.collname, '')
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
            LEFT JOIN pg_collation col ON col.oid = a.attcollation
            WHERE a.attnum > 0 AND NOT a.attisdropped
              AND (a.attname = 'image_id' OR (c.relname = 'images' AND a.attname = 'id'))
            """,
            connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                columns.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.Contains(columns, c => c.Table == "images");
        Assert.Contains(columns, c => c.Table == "labels");
        Assert.True(columns.Count >= 19, $"only {columns.Count} image id columns found");
        Assert.Equal("", string.Join(", ", columns.Where(c => c.Collation != "C").Select(c => $"{c.Table} ({c.Collation})")));
    }

    private static async Task<NpgsqlConnection> OpenAsync(string url)
    {
        var connection = new NpgsqlConnection(PostgresServer.Instance.ConnectionString(new Uri(url).AbsolutePath.TrimStart('/')));
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<string?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static StoredObject Stored(string key) =>
        new("photos", key, 1000, key.GetHashCode(StringComparison.Ordinal).ToString("x8", CultureInfo.InvariantCulture), new string('a', 64), DateTimeOffset.UtcNow);
}
