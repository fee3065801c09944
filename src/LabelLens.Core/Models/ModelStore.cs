using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Models;

/// <summary>Progress of one download; <see cref="TotalBytes"/> is null when the server does not say.</summary>
public readonly record struct DownloadProgress(string Model, long Bytes, long? TotalBytes);

/// <summary>The model file LabelLens will load, and the class names that go with it.</summary>
public sealed record LocalModel(string Name, string Path, IReadOnlyList<string> Classes);

/// <summary>Thrown when a model is not on disk and could not be fetched; the message says what to do.</summary>
public sealed class ModelMissingException : Exception
{
    public ModelMissingException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    public ModelMissingException() : this("The model is missing.")
    {
    }

    public ModelMissingException(string message) : this(message, null)
    {
    }
}

/// <summary>Finds models in the models folder and downloads catalog models into it.</summary>
public sealed class ModelStore(IOptions<ModelOptions> options, IHttpClientFactory httpClientFactory, ILogger<ModelStore> logger)
{
    public const string HttpClientName = "models";

    private readonly ModelOptions _options = options.Value;

    public string Folder => Path.GetFullPath(_options.Folder);

    public string DefaultModel => _options.Default;

    /// <summary>Where a model's file is expected (whether or not it exists).</summary>
    public string ExpectedPath(string name)
    {
        ValidateName(name);
        var entry = ModelCatalog.Find(name);
        if (entry is not null)
        {
            return Path.Combine(Folder, entry.Folder ?? entry.Name, entry.FileName);
        }

        // A model that is not in the catalog: the single .onnx file in its folder.
        var folder = Path.Combine(Folder, name);
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.onnx") : [];
        return files.Length == 1 ? files[0] : Path.Combine(folder, name.Replace('-', '_') + ".onnx");
    }

    /// <summary>The model if it is on disk, else null.</summary>
    public LocalModel? Find(string name)
    {
        var path = ExpectedPath(name);
        // A model of several files (the text analysis) is there only when every file it needs is.
        var companions = ModelCatalog.Find(name)?.Companions.Where(c => !c.Optional).Select(c => Path.Combine(Path.GetDirectoryName(path)!, c.FileName)) ?? [];
        return File.Exists(path) && companions.All(File.Exists) ? new LocalModel(name, path, ReadClasses(name, path)) : null;
    }

