using LabelLens.Detection;
using LabelLens.Storage;
using LabelLens.Storage.External;

namespace LabelLens.Application;

/// <summary>Reads the bytes of an image that lives in an external store, for the labeling worker.</summary>
public static class ExternalReads
{
    /// <summary>Downloads the object, refusing one over <paramref name="maxBytes"/> before reading its body.</summary>
    public static async Task<byte[]> ReadAsync(ExternalStores stores, string source, ClaimedJob job, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(job);
        var store = stores.Find(source)
            ?? throw new InvalidOperationException($"the image comes from external store '{source}', which is not configured (ExternalStores:{source})");
        await using var body = await store.OpenStreamAsync(job.Bucket, job.Key, cancellationToken)
            ?? throw new InvalidOperationException($"the object is missing from external store '{source}'");
        if (body.Length > maxBytes)
        {
            throw new ImageRejectedException(ImageError.ImageTooLarge, $"{body.Length:N0} bytes is over the {maxBytes:N0}-byte limit");
        }

        var bytes = new byte[body.Length];
        await body.Body.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }
}
