using System.Data.Common;
using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// The catalog and the labeling queue in PostgreSQL, for deployments where several processes (api nodes,
/// workers, on any machines) share one catalog. Same contracts as <see cref="SqliteCatalog"/>, its own SQL: an
/// upload's image row, event and job commit in one transaction; workers claim jobs with FOR UPDATE SKIP LOCKED
/// under leases; every write that makes work or news sends a NOTIFY, so idle workers and live pages wake at once.
/// One <see cref="NpgsqlDataSource"/> (one pool) per catalog.
/// </summary>
public sealed partial class PostgresCatalog : ICatalog, IAsyncDisposable, IDisposable
{
    /// <summary>The NOTIFY channel of new or due work; the payload is the job kind.</summary>
    public const string JobsChannel = "labellens_jobs";

    /// <summary>The NOTIFY channel of new events (the change feed); the payload is empty.</summary>
    public const string EventsChannel = "labellens_events";

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger<PostgresCatalog> _logger;

    public PostgresCatalog(string connectionString, TimeProvider time, ILogger<PostgresCatalog> logger)
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionString.ToNpgsql(connectionString));
        // No parallel workers for the catalog's queries: they are pages with a LIMIT that probe indexes, and a parallel
        // plan's worker start-up (Gather Merge) cost them tens to hundreds of milliseconds on small machines (search at
        // 1,000,000 images on 2 cores: 23 of 32 queries under 50 ms with parallel workers, 27 without). No Memoize
        // either: the planner put one over the images probed for a label's rows, whose ids never repeat, and caching
        // them doubled the time (a 1,000-image page's find: 9.8 ms with it, 4.5 without). The connection's own
        // Options come after, so a deployment can still set its own values.
        builder.Options = $"-c max_parallel_workers_per_gather=0 -c enable_memoize=off {builder.Options}".TrimEnd();
        // A 64 KiB read buffer unless the connection string sets one: a 1,000-image search page is ~1.5 MB of label and
        // box rows, and each refill of Npgsql's default 8 KiB buffer is a socket read that also re-arms the command's
        // timeout timer, a lock two connections reading at once contended on.
        // (The builder's ConnectionString holds only the keys set, under Npgsql's canonical names.)
        if (!new DbConnectionStringBuilder { ConnectionString = builder.ConnectionString }.ContainsKey("Read Buffer Size"))
        {
            builder.ReadBufferSize = 64 * 1024;
        }
        Location = $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        _connectionString = builder.ConnectionString;
        _time = time;
        _logger = logger;
        // Migrate before the pool exists: the pool learns the database's types (citext) on its first connection.
        Migrate(new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false }.ConnectionString);
        _dataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    public string Location { get; }

    /// <summary>The pool, for LISTEN connections (<see cref="PostgresNotifications"/>).</summary>
    internal NpgsqlDataSource DataSource => _dataSource;

    internal long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    internal ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => _dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// A connection of its own with no command timeout, for work whose length grows with the catalog (a migration's
    /// COPY of millions of rows runs their triggers when it completes, far past the 30-second default).
    /// </summary>
    internal async Task<NpgsqlConnection> OpenWithoutTimeoutAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { CommandTimeout = 0, Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>A write transaction (READ COMMITTED: each statement sees what committed before it).</summary>
    /// <param name="durability">
    /// <see cref="WriteDurability.Recomputable"/>: the commit does not wait for the WAL flush (synchronous_commit off
    /// for this transaction only), for work that is simply done again if a crash of the database loses it: a claim
    /// falls back to its lease, a lost result is computed again. The SQLite catalog makes the same choice.
    /// </param>
    internal async Task<PostgresWrite> BeginWriteAsync(CancellationToken cancellationToken, WriteDurability durability = WriteDurability.Full)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            if (durability == WriteDurability.Recomputable)
            {
                await ExecuteAsync(connection, transaction, "SET LOCAL synchronous_commit TO OFF", cancellationToken);
            }

            return new PostgresWrite(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private void Migrate(string connectionString)
    {
        // No command timeout: a step that rewrites a large table takes minutes, and a process that starts while
        // another migrates waits for the lock as long as that takes.
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 }.ConnectionString);
        connection.Open();
        // Session-level advisory lock: the processes of a deployment that start together migrate one after another.
        Execute(connection, null, "SELECT pg_advisory_lock(@lock)", ("lock", PostgresSchema.MigrationLock));
        try
        {
            Execute(connection, null, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
            var current = Convert.ToInt32(Scalar(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version"), CultureInfo.InvariantCulture);
            if (current > PostgresSchema.Migrations.Length)
            {
                throw new InvalidOperationException($"{Location} has schema version {current}, newer than this LabelLens ({PostgresSchema.Migrations.Length}). Use a newer LabelLens.");
            }

            for (var version = current + 1; version <= PostgresSchema.Migrations.Length; version++)
            {
                using var transaction = connection.BeginTransaction();
                Execute(connection, transaction, PostgresSchema.Migrations[version - 1]);
                Execute(connection, transaction, "INSERT INTO schema_version (version) VALUES (@v)", ("v", version));
                transaction.Commit();
                _logger.LogInformation("Catalog {Location} migrated to schema version {Version}", Location, version);
            }
        }
        finally
        {
            Execute(connection, null, "SELECT pg_advisory_unlock(@lock)", ("lock", PostgresSchema.MigrationLock));
        }
    }

    public void Dispose() => _dataSource.Dispose();

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>
    /// A command with named parameters (@name). Strings go as PostgreSQL's "unknown" type, so the server types
    /// each from where it is used: compared with a CITEXT label name it is CITEXT (case-insensitive, as the
    /// SQLite catalog's NOCASE), elsewhere TEXT.
    /// </summary>
    internal static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(Parameter(name, value));
        }

        return command;
    }

    internal static NpgsqlParameter Parameter(string name, object? value) => value switch
    {
        null => new NpgsqlParameter(name, NpgsqlDbType.Unknown) { Value = DBNull.Value },
        string text => new NpgsqlParameter(name, NpgsqlDbType.Unknown) { Value = text },
        _ => new NpgsqlParameter(name, value),
    };

    internal static int Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    internal static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static object? Scalar(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar();
    }

    internal static async Task<object?> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    /// <summary>Reads every row of a query with <paramref name="read"/>.</summary>
    internal static async Task<List<T>> QueryAsync<T>(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    internal const string ImageColumns = CatalogRows.ImageColumns;

    internal static ImageRecord ReadImage(NpgsqlDataReader r, int offset = 0) => CatalogRows.ReadImage(r, offset);

    internal static async Task<ImageRecord?> GetImageAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string id, CancellationToken cancellationToken, bool forUpdate = false)
    {
        await using var command = Command(connection, transaction, $"SELECT {ImageColumns} FROM images WHERE id = @id{(forUpdate ? " FOR UPDATE" : "")}", ("id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadImage(reader) : null;
    }

    /// <summary>An ANY(@ids) parameter: one array instead of a parameter per id.</summary>
    internal static (string Name, object? Value) IdArray(string name, IEnumerable<string> ids) => (name, ids.ToArray());
}

/// <summary>One write transaction on its own pooled connection; disposing it uncommitted rolls it back.</summary>
internal sealed class PostgresWrite(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
{
    public NpgsqlConnection Connection { get; } = connection;

    public NpgsqlTransaction Transaction { get; } = transaction;

    public void Deconstruct(out NpgsqlConnection connection, out NpgsqlTransaction transaction) => (connection, transaction) = (Connection, Transaction);

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