    /// <summary>The model, downloading it first when it is missing and auto-download is on.</summary>
    public async Task<LocalModel> EnsureAsync(string name, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        if (Find(name) is { } local)
        {
            return local;
        }

        var entry = ModelCatalog.Find(name);
        var path = ExpectedPath(name);
        var howTo = $"Put the file at {path}, run `labellens models pull {name}`, or point --models / LABELLENS_MODELS at a folder that has {name}/{Path.GetFileName(path)} (for example ../shared/models).";
        if (entry is null)
        {
            throw new ModelMissingException($"Model '{name}' is not in {Folder} and is not a catalog model ({string.Join(", ", ModelCatalog.All.Select(m => m.Name))}). {howTo}");
        }

        if (!_options.AutoDownload)
        {
            throw new ModelMissingException($"Model '{name}' is not in {Folder} (expected {path}). {howTo}");
        }

        logger.LogInformation("Model {Model} is not in {Folder}; downloading it from {Url}", name, Folder, SourceUrl(entry));
        try
        {
            await PullAsync(entry, progress, expectedSha256: null, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidDataException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ModelMissingException($"Model '{name}' is not in {Folder} (expected {path}) and downloading it from {SourceUrl(entry)} failed: {ex.Message}. {howTo}", ex);
        }

        return Find(name) ?? throw new ModelMissingException($"Model '{name}' was downloaded but is not at {path}.");
    }

    public Uri SourceUrl(ModelEntry entry) =>
        _options.MirrorUrl is { } mirror ? new Uri(EnsureSlash(mirror), entry.FileName) : entry.Url;

    /// <summary>Where a companion file of a catalog model is downloaded from (the mirror serves it by file name too).</summary>
    public Uri SourceUrl(ModelFile file) =>
        _options.MirrorUrl is { } mirror ? new Uri(EnsureSlash(mirror), file.FileName) : file.Url;

    /// <summary>
    /// Downloads a catalog model into the models folder: streamed to a temporary file beside the target,
    /// size and SHA-256 checked where known, flushed, then renamed into place so a reader never sees half a file.
    /// A model of several files gets the companions it is missing too, each checked the same way.
    /// </summary>
    public async Task<string> PullAsync(ModelEntry entry, IProgress<DownloadProgress>? progress, string? expectedSha256, CancellationToken cancellationToken, Uri? url = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var path = await DownloadAsync(entry.Name, new ModelFile(entry.FileName, url ?? SourceUrl(entry), entry.Bytes, expectedSha256 ?? entry.Sha256), progress, cancellationToken);
        foreach (var companion in entry.Companions.Where(c => !File.Exists(Path.Combine(Folder, entry.Folder ?? entry.Name, c.FileName))))
        {
            await DownloadAsync(entry.Name, companion with { Url = SourceUrl(companion) }, progress, cancellationToken);
        }

        return path;
    }

    private async Task<string> DownloadAsync(string model, ModelFile wanted, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var (url, target) = (wanted.Url, Path.Combine(Folder, ModelCatalog.Find(model)?.Folder ?? model, wanted.FileName));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + $".{Environment.ProcessId}.part";
        var http = httpClientFactory.CreateClient(HttpClientName);
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            var declared = response.Content.Headers.ContentLength;
            long written = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var source = await response.Content.ReadAsStreamAsync(cancellationToken))
            await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    written += read;
                    progress?.Report(new DownloadProgress(model, written, declared ?? wanted.Bytes));
                }

                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }

            var expectedBytes = wanted.Bytes ?? declared;
            if (expectedBytes is { } size && size != written)
            {
                throw new InvalidDataException($"download of {wanted.FileName} is incomplete: got {written:N0} bytes, expected {size:N0}");
            }

            var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            var pinned = wanted.Sha256;
            if (pinned is not null && !string.Equals(pinned, sha, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException($"download of {wanted.FileName} has SHA-256 {sha}, expected {pinned}");
            }

            File.Move(temp, target, overwrite: true);
            logger.LogInformation("Model {Model} saved to {Path} ({Bytes:N0} bytes, sha256 {Sha})", model, target, written, sha);
            return target;
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }

            // A failed first download leaves no empty model folder behind (it would look like a broken model).
            var folder = Path.GetDirectoryName(target)!;
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
            {
                Directory.Delete(folder);
            }
        }
    }

    /// <summary>
    /// Class names: a <c>classes.txt</c> (or <c>coco_classes.txt</c>) beside the model wins, one name per line,
    /// so any YOLOX export with its own classes works; then a classifier's <c>synset_words.txt</c> (WordNet ids);
    /// otherwise the catalog's list, otherwise COCO.
    /// </summary>
    public static IReadOnlyList<string> ReadClasses(string name, string modelPath)
    {
        var folder = Path.GetDirectoryName(modelPath)!;
        foreach (var candidate in new[] { "classes.txt", "coco_classes.txt" })
        {
            var file = Path.Combine(folder, candidate);
            if (File.Exists(file))
            {
                return File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            }
        }

        // A classifier's WordNet-keyed list (Caffe's and OpenCV's file): the id is the first word of each line.
        var synsets = Path.Combine(folder, "synset_words.txt");
        if (File.Exists(synsets))
        {
            return File.ReadAllLines(synsets).Select(l => l.Trim()).Where(l => l.Length > 0).Select(l => l.Split(' ', 2)[0]).ToList();
        }

        return ModelCatalog.Find(name)?.Classes ?? ModelCatalog.CocoClasses;
    }

    private static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(['/', '\\', '\0']) >= 0 || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a model name.", nameof(name));
        }
    }

    private static Uri EnsureSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
}
