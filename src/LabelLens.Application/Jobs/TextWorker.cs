using LabelLens.Labels;
using LabelLens.Storage;
using LabelLens.Vision.Ocr;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// Reads images' text: its own small pool (Text:Workers, one by default) claiming only text jobs, which a
/// labeling job queues when it stores an image's labels. Labels therefore never wait for text (the most
/// expensive analysis), and text takes at most its workers' share of the cores. Idle unless the text
/// analysis is configured (Analysis:Tasks has "text").
/// </summary>
public sealed class TextWorker(
    LabelingWorkers imageWorkers,
    JobRunner runner,
    VideoTextRunner videoRunner,
    ICatalog catalog,
    JobLoop loop,
    ServerMetrics metrics,
    IOptions<TextOptions> textOptions,
    TimeProvider time,
    ILogger<TextWorker> logger) : BackgroundService
{
    private readonly string _owner = $"{LabelingWorkers.OwnerPrefix}{Environment.ProcessId}:text:{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // After the image workers took back a dead server's jobs (text jobs among them); idle without the text analysis.
        if (await imageWorkers.ReadyLabelerAsync(stoppingToken) is not { Text: not null } labeler)
        {
            return;
        }

        var workers = textOptions.Value.Workers;
        logger.LogInformation("{Workers} text worker(s) started ({Model})", workers, labeler.Text.Model.Version);
        var loops = Enumerable.Range(0, workers).Select(_ => Task.Run(
            () => loop.RunAsync(_owner, JobKind.Text, 1, (job, ct) => RunAsync(labeler, job, ct), (poll, ct) => Task.Delay(poll, time, ct), metrics.TextDone, stoppingToken),
            stoppingToken));
        await Task.WhenAll(loops);
    }

    /// <summary>A video's text is read on its sampled frames (ffmpeg); a photo's from its bytes.</summary>
    private async Task<JobOutcome> RunAsync(ImageLabeler labeler, ClaimedJob job, CancellationToken cancellationToken) =>
        await catalog.GetVideoAsync(job.ImageId, cancellationToken) is { Metadata: { } metadata }
            ? await videoRunner.RunAsync(labeler, job, metadata, cancellationToken)
            : await runner.RunAsync(labeler, job, cancellationToken);
}
