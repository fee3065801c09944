using Microsoft.Data.Sqlite;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// Moves an embedded SQLite catalog into an empty PostgreSQL catalog (`labellens catalog migrate --to URL`): every
/// table, row for row, in one PostgreSQL transaction, with binary COPY. Both schemas name the same tables and
/// columns, so the copy is by name; a SQLite table PostgreSQL lacks stops the migration (nothing is silently left
/// behind). Label counts are rebuilt in one aggregate at the end, the search index by its generated column.
/// </summary>
public static class CatalogMigration
{
    /// <summary>SQLite's own tables and what PostgreSQL derives itself.</summary>
    private static readonly HashSet<string> Derived = new(StringComparer.Ordinal) { "schema_version", "label_counts" };

    /// <summary>Copies every row of the SQLite catalog in <paramref name="dataFolder"/> into <paramref name="target"/>; rows copied per table.</summary>
    public static async Task<IReadOnlyList<(string Table, long Rows)>> CopyAsync(string dataFolder, PostgresCatalog target, CancellationToken cancellationToken, IProgress<(string Table, long Rows)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        var path = Path.Combine(dataFolder, "catalog.db");
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"No SQLite catalog at {path}.");
        }

        await using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString());
        await source.OpenAsync(cancellationToken);
        // A read transaction: one consistent snapshot even if a server still writes.
        await using var snapshot = await source.BeginTransactionAsync(cancellationToken);
        await using var connection = await target.OpenWithoutTimeoutAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await PostgresCatalog.ScalarAsync(connection, transaction, "SELECT 1 FROM images LIMIT 1", cancellationToken) is not null)
        {
            throw new InvalidOperationException($"{target.Location} already holds images; migrate into an empty catalog.");
        }

        // Label counts are rebuilt in one aggregate after the copy, not by the per-row trigger: every label row's
        // trigger updates its name's counter row, and a hundred-odd counter rows updated millions of times in one
        // transaction leave ever longer version chains to walk (1,000,000 images: still running after 15 minutes).
        // Disabling a trigger is transactional: a failed migration leaves it enabled. It locks the labels table until
        // the commit, which a migration into an empty catalog can afford.
        await PostgresCatalog.ExecuteAsync(connection, transaction, "ALTER TABLE labels DISABLE TRIGGER label_counts_insert", cancellationToken);
        var tables = await SqliteTablesAsync(source, cancellationToken);
        var copied = new List<(string, long)>();
        // Parents before children (foreign keys): images first.
        foreach (var table in tables.OrderBy(t => t == "images" ? 0 : 1).ThenBy(t => t, StringComparer.Ordinal))
        {
            var columns = await PostgresColumnsAsync(connection, transaction, table, cancellationToken);
            if (columns.Count == 0)
            {
                throw new InvalidOperationException($"The SQLite catalog has a table '{table}' that this PostgreSQL schema lacks; use the LabelLens version that wrote it.");
            }

            var sqliteColumns = await SqliteColumnsAsync(source, table, cancellationToken);
            var shared = sqliteColumns.Where(columns.ContainsKey).ToList();
            var rows = await CopyTableAsync(source, connection, table, table, shared, columns, cancellationToken);
            copied.Add((table, rows));
            progress?.Report((table, rows));
        }

        // The S3 endpoint's object metadata lived beside the catalog (s3meta.db); in PostgreSQL it is a catalog table.
        var s3meta = Path.Combine(dataFolder, "s3meta.db");
        if (File.Exists(s3meta))
        {
            await using var metadata = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = s3meta, Mode = SqliteOpenMode.ReadOnly }.ToString());
            await metadata.OpenAsync(cancellationToken);
            var columns = await PostgresColumnsAsync(connection, transaction, "s3_object_meta", cancellationToken);
            var rows = await CopyTableAsync(metadata, connection, "object_meta", "s3_object_meta", [.. columns.Keys], columns, cancellationToken);
            copied.Add(("s3_object_meta", rows));
            progress?.Report(("s3_object_meta", rows));
        }

        await PostgresCatalog.ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO label_counts (name, images, labeled)
            SELECT l.name, COUNT(*), COUNT(*) FILTER (WHERE i.status = 'labeled') FROM labels l JOIN images i ON i.id = l.image_id GROUP BY l.name
            """,
            cancellationToken);
        await PostgresCatalog.ExecuteAsync(connection, transaction, "ALTER TABLE labels ENABLE TRIGGER label_counts_insert", cancellationToken);

        // Identity columns continue after the copied ids.
        foreach (var table in new[] { "events", "jobs", "text_lines" })
        {
            await PostgresCatalog.ExecuteAsync(connection, transaction, $"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        // Statistics for the planner now, not when autovacuum gets to the new tables: until then searches are planned
        // with default guesses (the first timing at 1,000,000 images, while autovacuum had not yet analysed them, gave
        // 300-1,000 ms for the newest-first page that takes 5 ms after).
        await PostgresCatalog.ExecuteAsync(connection, null, "ANALYZE", cancellationToken);
        return copied;
    }

    private static async Task<long> CopyTableAsync(SqliteConnection source, NpgsqlConnection connection, string sourceTable, string table, List<string> columns, Dictionary<string, string> types, CancellationToken cancellationToken)
    {
        var list = string.Join(", ", columns.Select(c => $"\"{c}\""));
        await using var read = source.CreateCommand();
        read.CommandText = $"SELECT {list} FROM \"{sourceTable}\"";
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        await using var importer = await connection.BeginBinaryImportAsync($"COPY {table} ({list}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            await importer.StartRowAsync(cancellationToken);
            for (var i = 0; i < columns.Count; i++)
            {
                var type = types[columns[i]];
                if (reader.IsDBNull(i))
                {
                    await importer.WriteNullAsync(cancellationToken);
                    continue;
                }

                object value = type switch
                {
                    "int4" => reader.GetInt32(i),
                    "int8" => reader.GetInt64(i),
                    "float8" => reader.GetDouble(i),
                    "bool" => reader.GetInt64(i) != 0,
                    _ => reader.GetString(i),
                };
                await importer.WriteAsync(value, type, cancellationToken);
            }

            rows++;
        }

        await importer.CompleteAsync(cancellationToken);
        return rows;
    }

    private static async Task<List<string>> SqliteTablesAsync(SqliteConnection source, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand();
        // FTS5's tables (text_fts and its shadow tables) are SQLite's search index: PostgreSQL has its own.
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'text_fts%' ORDER BY name";
        var tables = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!Derived.Contains(reader.GetString(0)))
            {
                tables.Add(reader.GetString(0));
            }
        }

        return tables;
    }

    private static async Task<List<string>> SqliteColumnsAsync(SqliteConnection source, string table, CancellationToken cancellationToken)
    {
        await using var command = source.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info($table)";
        command.Parameters.AddWithValue("$table", table);
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    /// <summary>The table's writable columns with their type names (generated columns are left to PostgreSQL).</summary>
    private static async Task<Dictionary<string, string>> PostgresColumnsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        var rows = await PostgresCatalog.QueryAsync(
            connection,
            transaction,
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @table AND is_generated = 'NEVER'",
            r => (r.GetString(0), r.GetString(1)),
            cancellationToken,
            ("table", table));
        return rows.ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);
    }
}
