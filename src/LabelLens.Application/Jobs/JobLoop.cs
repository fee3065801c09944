using LabelLens.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Application;

/// <summary>
/// The one claim / run / wait / back-off loop every worker uses: the server's image and video workers and the
/// CLI's relabel and backfill. A loop claims a batch under its owner's lease and runs each job; with nothing
/// to claim it waits for <c>idle</c> (a wake-up or the poll interval), or returns when there is no <c>idle</c>
/// (the CLI works through what is queued, then stops). A failing catalog (disk full, locked too long) is
/// logged and retried after the poll interval; the jobs the failed batch still held are released as soon as the
/// catalog takes writes again, so they run at once instead of waiting out their lease. Cancellation ends the loop.
/// </summary>
public sealed class JobLoop(ILabelingJobs jobs, IOptions<QueueOptions> queueOptions, TimeProvider time, ILogger<JobLoop> logger)
{
    /// <param name="owner">The lease owner: this process and worker pool ("serve:1234:...", "cli:...").</param>
    /// <param name="kind">Which jobs: <see cref="JobKind.Image"/> or <see cref="JobKind.Video"/>.</param>
    /// <param name="batchSize">Jobs claimed at once.</param>
    /// <param name="run">Runs one job and says how it ended.</param>
    /// <param name="idle">Waits while the queue is empty (returns early on a wake-up); null stops the loop instead.</param>
    /// <param name="done">Told of every finished job with its outcome and how long it took.</param>
    public async Task RunAsync(
        string owner,
        JobKind kind,
        int batchSize,
        Func<ClaimedJob, CancellationToken, Task<JobOutcome>> run,
        Func<TimeSpan, CancellationToken, Task>? idle,
        Action<JobOutcome, TimeSpan>? done,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        var queue = queueOptions.Value;
        var poll = TimeSpan.FromSeconds(queue.PollSeconds);
        // Each loop leases under a name of its own (still starting with the owner's, which release-by-prefix and
        // the next server's take-back rely on): releasing a failed batch must not free a sibling loop's jobs.
        var leaseOwner = $"{owner}:{Guid.NewGuid():N}";
        var holdingFailedBatch = false;
        var failedOnFullDisk = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (holdingFailedBatch)
                {
                    // A full disk is not the jobs' fault: their attempts are given back, or a catalog that takes claims
                    // but not results would use them all up within seconds and fail every job it holds.
                    await jobs.ReleaseJobsAsync(leaseOwner, cancellationToken, returnAttempts: failedOnFullDisk);
                    holdingFailedBatch = false;
                }

                var claimed = await jobs.ClaimJobsAsync(leaseOwner, batchSize, queue, cancellationToken, kind);
                if (claimed.Count == 0)
                {
                    if (idle is null)
                    {
                        return;
                    }

                    await idle(poll, cancellationToken);
                    continue;
                }

                foreach (var job in claimed)
                {
                    var started = time.GetTimestamp();
                    var outcome = await run(job, cancellationToken);
                    done?.Invoke(outcome, time.GetElapsedTime(started));
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                holdingFailedBatch = true;
                failedOnFullDisk = DiskFull.Is(ex);
                if (failedOnFullDisk)
                {
                    // Expected until space returns, and repeated every poll: one line, not a stack trace each time.
                    logger.LogWarning("Worker {Owner}: the disk is full ({Error}); retrying in {Seconds} s", owner, ex.Message, queue.PollSeconds);
                }
                else
                {
                    logger.LogError(ex, "Worker {Owner}: the catalog failed; retrying in {Seconds} s", owner, queue.PollSeconds);
                }
                try
                {
                    // A wake-up ends the wait early: after a database restart the catalog's listener reconnects and
                    // wakes the workers, and a loop that failed during the restart must not stay deaf for a whole
                    // poll interval (found by PostgresRestartTests: 60 s with the longest poll).
                    if (idle is null)
                    {
                        await Task.Delay(poll, time, cancellationToken);
                    }
                    else
                    {
                        await idle(poll, cancellationToken);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// The CLI's way: <paramref name="workers"/> loops work through the queued image jobs and stop when none is
    /// left; the outcomes are counted (and reported to <paramref name="progress"/> as they come).
    /// </summary>
    public async Task<IReadOnlyDictionary<JobOutcome, int>> DrainAsync(
        string owner, int workers, Func<ClaimedJob, CancellationToken, Task<JobOutcome>> run, Action<int>? progress, CancellationToken cancellationToken)
    {
        var outcomes = new Dictionary<JobOutcome, int>();
        void Done(JobOutcome outcome, TimeSpan elapsed)
        {
            lock (outcomes)
            {
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                progress?.Invoke(outcomes.Values.Sum());
            }
        }

        var loops = Enumerable.Range(0, workers).Select(_ => Task.Run(() => RunAsync(owner, JobKind.Image, 1, run, null, Done, cancellationToken), cancellationToken));
        await Task.WhenAll(loops);
        return outcomes;
    }
}
