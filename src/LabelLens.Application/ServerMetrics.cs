using LabelLens.Storage;
using Prometheus;

namespace LabelLens.Application;

/// <summary>
/// Prometheus metrics (prometheus-net, exposed at /metrics). Counters and the latency histogram are
/// updated as work happens; job and image counts are read from the catalog at scrape time, so they are
/// exact even after a restart.
/// </summary>
public sealed class ServerMetrics
{
    private readonly Counter _uploads;
    private readonly Counter _labeled;
    private readonly Histogram _labelingSeconds;
    private readonly Counter _textRead;
    private readonly Histogram _textSeconds;

    public ServerMetrics(ICatalog catalog)
    {
        // A registry per server (not prometheus-net's process-wide default), so two servers in one process
        // (tests) never mix their numbers.
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _uploads = factory.CreateCounter("labellens_uploads_total", "Objects stored through the API.", "result");
        _labeled = factory.CreateCounter("labellens_labeling_total", "Labeling attempts by outcome.", "outcome");
        _labelingSeconds = factory.CreateHistogram(
            "labellens_labeling_seconds",
            "Time to read, decode, run the model on and store one image.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 12) });
        _textRead = factory.CreateCounter("labellens_text_total", "Text jobs (reading an image's text after its labels) by outcome.", "outcome");
        _textSeconds = factory.CreateHistogram(
            "labellens_text_seconds",
            "Time to read, decode, run the text models on and store one image.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.02, 2, 12) });
        var jobs = factory.CreateGauge("labellens_jobs", "Labeling jobs by state.", "state");
        var queueDepth = factory.CreateGauge("labellens_queue_depth", "Jobs queued or running.");
        var images = factory.CreateGauge("labellens_images", "Catalogued images by status.", "status");
        Registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            var queue = await catalog.GetQueueCountsAsync(cancellationToken);
            jobs.WithLabels("queued").Set(queue.Queued);
            jobs.WithLabels("running").Set(queue.Running);
            jobs.WithLabels("done").Set(queue.Done);
            jobs.WithLabels("failed").Set(queue.Failed);
            jobs.WithLabels("superseded").Set(queue.Superseded);
            queueDepth.Set(queue.Depth);
            var counts = await catalog.GetImageCountsAsync(cancellationToken);
            images.WithLabels(ImageStatus.Queued).Set(counts.Queued);
            images.WithLabels(ImageStatus.Labeling).Set(counts.Labeling);
            images.WithLabels(ImageStatus.Labeled).Set(counts.Labeled);
            images.WithLabels(ImageStatus.Failed).Set(counts.Failed);
        });
    }

    public CollectorRegistry Registry { get; }

    public void Upload(bool enqueued) => _uploads.WithLabels(enqueued ? "stored" : "unchanged").Inc();

    public void UploadRefused() => _uploads.WithLabels("refused").Inc();

    public void LabelingDone(JobOutcome outcome, TimeSpan elapsed)
    {
        _labeled.WithLabels(outcome.Name()).Inc();
        _labelingSeconds.Observe(elapsed.TotalSeconds);
    }

    public void TextDone(JobOutcome outcome, TimeSpan elapsed)
    {
        _textRead.WithLabels(outcome.Name()).Inc();
        _textSeconds.Observe(elapsed.TotalSeconds);
    }
}
