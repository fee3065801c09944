using System.Net;
using System.Net.Sockets;

namespace LabelLens.Tests;

/// <summary>The first five minutes of a new user (issue 16, items 19-20), with `labellens serve` as they run it.</summary>
public sealed class FirstMinutesTests
{
    [Fact]
    public async Task Serve_starts_without_s3_and_says_so_loudly_when_the_s3_port_is_taken()
    {
        // Something else (MinIO, a second LabelLens) holds the S3 port.
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        using var serve = new ServeProcess("labellens-s3taken-", taken);
        await serve.StartAsync();

        using var health = await serve.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var upload = await serve.Client.PutAsync("/api/v1/buckets/first-run/objects/dog.jpg", new ByteArrayContent(TestData.ImageBytes("dog.jpg")));
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var log = serve.LogTail();
        Assert.Contains("The S3-compatible endpoint is OFF", log, StringComparison.Ordinal);
        Assert.Contains($"port {taken}", log, StringComparison.Ordinal);
    }
}
