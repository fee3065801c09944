using LabelLens.Storage;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>Stores an upload and records it in the catalog with its labeling job; shared by every upload path.</summary>
public sealed class Uploader(IObjectStore store, IImageCatalog catalog, QueueSignal signal, ServerMetrics metrics, IOptions<UploadOptions> options)
{
    public async Task<UploadOutcome> StoreAsync(string bucket, string key, Stream content, string? contentType, CancellationToken cancellationToken)
    {
        try
        {
            ObjectNames.ValidateBucket(bucket);
            ObjectNames.ValidateKey(key);
            await store.CreateBucketAsync(bucket, cancellationToken);
            var stored = await store.PutAsync(bucket, key, content, options.Value.MaxObjectBytes, cancellationToken);
            // Videos are recognised by their bytes (never the name) and go to the video worker.
            var mediaType = await VideoServices.MediaTypeAsync(store, stored, cancellationToken);
            var outcome = await catalog.RecordUploadAsync(stored, string.IsNullOrWhiteSpace(contentType) ? null : contentType, cancellationToken, mediaType);
            if (outcome.Enqueued)
            {
                signal.Notify();
            }

            metrics.Upload(outcome.Enqueued);
            return outcome;
        }
        catch (StorageException)
        {
            metrics.UploadRefused();
            throw;
        }
    }
}

/// <summary>
/// The upload limit, read from the "Server" section (Server:MaxObjectBytes) where `serve` also reads it for its
/// request-size limit: one setting, so an upload the listener accepts is one the uploader accepts.
/// </summary>
public sealed class UploadOptions
{
    public const string Section = "Server";

    /// <summary>Largest object accepted by an upload (default 5 GiB).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, long.MaxValue)]
    public long MaxObjectBytes { get; set; } = 5L * 1024 * 1024 * 1024;
}
