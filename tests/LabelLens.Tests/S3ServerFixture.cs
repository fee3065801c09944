using Amazon.Runtime;
using Amazon.S3;
using LabelLens.Server;

namespace LabelLens.Tests;

/// <summary>
/// A real `serve` in this process with its S3 listener on a free port and one access key pair; tests talk
/// to it with the real AWSSDK.S3 client (path style) and, for the REST side, over HTTP.
/// </summary>
public sealed class S3ServerFixture : IAsyncLifetime
{
    public const string AccessKey = "LLTESTACCESSKEY0001";
    public const string SecretKey = "test/secret+key/0123456789abcdefghijABCDEF";

    public S3ServerFixture()
        : this([])
    {
    }

    internal S3ServerFixture(Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Server:S3Port"] = "0",
            ["Server:S3Credentials:0:AccessKey"] = AccessKey,
            ["Server:S3Credentials:0:SecretKey"] = SecretKey,
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        Server = new ServerFixture(all);
    }

    public ServerFixture Server { get; }

    public Uri S3Address { get; private set; } = null!;

    public AmazonS3Client S3 { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>A Rekognition operation (<paramref name="target"/>, e.g. RekognitionService.DetectFaces) over real HTTP, signed with the fixture's key.</summary>
    public async Task<(System.Net.HttpStatusCode Status, System.Text.Json.Nodes.JsonObject Body)> CallRekognitionAsync(string target, object request)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(request));
        var headers = new Dictionary<string, string> { ["content-type"] = "application/x-amz-json-1.1", ["x-amz-target"] = target };
        using var message = S3TestSigner.Request(Server.Client.BaseAddress!, HttpMethod.Post, "/", body, AccessKey, SecretKey, headers: headers, service: "rekognition");
        using var response = await Http.SendAsync(message);
        return (response.StatusCode, System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    /// <summary>The request is refused with 400 and the service's error <paramref name="type"/>.</summary>
    public async Task AssertRekognitionErrorAsync(string target, object request, string type)
    {
        var (status, body) = await CallRekognitionAsync(target, request);
        Assert.True(status == System.Net.HttpStatusCode.BadRequest, body.ToJsonString());
        Assert.Equal(type, body["__type"]!.GetValue<string>());
    }

    /// <summary>What every image operation refuses the same way: bytes that are no picture, no Image, an unknown bucket.</summary>
    public async Task AssertImageErrorsAsync(string target)
    {
        await AssertRekognitionErrorAsync(target, new { Image = new { Bytes = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("not a picture at all")) } }, "InvalidImageFormatException");
        await AssertRekognitionErrorAsync(target, new { }, "InvalidParameterException");
        await AssertRekognitionErrorAsync(target, new { Image = new { S3Object = new { Bucket = "no-such-bucket", Name = "card.png" } } }, "InvalidS3ObjectException");
    }

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        S3Address = LabelLensServer.S3Address(Server.App) ?? throw new InvalidOperationException("The S3 listener is off.");
        S3 = Client(AccessKey, SecretKey);
    }

    public AmazonS3Client Client(string accessKey, string secretKey) => new(new BasicAWSCredentials(accessKey, secretKey), Config());

    public AmazonS3Config Config() => new()
    {
        ServiceURL = S3Address.ToString().TrimEnd('/'),
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        Timeout = TimeSpan.FromMinutes(2),
        MaxErrorRetry = 0,
    };

    public async Task DisposeAsync()
    {
        S3?.Dispose();
        Http.Dispose();
        await Server.DisposeAsync();
    }
}
