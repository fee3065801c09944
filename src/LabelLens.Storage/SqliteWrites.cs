using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>How durable a write transaction must be when it commits.</summary>
public enum WriteDurability
{
    /// <summary>fsync at commit (<c>synchronous = FULL</c>): what was acknowledged survives power loss (uploads, edits).</summary>
    Full,

    /// <summary>
    /// No fsync of its own (<c>synchronous = NORMAL</c>): after a power loss the database is intact but this
    /// transaction may be undone. For work that is simply done again then: a claim falls back to its lease
    /// expiring, a lost result is computed again by the job that is still running. The next Full commit makes it
    /// durable too.
    /// </summary>
    Recomputable,
}

/// <summary>
/// One IMMEDIATE write transaction, begun after this process's other writers to the same database are done.
/// SQLite allows one writer at a time; a writer that finds the lock taken waits in SQLite's busy handler, which
/// sleeps 1-100 ms and is not woken when the lock is released. Writers of one process therefore queue here
/// instead and start the moment the previous one commits; the busy handler is left for other processes (a
/// CLI command beside a running server).
/// </summary>
internal sealed class SqliteWrite : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate;

    private SqliteWrite(SemaphoreSlim gate, SqliteConnection connection, SqliteTransaction transaction)
    {
        _gate = gate;
        Connection = connection;
        Transaction = transaction;
    }

    public SqliteConnection Connection { get; }

    public SqliteTransaction Transaction { get; }

    public static async Task<SqliteWrite> BeginAsync(string databasePath, Func<SqliteConnection> open, WriteDurability durability, CancellationToken cancellationToken)
    {
        var gate = Gates.GetOrAdd(databasePath, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        SqliteConnection? connection = null;
        try
        {
            connection = open();
            if (durability == WriteDurability.Recomputable)
            {
                // The pooled connection gets FULL back from the next Open.
                SqliteCatalog.Execute(connection, null, "PRAGMA synchronous = NORMAL");
            }

            return new SqliteWrite(gate, connection, connection.BeginTransaction(deferred: false));
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            gate.Release();
            throw;
        }
    }

    public void Deconstruct(out SqliteConnection connection, out SqliteTransaction transaction) => (connection, transaction) = (Connection, Transaction);

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Disposing an uncommitted transaction rolls it back.
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>
/// One INSERT (or any statement) prepared once and run for many rows of a transaction: SQLite parses the SQL
/// once, not once per label.
/// </summary>
internal sealed class SqliteBatch : IDisposable
{
    private readonly SqliteCommand _command;
    private readonly SqliteParameter[] _parameters;

    public SqliteBatch(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] parameterNames)
    {
        _command = connection.CreateCommand();
        _command.CommandText = sql;
        _command.Transaction = transaction;
        _parameters = parameterNames.Select(name => _command.Parameters.Add(new SqliteParameter(name, DBNull.Value))).ToArray();
        _command.Prepare();
    }

    /// <summary>Runs the statement with these values, in the order the parameter names were given.</summary>
    public int Run(params object?[] values)
    {
        if (values.Length != _parameters.Length)
        {
            throw new ArgumentException($"Expected {_parameters.Length} values, got {values.Length}.", nameof(values));
        }

        for (var i = 0; i < values.Length; i++)
        {
            _parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return _command.ExecuteNonQuery();
    }

    public void Dispose() => _command.Dispose();
}
