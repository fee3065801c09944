namespace LabelLens.Application;

/// <summary>Wakes idle workers as soon as a job is queued, so an upload does not wait for the next poll.</summary>
public sealed class QueueSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0);

    public void Notify(int jobs = 1)
    {
        // Never let the count grow without bound: waking every worker once is enough.
        var release = Math.Max(0, Math.Min(jobs, 64) - _semaphore.CurrentCount);
        if (release > 0)
        {
            _semaphore.Release(release);
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _semaphore.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _semaphore.Dispose();
}
