using System.Diagnostics;

namespace LabelLens.Tests;

/// <summary>
/// Runs a Python script with Debian's boto3 against the test server, with the fixture's key pair and nothing
/// from the machine's AWS configuration. boto3 is required, never skipped (.ci/run installs python3-boto3).
/// </summary>
internal static class Boto3
{
    /// <returns>The script's stdout; a non-zero exit fails the test with its stderr and the server's log.</returns>
    public static async Task<string> RunAsync(string workFolder, string script, IReadOnlyDictionary<string, string> environment, Func<string> serverLog, params string[] arguments)
    {
        const string python = "/usr/bin/python3";
        Assert.True(File.Exists(python), "Debian's python3 is required (apt-get install -y python3 python3-boto3; .ci/run installs them).");
        var path = Path.Combine(workFolder, $"script-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, script);
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(path);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal) || k.StartsWith("PYTHON", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["AWS_ACCESS_KEY_ID"] = S3ClientServeFixture.AccessKey;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = S3ClientServeFixture.SecretKey;
        start.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        start.Environment["AWS_CONFIG_FILE"] = Path.Combine(workFolder, "no-config");
        start.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(workFolder, "no-credentials");
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var (text, errors) = (await stdout, await stderr);
        Assert.True(
            process.ExitCode == 0,
            errors.Contains("No module named 'boto3'", StringComparison.Ordinal)
                ? "Debian's python3-boto3 is not installed (apt-get install -y python3-boto3; .ci/run installs it); these tests do not skip."
                : $"{Path.GetFileName(path)} exited with {process.ExitCode}:\n{errors}\nstdout:\n{text}\nserver log:\n{serverLog()}");
        return text;
    }
}
