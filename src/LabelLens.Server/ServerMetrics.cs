using LabelLens.Storage;
using Prometheus;

namespace LabelLens.Server;

/// <summary>
/// Prometheus metrics (prometheus-net, exposed at /metrics). Counters and the latency histogram are
/// updated as work happens; job and image counts are read from the catalog at scrape time, so they are
/// exact even after a restart.
/// </summary>
public sealed class ServerMetrics
{
    private readonly Counter _uploads = Metrics.CreateCounter("labellens_uploads_total", "Objects stored through the API.", "result");
    private readonly Counter _labeled = Metrics.CreateCounter("labellens_labeling_total", "Labeling attempts by outcome.", "outcome");
    private readonly Histogram _labelingSeconds = Metrics.CreateHistogram(
        "labellens_labeling_seconds",
        "Time to read, decode, run the model on and store one image.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 12) });

    private static readonly Gauge Jobs = Metrics.CreateGauge("labellens_jobs", "Labeling jobs by state.", "state");
    private static readonly Gauge QueueDepth = Metrics.CreateGauge("labellens_queue_depth", "Jobs queued or running.");
    private static readonly Gauge Images = Metrics.CreateGauge("labellens_images", "Catalogued images by status.", "status");

    public ServerMetrics(SqliteCatalog catalog)
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(async cancellationToken =>
        {
            var queue = await catalog.GetQueueCountsAsync(cancellationToken);
            Jobs.WithLabels("queued").Set(queue.Queued);
            Jobs.WithLabels("running").Set(queue.Running);
            Jobs.WithLabels("done").Set(queue.Done);
            Jobs.WithLabels("failed").Set(queue.Failed);
            Jobs.WithLabels("superseded").Set(queue.Superseded);
            QueueDepth.Set(queue.Depth);
            var images = await catalog.GetImageCountsAsync(cancellationToken);
            Images.WithLabels(ImageStatus.Queued).Set(images.Queued);
            Images.WithLabels(ImageStatus.Labeling).Set(images.Labeling);
            Images.WithLabels(ImageStatus.Labeled).Set(images.Labeled);
            Images.WithLabels(ImageStatus.Failed).Set(images.Failed);
        });
    }

    public void Upload(bool enqueued) => _uploads.WithLabels(enqueued ? "stored" : "unchanged").Inc();

    public void UploadRefused() => _uploads.WithLabels("refused").Inc();

    public void LabelingDone(string outcome, TimeSpan elapsed)
    {
        _labeled.WithLabels(outcome).Inc();
        _labelingSeconds.Observe(elapsed.TotalSeconds);
    }
}
