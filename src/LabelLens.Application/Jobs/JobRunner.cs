using LabelLens.Detection;
using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Vision;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Runs one claimed job: reads the object, labels it, stores the labels, or records the failure (input
/// errors at once, anything else for retry with backoff). Used by the server's workers and by the CLI.
/// </summary>
public sealed class JobRunner(
    ICatalog catalog,
    IObjectStore store,
    IOptions<QueueOptions> queueOptions,
    IOptions<LabelingOptions> labelingOptions,
    IOptions<ImageOptions> imageOptions,
    IOptions<LabelLens.Vision.Ocr.TextOptions> textOptions,
    ILogger<JobRunner> logger,
    LabelLens.Storage.External.ExternalStores externalStores)
{
    /// <returns>Labeled, Superseded (the result no longer counted), Rejected (input error) or Error (will retry).</returns>
    public async Task<JobOutcome> RunAsync(ImageLabeler labeler, ClaimedJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labeler);
        ArgumentNullException.ThrowIfNull(job);
        var labeling = labelingOptions.Value;
        try
        {
            var bytes = await ReadObjectAsync(job, cancellationToken);
            if (job.IsTextOnly)
            {
                // A text job (after the labels landed, or a relabel of the text alone): the labels are not touched.
                var reading = labeler.ReadText(bytes, textOptions.Value.MinConfidence, cancellationToken);
                return await catalog.CompleteTextJobAsync(job, reading, cancellationToken) ? JobOutcome.Labeled : JobOutcome.Superseded;
            }

            var result = job.Analyses is { } only
                ? labeler.Label(bytes, labeling.Request, new PartialRun(only, await catalog.GetAnalysisLabelsAsync(job.ImageId, cancellationToken)), cancellationToken)
                : labeler.Label(bytes, labeling.Request, cancellationToken);
            return await catalog.CompleteJobAsync(job, result, labeling.MinConfidence, cancellationToken) ? JobOutcome.Labeled : JobOutcome.Superseded;
        }
        catch (ImageRejectedException ex)
        {
            // The bytes will not change by retrying: fail now, with the reason.
            await catalog.FailJobAsync(job, ex.ToString(), permanent: true, queueOptions.Value, CancellationToken.None);
            return JobOutcome.Rejected;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease lapses (or the next server takes it back) and the job runs again.
            throw;
        }
        catch (Exception ex) when (DiskFull.Is(ex))
        {
            // Not the job's fault, and recording a failure needs the disk too: the loop releases the job once it can.
            throw;
        }
        catch (Exception ex)
        {
            logger.LogWarning("Labeling {Bucket}/{Key} failed on attempt {Attempt}: {Error}", job.Bucket, ObjectNames.Printable(job.Key), job.Attempt, ex.Message);
            await catalog.FailJobAsync(job, $"InternalError: {ex.Message}", permanent: false, queueOptions.Value, CancellationToken.None);
            return JobOutcome.Error;
        }
    }

    private async Task<byte[]> ReadObjectAsync(ClaimedJob job, CancellationToken cancellationToken)
    {
        if (await catalog.GetImageSourceAsync(job.ImageId, cancellationToken) is { } source)
        {
            // Bring your own bucket: the bytes stay in the external store and are read from it.
            return await ExternalReads.ReadAsync(externalStores, source, job, imageOptions.Value.MaxBytes, cancellationToken);
        }

        await using var stream = await store.OpenReadAsync(job.Bucket, job.Key, cancellationToken)
            ?? throw new InvalidOperationException("the object is missing from the store");
        var limit = imageOptions.Value.MaxBytes;
        if (stream.Length > limit)
        {
            throw new ImageRejectedException(ImageError.ImageTooLarge, $"{stream.Length:N0} bytes is over the {limit:N0}-byte limit");
        }

        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }
}
