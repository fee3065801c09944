using System.Diagnostics;
using System.Net.Sockets;

namespace LabelLens.Tests;

/// <summary>
/// s3rver (npm), an S3-compatible server that is not LabelLens, as a child process on a free port with one bucket:
/// the shared object store of the multi-process tests. .ci/run installs it into tests/s3rver with npm ci; a
/// machine without it fails the tests that need it, saying how to install it.
/// </summary>
public sealed class S3rverProcess : IDisposable
{
    /// <summary>s3rver's fixed credentials.</summary>
    public const string AccessKey = "S3RVER";

    private readonly Process _process;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("labellens-s3rver-");

    public S3rverProcess(string bucket)
    {
        var script = Path.Combine(TestData.RepositoryRoot, "tests", "s3rver", "node_modules", "s3rver", "bin", "s3rver.js");
        Assert.True(File.Exists(script), $"{script} is missing: run `npm ci --prefix tests/s3rver` (.ci/run does). These tests do not skip.");
        Port = ServeProcess.FreePort();
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, "-d", _folder.FullName, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-s", "--configure-bucket", bucket })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                Thread.Sleep(100);
            }
        }
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        _folder.Delete(recursive: true);
    }
}
