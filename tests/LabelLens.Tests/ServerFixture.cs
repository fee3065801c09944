using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LabelLens.Server;
using Microsoft.AspNetCore.Builder;

namespace LabelLens.Tests;

/// <summary>
/// A real `serve` in this process: Kestrel on a free loopback port, a temporary data folder, the real model.
/// Tests talk to it over real HTTP.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Dictionary<string, string?> _settings;
    private readonly string _root;
    private WebApplication? _app;

    public ServerFixture()
        : this([])
    {
    }

    public ServerFixture(Dictionary<string, string?> settings)
    {
        // The data folder sits alone in its own parent, so a test can check that nothing appears beside it
        // (other tests create and delete temporary folders in /tmp at the same time).
        _root = Directory.CreateTempSubdirectory("labellens-serve-").FullName;
        DataFolder = Path.Combine(_root, "data");
        Directory.CreateDirectory(DataFolder);
        _settings = new Dictionary<string, string?>
        {
            ["Server:Port"] = "0",
            ["Server:DataFolder"] = DataFolder,
            ["Models:Folder"] = TestData.ModelsFolder,
            ["Models:AutoDownload"] = "false",
            ["Queue:PollSeconds"] = "0.2",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }
    }

    public string DataFolder { get; }

    public HttpClient Client { get; private set; } = null!;

    public WebApplication App => _app!;

    public async Task InitializeAsync()
    {
        _app = LabelLensServer.Create(_settings);
        await _app.StartAsync();
        Client = new HttpClient { BaseAddress = LabelLensServer.Address(_app), Timeout = TimeSpan.FromMinutes(2) };
        // S3 key pairs protect the REST API too: the fixture's client calls it with the pair's secret.
        if (_settings.GetValueOrDefault("Server:S3Credentials:0:SecretKey") is { Length: > 0 } secret)
        {
            Client.DefaultRequestHeaders.Add("X-Api-Key", secret);
        }
    }

    /// <summary>Until /readyz answers 200: the model is loaded.</summary>
    public async Task WaitForReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await Client.GetAsync("/readyz")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server was not ready in 60 s");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    public async Task<JsonElement> UploadAsync(string bucket, string key, byte[] content, string contentType = "image/jpeg", HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await Client.PutAsync($"/api/v1/buckets/{bucket}/objects/{Escape(key)}", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"PUT {key}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Polls an image until labeling is over (labeled or failed) and returns it with its labels.</summary>
    public async Task<JsonElement> WaitForImageAsync(string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var image = await GetJsonAsync($"/api/v1/images/{id}");
            var status = image.GetProperty("image").GetProperty("status").GetString();
            if (status is "labeled" or "failed")
            {
                return image;
            }

            Assert.True(DateTime.UtcNow < deadline, $"image {id} still {status}");
            await Task.Delay(50);
        }
    }

    public static string Escape(string key) => string.Join('/', key.Split('/').Select(Uri.EscapeDataString));

    public static List<string> LabelNames(JsonElement image) =>
        image.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToList();

    public static JsonElement Label(JsonElement image, string name) =>
        image.GetProperty("labels").EnumerateArray().Single(l => l.GetProperty("name").GetString() == name);

    public static Task<T?> ReadAsync<T>(HttpResponseMessage response) => response.Content.ReadFromJsonAsync<T>(Json);
}
