using System.Net.Sockets;
using System.Text;

namespace LabelLens.Tests;

/// <summary>
/// boto3 and the AWS CLI send `Expect: 100-continue` and hold the body back. A refusal that answers before the
/// body is read must leave the client's next request on that connection intact (issue 16, item 1).
/// </summary>
public sealed class ExpectContinueTests(S3ClientServeFixture serve) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-expect-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Boto3_put_to_a_missing_bucket_then_list_on_the_same_client_both_answer_correctly()
    {
        const string script = """
            import os, sys, boto3, botocore
            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
            s3.create_bucket(Bucket="expect-existing")
            s3.put_object(Bucket="expect-existing", Key="present.txt", Body=b"here")
            for size in (10, 4096, 100000):
                try:
                    s3.put_object(Bucket="expect-missing", Key="k", Body=b"0" * size)
                    print("put", size, "succeeded")
                except botocore.exceptions.ClientError as e:
                    print("put", size, e.response["Error"]["Code"])
                keys = [o["Key"] for o in s3.list_objects_v2(Bucket="expect-existing").get("Contents", [])]
                print("list", size, ",".join(keys))
            """;
        var text = await Boto3.RunAsync(_work, script, new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint }, serve.LogTail);
        Assert.Equal(
            ["put 10 NoSuchBucket", "list 10 present.txt", "put 4096 NoSuchBucket", "list 4096 present.txt", "put 100000 NoSuchBucket", "list 100000 present.txt"],
            text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Theory]
    [InlineData("s3", "PUT /expect-missing/k HTTP/1.1")]
    [InlineData("rest", "PUT /api/v1/buckets/x/objects/k HTTP/1.1")]
    public async Task An_early_refusal_of_a_held_back_body_closes_the_connection_instead_of_reading_the_next_request_as_the_body(string listener, string requestLine)
    {
        var endpoint = new Uri(listener == "s3" ? serve.S3Endpoint : serve.Http.BaseAddress!.ToString());
        using var client = new TcpClient();
        await client.ConnectAsync(endpoint.Host, endpoint.Port);
        var stream = client.GetStream();
        var request = $"{requestLine}\r\nHost: {endpoint.Authority}\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));

        // The refusal arrives without a 100 Continue (the body is never sent), whole, and says the connection
        // ends with it: the client's next request goes on a new connection, not into this one as a body.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (!IsComplete(received.ToArray()))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, $"the connection ended before the response did: {Encoding.ASCII.GetString(received.ToArray())}");
            received.Write(buffer, 0, read);
        }

        var response = Encoding.ASCII.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 4", response, StringComparison.Ordinal);
        Assert.DoesNotContain("100 Continue", response, StringComparison.Ordinal);
        Assert.Contains("Connection: close", response, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether the bytes hold a whole response: its head and the Content-Length bytes after it.</summary>
    private static bool IsComplete(byte[] bytes)
    {
        var text = Encoding.ASCII.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var length = text[..end].Split("\r\n")
            .Where(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(line => int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();
        return bytes.Length >= end + 4 + length;
    }
}
