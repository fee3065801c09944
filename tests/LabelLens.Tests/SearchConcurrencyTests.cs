using LabelLens.Server;

namespace LabelLens.Tests;

/// <summary>The bound on searches reading the catalog at once (bench/README.md, "Memory under search load").</summary>
public sealed class SearchConcurrencyTests
{
    [Fact]
    public async Task At_most_two_searches_per_core_run_at_once_the_rest_wait_and_a_cancelled_wait_frees_nothing()
    {
        using var concurrency = new SearchConcurrency();
        var limit = Environment.ProcessorCount * 2;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = 0;
        var peak = 0;
        var searches = Enumerable.Range(0, limit + 5).Select(i => concurrency.RunAsync(
            async () =>
            {
                var now = Interlocked.Increment(ref running);
                lock (release)
                {
                    peak = Math.Max(peak, now);
                }

                await release.Task;
                Interlocked.Decrement(ref running);
                return i;
            },
            default)).ToList();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref running) < limit)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {running} of {limit} searches started");
            await Task.Delay(10);
        }

        // A search that gives up while waiting goes away without taking or leaking a slot.
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => concurrency.RunAsync(() => Task.FromResult(-1), cancel.Token));
        }

        Assert.Equal(limit, Volatile.Read(ref running)); // the other five still wait
        release.SetResult();
        Assert.Equal(Enumerable.Range(0, limit + 5), await Task.WhenAll(searches));
        Assert.Equal(limit, peak);
        Assert.Equal(7, await concurrency.RunAsync(() => Task.FromResult(7), default));
    }
}
