using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace LabelLens.Tests;

/// <summary>
/// A real PostgreSQL server for the tests: initdb into a temporary folder, pg_ctl start on a free loopback port.
/// <see cref="Instance"/> is shared by the whole test run (tests in parallel use it, each in databases of its own) and
/// stopped when the test process exits; <see cref="StartPrivate"/> gives a test a server of its own, which it may stop,
/// restart or fill up without disturbing the others, and which goes with Dispose. PostgreSQL refuses to run as root
/// (CI runs as root), so there it runs as the unprivileged `postgres` user Debian's package creates. A machine
/// without PostgreSQL fails the tests that need it, saying how to install it; they never skip.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private const string FolderPrefix = "labellens-pg-";
    private static readonly Lazy<PostgresServer> Shared = new(() => Start(isPrivate: false), LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databases;
    private readonly string _folder;
    private readonly string _bin;
    private readonly string? _runAs;
    private readonly bool _private;

    private PostgresServer(string folder, string bin, string? runAs, int port, bool isPrivate)
    {
        _folder = folder;
        _bin = bin;
        _runAs = runAs;
        _private = isPrivate;
        Port = port;
    }

    public static PostgresServer Instance => Shared.Value;

    /// <summary>
    /// A server for one test alone (its own data folder and port): the test may stop, restart or fill it. Dispose stops
    /// it and removes its folder; if the test host ends first, the same watcher and sweep as the shared one's clean up.
    /// </summary>
    public static PostgresServer StartPrivate() => Start(isPrivate: true);

    public int Port { get; }

    /// <summary>The OS user the server runs as (and owns its files): <c>postgres</c> under root, else null (this user).</summary>
    public string? RunAs => _runAs;

    /// <summary>The server's data folder's parent, the test run's folder for it.</summary>
    public string Folder => _folder;

    /// <summary>The server's log (pg_ctl -l), for failure messages.</summary>
    public string LogTail()
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(_folder, "server.log"));
            return text.Length > 4000 ? text[^4000..] : text;
        }
        catch (IOException ex)
        {
            return $"(no server log: {ex.Message})";
        }
    }

    /// <summary>Stops a private server ("fast": clients are disconnected, as when an operator restarts the database).</summary>
    public void StopServer()
    {
        EnsurePrivate();
        Run(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_folder, "data"), "-m", "fast", "-w", "-t", "60", "stop"], _runAs);
    }

    /// <summary>Starts a stopped private server again, on the same port with the same settings.</summary>
    public void StartServer()
    {
        EnsurePrivate();
        Run(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_folder, "data"), "-l", Path.Combine(_folder, "server.log"), "-w", "-t", "60", "-o", Options(Port, _folder), "start"], _runAs);
    }

    /// <summary>Runs one SQL statement as the superuser in <paramref name="database"/> (CREATE TABLESPACE and such).</summary>
    public void Execute(string database, string sql)
    {
        using var connection = new NpgsqlConnection(ConnectionString(database));
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    /// <summary>Stops a private server and removes its folder (the shared one stays until the test process ends).</summary>
    public void Dispose()
    {
        if (_private)
        {
            Stop();
        }
    }

    private void EnsurePrivate()
    {
        if (!_private)
        {
            // Tests run in parallel on the shared server: stopping it would fail them for no fault of theirs.
            throw new InvalidOperationException("Only a private server (PostgresServer.StartPrivate) may be stopped or restarted.");
        }
    }

    /// <summary>The superuser (trust authentication on loopback).</summary>
    public const string User = "labellens";

    /// <summary>A new, empty database; its libpq URL (what LABELLENS_CATALOG takes).</summary>
    public string CreateDatabase(string prefix = "t")
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        command.ExecuteNonQuery();
        return Url(name);
    }

    public string Url(string database) => $"postgresql://{User}@127.0.0.1:{Port}/{database}";

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username={User};Database={database};Pooling=false";

    // fsync off: a test database need not survive power loss, and syncing would only slow the tests.
    private static string Options(int port, string folder) =>
        $"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300";

    private static PostgresServer Start(bool isPrivate)
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL's initdb/pg_ctl were not found (PATH, /usr/lib/postgresql/*/bin). " +
            (Environment.GetEnvironmentVariable("CI") == "true" ? "CI must install it (.ci/run does: apt-get install postgresql)." : "Install it: sudo apt-get install postgresql. These tests do not skip."));
        var runAs = Environment.UserName == "root" ? "postgres" : null;
        // A run that ended before its exit handler stopped the server leaves a postmaster and 350 MB behind: stop and remove.
        var folder = RunFolders.Create(FolderPrefix, stale => StopQuietly(bin, stale, runAs));
        if (runAs is not null)
        {
            Run("chown", [runAs, folder], null);
        }

        var data = Path.Combine(folder, "data");
        Run(Path.Combine(bin, "initdb"), ["-D", data, "-U", User, "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"], runAs);
        var port = ServeProcess.FreePort();
        Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "-o", Options(port, folder), "start"], runAs);
        var server = new PostgresServer(folder, bin, runAs, port, isPrivate);
        // A private server is normally gone by then (Dispose); stopping an already stopped one is a no-op.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        server.WatchTestProcess();
        return server;
    }

    /// <summary>
    /// The test host is usually ended without running exit handlers, and pg_ctl's postmaster is a daemon that outlives
    /// it: a detached shell (its parent exits at once, so no process-tree kill reaches it) waits for this process to
    /// end, then stops the server and removes its folder.
    /// </summary>
    private void WatchTestProcess()
    {
        static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var stop = string.Join(' ', new[] { Path.Combine(_bin, "pg_ctl"), "-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop" }.Select(Quote));
        var script = $"( while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {(_runAs is null ? "" : $"runuser -u {_runAs} -- ")}{stop} >/dev/null 2>&1; rm -rf {Quote(_folder)} ) </dev/null >/dev/null 2>&1 &";
        using var watcher = Process.Start(new ProcessStartInfo("sh", ["-c", script]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not start the PostgreSQL watcher");
        watcher.WaitForExit();
    }

    private void Stop()
    {
        StopQuietly(_bin, _folder, _runAs);
        if (!Directory.Exists(_folder))
        {
            return;
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"PostgresServer: could not remove {_folder}: {ex.Message}");
        }
    }

    private static void StopQuietly(string bin, string folder, string? runAs)
    {
        if (!File.Exists(Path.Combine(folder, "data", "postmaster.pid")))
        {
            return;
        }

        try
        {
            Run(Path.Combine(bin, "pg_ctl"), ["-D", Path.Combine(folder, "data"), "-m", "immediate", "-w", "stop"], runAs);
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine($"PostgresServer: could not stop the test server in {folder}: {ex.Message}");
        }
    }

    private static string? FindBin()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return Path.GetDirectoryName(Path.GetFullPath(new FileInfo(Path.Combine(dir, "initdb")).ResolveLinkTarget(true)?.FullName ?? Path.Combine(dir, "initdb")));
            }
        }

        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;
    }


    /// <summary>Runs a program (as <paramref name="runAs"/> when given); throws with its output when it fails.</summary>
    public static void Run(string program, IReadOnlyList<string> arguments, string? runAs)
    {
        var start = new ProcessStartInfo(runAs is null ? program : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (runAs is not null)
        {
            foreach (var part in new[] { "-u", runAs, "--", program })
            {
                start.ArgumentList.Add(part);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr} {stdout.Result}");
        }
    }
}
