using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Amazon.S3.Model;

namespace LabelLens.Tests;

/// <summary>
/// Two in-process servers: "external" plays the user's own S3 bucket host (its S3 listener, with credentials;
/// no model, so it labels nothing itself), and "main" is configured with it as ExternalStores:ext, takes S3
/// events with a token, and sends webhooks to a local receiver that fails its first delivery.
/// </summary>
public sealed class ExternalStoreFixture : IAsyncLifetime
{
    public const string EventsToken = "events-token-0123456789";
    public const string WebhookSecret = "hook-secret/abc+def";

    // As senders write it: '+' and '%' stay literal in the JSON text.
    private static readonly JsonSerializerOptions Raw = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string _emptyModels = Directory.CreateTempSubdirectory("labellens-nomodels-").FullName;

    public ExternalStoreFixture()
    {
        External = new S3ServerFixture(new Dictionary<string, string?>
        {
            ["Models:Folder"] = _emptyModels,
            ["Logging:LogLevel:Default"] = "None",
        });
    }

    /// <summary>The external store: a LabelLens S3 listener.</summary>
    public S3ServerFixture External { get; }

    /// <summary>The server under test.</summary>
    public ServerFixture Main { get; private set; } = null!;

    public WebhookReceiver Receiver { get; } = new(failFirst: 1);

    public async Task InitializeAsync()
    {
        await External.InitializeAsync();
        foreach (var bucket in new[] { "camera", "archive", "hooks" })
        {
            await External.S3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        }

        Main = new ServerFixture(new Dictionary<string, string?>(StoreSettings)
        {
            ["Events:Token"] = EventsToken,
            ["Webhooks:0:Url"] = Receiver.Url,
            ["Webhooks:0:Secret"] = WebhookSecret,
            ["Webhooks:0:RetryBaseSeconds"] = "0.2",
            ["Webhooks:0:PollSeconds"] = "0.1",
        });
        await Main.InitializeAsync();
    }

    /// <summary>ExternalStores:ext pointing at the external server, for the main server and the CLI.</summary>
    public IReadOnlyDictionary<string, string?> StoreSettings => new Dictionary<string, string?>
    {
        ["ExternalStores:ext:ServiceUrl"] = External.S3Address.ToString(),
        ["ExternalStores:ext:Region"] = "us-east-1",
        ["ExternalStores:ext:AccessKey"] = S3ServerFixture.AccessKey,
        ["ExternalStores:ext:SecretKey"] = S3ServerFixture.SecretKey,
        ["ExternalStores:ext:ForcePathStyle"] = "true",
        ["ExternalStores:ext:Buckets:0"] = "camera",
        ["ExternalStores:ext:Buckets:1"] = "archive",
        ["ExternalStores:ext:Buckets:2"] = "hooks",
    };

    public async Task DisposeAsync()
    {
        await Main.DisposeAsync();
        await External.DisposeAsync();
        Receiver.Dispose();
        Directory.Delete(_emptyModels, recursive: true);
    }

