using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabelLens.Application;

/// <summary>Loads the model once at start; workers and /readyz wait for it.</summary>
public sealed class LabelerHolder(LabelerLoader loader, ILogger<LabelerHolder> logger) : IHostedService, IDisposable
{
    private readonly TaskCompletionSource<ImageLabeler> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    public string? LoadError { get; private set; }

    public Task<ImageLabeler> Labeler => _ready.Task;

    private LabelVocabulary? _vocabulary;
    private readonly Lock _textLock = new();
    private Task<ImageLabeler>? _textOnly;

    /// <summary>
    /// A labeler that reads text: the loaded one when the text analysis is configured for uploads, else one with
    /// the text analysis alone, loaded on first use (DetectText works whether or not uploads are read). A failed
    /// load is tried again on the next call.
    /// </summary>
    public async Task<ImageLabeler> TextReaderAsync(CancellationToken cancellationToken)
    {
        var labeler = await Labeler.WaitAsync(cancellationToken);
        if (labeler.Text is not null)
        {
            return labeler;
        }

        Task<ImageLabeler> loading;
        lock (_textLock)
        {
            if (_textOnly is null || _textOnly.IsFaulted || _textOnly.IsCanceled)
            {
                _textOnly = loader.LoadAsync(null, null, CancellationToken.None, [AnalysisTask.Text]);
            }

            loading = _textOnly;
        }

        return await loading.WaitAsync(cancellationToken);
    }

    /// <summary>What the loaded analyses can find (built once, on first use after the models loaded).</summary>
    public LabelVocabulary Vocabulary(LabelTaxonomy taxonomy)
    {
        var labeler = _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : throw new InvalidOperationException("The models are not loaded.");
        return _vocabulary ??= LabelVocabulary.Build(taxonomy, labeler.Analyses.Select(a => (a.Task, a.ClassNames)));
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Labeling:Model reaches the loader through Analysis:Models:objects (LabelingServices).
            var labeler = await loader.LoadAsync(null, null, cancellationToken);
            logger.LogInformation("Labeling with {Analyses}: {Model}", string.Join(", ", labeler.Analyses.Select(a => a.Task.Name())), labeler.ModelVersion);
            _ready.TrySetResult(labeler);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep serving (uploads are stored and queued); /readyz says why nothing gets labeled.
            LoadError = ex.Message;
            logger.LogError("The analyses could not be loaded, so nothing is labeled; uploads are stored and queue until they can be: {Reason}", ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        if (_ready.Task.IsCompletedSuccessfully)
        {
            _ready.Task.Result.Dispose();
        }

        if (_textOnly is { IsCompletedSuccessfully: true } textOnly)
        {
            textOnly.Result.Dispose();
        }
    }
}
