using System.Security.Cryptography;
using System.Text.Json;
using LabelLens.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabelLens.Application;

/// <summary>An upload that has started to replace an object's bytes and is not yet in the catalog.</summary>
public sealed record PendingUpload(string Bucket, string Key);

/// <summary>
/// The store puts an upload's bytes in place before the catalog records it (a reader must never find a catalog
/// row whose bytes are missing). A crash, or a catalog that cannot write (disk full), between the two would leave
/// bytes no client was ever told about. So every upload leaves a note in <c>data/pending</c> for that window;
/// a note still there after a failure, or at the next start, says which key to reconcile.
/// </summary>
public sealed class UploadJournal
{
    private readonly string _folder;

    public UploadJournal(string dataFolder)
    {
        _folder = Path.Combine(dataFolder, "pending");
        Directory.CreateDirectory(_folder);
    }

    /// <summary>Notes the upload; returns the note to pass to <see cref="End"/>.</summary>
    public async Task<string> BeginAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        var note = Path.Combine(_folder, $"{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(note, JsonSerializer.Serialize(new PendingUpload(bucket, key)), cancellationToken);
        return note;
    }

    /// <summary>The upload is in the catalog (or reconciled): forget it.</summary>
    public static void End(string note) => File.Delete(note);

    /// <summary>Notes left by uploads that did not finish.</summary>
    public IReadOnlyList<(string Note, PendingUpload? Upload)> Unfinished()
    {
        var notes = new List<(string, PendingUpload?)>();
        foreach (var note in Directory.EnumerateFiles(_folder, "*.json"))
        {
            PendingUpload? upload;
            try
            {
                upload = JsonSerializer.Deserialize<PendingUpload>(File.ReadAllText(note));
            }
            catch (JsonException)
            {
                upload = null; // cut short by the crash before any byte was stored
            }

            notes.Add((note, upload));
        }

        return notes;
    }
}

/// <summary>What reconciling an unfinished upload did.</summary>
public enum Reconciled
{
    /// <summary>The catalog already describes the stored bytes (or nothing was stored): nothing to do.</summary>
    InAgreement,

    /// <summary>The bytes were never recorded and no client got a 2xx: they were removed.</summary>
    OrphanRemoved,

    /// <summary>The bytes replaced a recorded object's; the catalog now records them (and queues labeling).</summary>
    Recorded,
}

/// <summary>At start, before requests are served: reconciles the uploads a crash (or a full disk) left unfinished.</summary>
public sealed class UploadRecovery(UploadJournal journal, Uploader uploader, ILogger<UploadRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var counts = new Dictionary<Reconciled, int>();
        foreach (var (note, upload) in journal.Unfinished())
        {
            try
            {
                if (upload is not null)
                {
                    var outcome = await uploader.ReconcileAsync(upload, expectedSha256: null, cancellationToken);
                    counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
                }

                UploadJournal.End(note);
            }
            catch (Exception ex) when (ex is IOException or StorageException || DiskFull.Is(ex))
            {
                logger.LogError("The unfinished upload noted in {Note} could not be reconciled ({Error}); it is tried again at the next start", note, ex.Message);
            }
        }

        if (counts.Count > 0)
        {
            logger.LogWarning(
                "Unfinished uploads from before the last stop: {Removed} object file(s) that never got a reply removed, {Recorded} replaced object(s) recorded, {Agreed} already consistent",
                counts.GetValueOrDefault(Reconciled.OrphanRemoved),
                counts.GetValueOrDefault(Reconciled.Recorded),
                counts.GetValueOrDefault(Reconciled.InAgreement));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Hashes a stored object as the store does while writing it.</summary>
internal static class StoredHashes
{
    public static async Task<StoredObject?> ReadAsync(IObjectStore store, string bucket, string key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var stream = await store.OpenReadAsync(bucket, key, cancellationToken);
        if (stream is null)
        {
            return null;
        }

        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long size = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            md5.AppendData(buffer, 0, read);
            sha256.AppendData(buffer, 0, read);
            size += read;
        }

        return new StoredObject(bucket, key, size, Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha256.GetHashAndReset()), now);
    }
}
