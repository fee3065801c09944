using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace LabelLens.Storage;

/// <summary>
/// Part bytes as files of the data folder: <c>data/multipart/&lt;uploadId&gt;/00001-&lt;random&gt;.part</c>, streamed
/// into a temporary file, flushed, then renamed into place. A location is the path under data/multipart/.
/// </summary>
public sealed class FileMultipartPartStore : IMultipartPartStore
{
    /// <summary>What LabelLens before catalog-kept uploads wrote per upload; see <see cref="ImportLegacyAsync"/>.</summary>
    private const string LegacyManifest = "upload.json";

    private readonly string _root;

    public FileMultipartPartStore(string dataFolder)
    {
        _root = Path.GetFullPath(Path.Combine(dataFolder, "multipart"));
        Directory.CreateDirectory(_root);
    }

    public async Task<MultipartPartBytes> WriteAsync(string uploadId, int number, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var folder = Resolve(uploadId);
        Directory.CreateDirectory(folder);
        var name = $"{number.ToString("D5", CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}";
        var temp = Path.Combine(folder, name + ".tmp");
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    size += read;
                    md5.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, Path.Combine(folder, name + ".part"));
            return new MultipartPartBytes($"{uploadId}/{name}.part", Convert.ToHexStringLower(md5.GetHashAndReset()), size);
        }
        finally
        {
            // A full disk or a dropped client leaves no partial file.
            File.Delete(temp);
        }
    }

    public Task<Stream> OpenReadAsync(string location, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<Stream>(new FileStream(Resolve(location), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StorageException(StorageError.NoSuchKey, "The part's bytes are gone (the upload was completed or aborted meanwhile).");
        }
    }

    public Task DeleteAsync(string uploadId, IReadOnlyList<string> locations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(locations);
        foreach (var location in locations)
        {
            File.Delete(Resolve(location));
        }

        try
        {
            // Only when empty: a part of the same upload may still be streaming into it (it deletes itself when it
            // finds the upload gone, and tidies the folder then).
            var folder = Resolve(uploadId);
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
            {
                Directory.Delete(folder);
            }
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Brings uploads that an older LabelLens kept in data/multipart/&lt;id&gt;/ (upload.json beside
    /// <c>00001-&lt;md5&gt;.part</c> files) into <paramref name="records"/>, so they can still be listed, continued and
    /// completed. The part files stay where they are (their path is their location); upload.json is deleted last,
    /// once every record is in, so an interrupted import simply runs again at the next start (every step is idempotent).
    /// </summary>
    /// <returns>How many uploads were imported.</returns>
    public async Task<int> ImportLegacyAsync(IMultipartStore records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        var imported = 0;
        foreach (var folder in Directory.EnumerateDirectories(_root))
        {
            var manifest = Path.Combine(folder, LegacyManifest);
            var uploadId = Path.GetFileName(folder);
            if (!File.Exists(manifest) || !IsId(uploadId))
            {
                continue;
            }

            try
            {
                if (await ImportFolderAsync(records, folder, uploadId, manifest, cancellationToken))
                {
                    imported++;
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Processes sharing this data folder (one machine, several --role processes) import at once: another one got here first.
            }
        }

        return imported;
    }

    private async Task<bool> ImportFolderAsync(IMultipartStore records, string folder, string uploadId, string manifest, CancellationToken cancellationToken)
    {
        LegacyUpload? legacy;
        try
        {
            legacy = JsonSerializer.Deserialize<LegacyUpload>(await File.ReadAllTextAsync(manifest, cancellationToken));
        }
        catch (JsonException)
        {
            legacy = null;
        }

        if (legacy is null || legacy.UploadId != uploadId)
        {
            return false; // not something this import understands: left alone rather than guessed at
        }

        await records.CreateUploadAsync(new MultipartUpload(uploadId, legacy.Bucket, legacy.Key, legacy.Initiated, legacy.ContentType, legacy.Metadata ?? [], legacy.Headers ?? []), cancellationToken);
        // A re-run after an interrupted import finds some parts recorded already: those records stand.
        var recorded = (await records.ListPartsAsync(uploadId, cancellationToken)).ToDictionary(p => p.Number, p => p.Location);
        foreach (var path in Directory.EnumerateFiles(folder, "*.part").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (name.Length != 5 + 1 + 32 || name[5] != '-' || !int.TryParse(name[..5], NumberStyles.None, CultureInfo.InvariantCulture, out var number) || !IsId(name[6..]))
            {
                continue;
            }

            var location = $"{uploadId}/{name}.part";
            if (recorded.TryGetValue(number, out var existing))
            {
                if (existing != location)
                {
                    await DeleteAsync(uploadId, [location], cancellationToken); // a leftover the record does not point at
                }

                continue;
            }

            var info = new FileInfo(path);
            await records.PutPartAsync(uploadId, new MultipartPart(number, name[6..], info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero), location), cancellationToken);
            recorded[number] = location;
        }

        // Parts (<guid>.tmp) and manifests the older server was still writing when it stopped; not this version's
        // 00001-<guid>.tmp, which another process sharing the data folder may be writing right now.
        foreach (var partial in Directory.EnumerateFiles(folder, "*.tmp").Where(p => Path.GetFileNameWithoutExtension(p) is var n && (IsId(n) || n == LegacyManifest)))
        {
            File.Delete(partial);
        }

        File.Delete(manifest);
        return true;
    }

    /// <summary>The full path of a location (or an upload's folder), refusing anything outside data/multipart/.</summary>
    private string Resolve(string location)
    {
        var path = Path.GetFullPath(Path.Combine(_root, location));
        return path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new StorageException(StorageError.InvalidKey, "A multipart location outside the multipart folder.");
    }

    private static bool IsId(string value) => value.Length == 32 && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>upload.json as the older LabelLens serialized it (System.Text.Json, property names as declared).</summary>
    private sealed record LegacyUpload(string UploadId, string Bucket, string Key, DateTimeOffset Initiated, string? ContentType, Dictionary<string, string>? Metadata, Dictionary<string, string>? Headers);
}
