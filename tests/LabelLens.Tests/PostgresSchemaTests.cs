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

        await using var connection = new NpgsqlConnection(PostgresServer.Instance.ConnectionString(new Uri(url).AbsolutePath.TrimStart('/')));
        await connection.OpenAsync();

        // A join of two image-id columns uses an index only if both sides' collations match, and an id probe under
        // the database's locale costs a strcoll per comparison: every one of them is "C".
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

        // Step 6 dropped and made again the triggers that keep label counts when a label row moves or is renamed.
        await using var triggers = new NpgsqlCommand("SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'labels'::regclass AND tgname LIKE 'label_counts_update_%'", connection);
        Assert.Equal("label_counts_update_new,label_counts_update_old", await triggers.ExecuteScalarAsync());
    }
}
