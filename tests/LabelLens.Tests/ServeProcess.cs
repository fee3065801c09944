using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;

namespace LabelLens.Tests;

/// <summary>
/// `labellens serve` as a real child process, as a user starts it: on a temporary data folder that outlives
/// the process (so a test can SIGKILL it and start it again on the same data) and goes with Dispose, with its
/// log kept for assertions and for failure messages.
/// </summary>
public sealed class ServeProcess : IDisposable
{
    private readonly string _data;
    private readonly int _s3Port;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    /// <param name="name">Start of the data folder's name, under the system's temporary folder.</param>
    /// <param name="s3Port">The S3 listener's port; 0 leaves it to the system.</param>
    public ServeProcess(string name, int s3Port = 0)
    {
        _data = Directory.CreateTempSubdirectory(name).FullName;
        _s3Port = s3Port;
        Port = FreePort();
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }

    /// <summary>More arguments for `serve` (--role worker, ...).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>The S3 listener's port as given (0: the system picked one).</summary>
    public int S3Port => _s3Port;

    /// <summary>The data folder serve is started on (--data).</summary>
    public string DataFolder => _data;

    /// <summary>Points at the REST API; stays usable across restarts (same port).</summary>
    public HttpClient Client { get; }

    /// <summary>Every line of stdout and stderr since the last <see cref="ClearOutput"/>.</summary>
    public IReadOnlyCollection<string> Output => _output;

    public Process Process => _process ?? throw new InvalidOperationException("serve is not running");

    /// <summary>
    /// A port nothing listens on, and never one handed out before in this test run: the system can give the same free
    /// port to two calls in a row (a serve's HTTP and S3 ports once came out equal, and serve refused to start).
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>Starts serve and waits for /readyz. <paramref name="environment"/>: variables to set, or to remove (null).</summary>
    public async Task StartAsync(IReadOnlyDictionary<string, string?>? environment = null)
    {
        Assert.True(File.Exists(TestData.CliDll), $"{TestData.CliDll} is not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { TestData.CliDll, "serve", "--port", Port.ToString(CultureInfo.InvariantCulture), "--s3-port", _s3Port.ToString(CultureInfo.InvariantCulture), "--data", _data, "--models", TestData.ModelsFolder }.Concat(ExtraArguments))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["LABELLENS_Queue__PollSeconds"] = "0.2";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        var process = Process.Start(start)!;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await Client.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            Assert.False(process.HasExited, $"serve exited with {(process.HasExited ? process.ExitCode : 0)}:\n{LogTail()}");
            Assert.True(DateTime.UtcNow < deadline, $"serve did not become ready in 60 s:\n{LogTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
    }

    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    public void ClearOutput() => _output.Clear();

    /// <summary>The data folder's catalog, read-only and unpooled (so the folder can be deleted after).</summary>
    public SqliteConnection OpenCatalog()
    {
        var db = new SqliteConnection($"Data Source={Path.Combine(_data, "catalog.db")};Mode=ReadOnly;Pooling=False");
        db.Open();
        return db;
    }

    public static long Count(SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public string LogTail()
    {
        var text = string.Join('\n', _output);
        return text.Length > 6000 ? text[^6000..] : text;
    }

    public void Dispose()
    {
        Stop();
        Client.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
