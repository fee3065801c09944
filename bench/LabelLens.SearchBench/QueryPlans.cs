using Microsoft.Data.Sqlite;

namespace LabelLens.SearchBench;

/// <summary>Prints SQLite's plan for each statement a search runs (EXPLAIN QUERY PLAN, same parameters).</summary>
internal static class QueryPlans
{
    public static Action<SqliteConnection, string, (string Name, object? Value)[]> Print(string name) => (connection, sql, parameters) =>
    {
        Console.Error.WriteLine($"--- {name}");
        Console.Error.WriteLine(sql);
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var (parameter, value) in parameters)
        {
            command.Parameters.AddWithValue(parameter, value ?? DBNull.Value);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            Console.Error.WriteLine($"  {reader.GetInt32(0),3} {reader.GetInt32(1),3}  {reader.GetString(3)}");
        }
    };
}