    /// <summary>Puts a file into the external store with AWSSDK.S3; returns its ETag (no quotes).</summary>
    public async Task<string> PutExternalAsync(string bucket, string key, byte[] content)
    {
        using var stream = new MemoryStream(content);
        var response = await External.S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = stream, ContentType = "image/jpeg" });
        return response.ETag.Trim('"');
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> PostEventAsync(string json, string? token = EventsToken, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events/s3") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await (client ?? Main.Client).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public static string AwsKey(string key) => WebUtility.UrlEncode(key).Replace("%2F", "/", StringComparison.Ordinal);

    /// <summary>An AWS S3 notification (as delivered to SQS/SNS/Lambda): keys form-encoded, '+' for spaces.</summary>
    public static string AwsEvent(params (string EventName, string Bucket, string Key, string? ETag, long Size, string Sequencer)[] records) =>
        JsonSerializer.Serialize(new
        {
            Records = records.Select(r => new Dictionary<string, object?>
            {
                ["eventVersion"] = "2.1",
                ["eventSource"] = "aws:s3",
                ["awsRegion"] = "us-east-1",
                ["eventTime"] = "2026-05-01T12:00:00.000Z",
                ["eventName"] = r.EventName,
                ["userIdentity"] = new { principalId = "AWS:AIDAEXAMPLE" },
                ["requestParameters"] = new { sourceIPAddress = "203.0.113.7" },
                ["responseElements"] = new Dictionary<string, string> { ["x-amz-request-id"] = "C3D13FE58DE4C810", ["x-amz-id-2"] = "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD" },
                ["s3"] = new Dictionary<string, object?>
                {
                    ["s3SchemaVersion"] = "1.0",
                    ["configurationId"] = "labellens",
                    ["bucket"] = new { name = r.Bucket, ownerIdentity = new { principalId = "A3NL1KOZZKExample" }, arn = "arn:aws:s3:::" + r.Bucket },
                    ["object"] = r.EventName.StartsWith("ObjectRemoved", StringComparison.Ordinal)
                        ? new Dictionary<string, object?> { ["key"] = AwsKey(r.Key), ["sequencer"] = r.Sequencer }
                        : new Dictionary<string, object?> { ["key"] = AwsKey(r.Key), ["size"] = r.Size, ["eTag"] = r.ETag, ["sequencer"] = r.Sequencer },
                },
            }),
        },
        Raw);

    /// <summary>A MinIO webhook notification: EventName and Key at the top, "s3:" event names, eventVersion 2.0, keys query-escaped ('/' as %2F).</summary>
    public static string MinioEvent(string eventName, params (string Bucket, string Key, string ETag, long Size, string Sequencer)[] records) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["EventName"] = eventName,
            ["Key"] = records[0].Bucket + "/" + records[0].Key,
            ["Records"] = records.Select(r => new Dictionary<string, object?>
            {
                ["eventVersion"] = "2.0",
                ["eventSource"] = "minio:s3",
                ["awsRegion"] = "",
                ["eventTime"] = "2026-05-01T12:00:00.123Z",
                ["eventName"] = eventName,
                ["userIdentity"] = new { principalId = "minioadmin" },
                ["requestParameters"] = new { principalId = "minioadmin", region = "", sourceIPAddress = "127.0.0.1" },
                ["responseElements"] = new Dictionary<string, string> { ["x-amz-id-2"] = "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8", ["x-amz-request-id"] = "17A9AB4FA93B7A4F", ["x-minio-deployment-id"] = "1b4ab8b5-5ba5-4c5c-8d40-2d2e5b0b0d55", ["x-minio-origin-endpoint"] = "http://127.0.0.1:9000" },
                ["s3"] = new Dictionary<string, object?>
                {
                    ["s3SchemaVersion"] = "1.0",
                    ["configurationId"] = "Config",
                    ["bucket"] = new { name = r.Bucket, ownerIdentity = new { principalId = "minioadmin" }, arn = "arn:aws:s3:::" + r.Bucket },
                    ["object"] = new Dictionary<string, object?>
                    {
                        ["key"] = WebUtility.UrlEncode(r.Key),
                        ["size"] = r.Size,
                        ["eTag"] = r.ETag,
                        ["contentType"] = "image/jpeg",
                        ["userMetadata"] = new Dictionary<string, string> { ["content-type"] = "image/jpeg" },
                        ["sequencer"] = r.Sequencer,
                    },
                },
                ["source"] = new { host = "127.0.0.1", port = "", userAgent = "MinIO (linux; amd64) minio-go/v7.0.70" },
            }),
        },
        Raw);
}

/// <summary>A local webhook receiver (HttpListener) that answers 500 to its first <c>failFirst</c> requests, 200 after.</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener;
    private readonly int _failFirst;
    private int _count;

    public WebhookReceiver(int failFirst)
    {
        _failFirst = failFirst;
        (_listener, var url) = LoopbackHttpListener.Start("hooks/labellens/");
        Url = url.AbsoluteUri;
        _ = Task.Run(LoopAsync);
    }

    public string Url { get; }

    /// <summary>Every request received, in order, with the status it was answered.</summary>
    public ConcurrentQueue<ReceivedHook> Requests { get; } = new();

    public void Dispose() => _listener.Close();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var memory = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(memory);
            var status = Interlocked.Increment(ref _count) <= _failFirst ? 500 : 200;
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue(new ReceivedHook(headers, memory.ToArray(), status));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }
}

public sealed record ReceivedHook(IReadOnlyDictionary<string, string> Headers, byte[] Body, int Status)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();
}
