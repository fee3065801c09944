using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace LabelLens.S3Bench;

/// <summary>
/// `dotnet labellens.dll serve --port P --s3-port Q --data DIR --models DIR` with the quick-start key pair in
/// LABELLENS_ACCESS_KEY / LABELLENS_SECRET_KEY: the server exactly as a user starts it, in its own process so
/// its CPU time can be read apart from the clients'.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _output = new();

    private ServeProcess(Process process, Uri rest, Uri s3)
    {
        _process = process;
        RestAddress = rest;
        S3Address = s3;
        Http = new HttpClient { BaseAddress = rest, Timeout = TimeSpan.FromMinutes(5) };
    }

    public Uri RestAddress { get; }

    public Uri S3Address { get; }

    /// <summary>For the bench's own calls to the REST API (queue, readiness); not the measured client.</summary>
    public HttpClient Http { get; }

    /// <summary>CPU time (user + system) the server process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<ServeProcess> StartAsync(string serverDll, string dataFolder, string modelsFolder, string accessKey, string secretKey)
    {
        var port = FreePort();
        var s3Port = FreePort();
        while (s3Port == port)
        {
            s3Port = FreePort();
        }

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[] { serverDll, "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--s3-port", s3Port.ToString(CultureInfo.InvariantCulture), "--data", dataFolder, "--models", modelsFolder })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("LABELLENS_MODELS");
        start.Environment["LABELLENS_ACCESS_KEY"] = accessKey;
        start.Environment["LABELLENS_SECRET_KEY"] = secretKey;
        start.Environment["LABELLENS_Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start dotnet {serverDll}");
        var server = new ServeProcess(process, new Uri($"http://127.0.0.1:{port}/"), new Uri($"http://127.0.0.1:{s3Port}/"));
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Waits until no labeling job is queued or running, so the next measurement starts on a quiet server.</summary>
    public async Task WaitForEmptyQueueAsync()
    {
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (true)
        {
            using var queue = JsonDocument.Parse(await Http.GetStringAsync(new Uri("/api/v1/queue", UriKind.Relative)));
            if (queue.RootElement.GetProperty("jobs").GetProperty("depth").GetInt64() == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the labeling queue did not drain in 10 minutes");
            }

            await Task.Delay(100);
        }
    }

    public string RecentOutput()
    {
        lock (_output)
        {
            return string.Join(Environment.NewLine, _output);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http.Dispose();
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync(new Uri("/readyz", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"serve exited with {_process.ExitCode}:{Environment.NewLine}{RecentOutput()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"serve was not ready in 60 s:{Environment.NewLine}{RecentOutput()}");
            }

            await Task.Delay(100);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 200)
            {
                _output.Dequeue();
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
