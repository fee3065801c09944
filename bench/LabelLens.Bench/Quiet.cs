namespace LabelLens.Bench;

/// <summary>Repeats measurements that other processes disturbed.</summary>
public static class Quiet
{
    /// <summary>Other processes taking more than this share of the CPU during a measurement make it suspect.</summary>
    public const double NoisyMachine = 0.05;

    /// <summary>Attempts at a measurement disturbed by other processes.</summary>
    public const int MaxAttempts = 5;

    /// <summary>The pause between attempts.</summary>
    public static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Runs a measurement again, after a pause, while other processes took more than <see cref="NoisyMachine"/> of
    /// the CPU during it: on a shared machine a quiet few seconds come far more often than a quiet minute.
    /// The last attempt is kept either way; the report flags it. <paramref name="measure"/> gets the attempt number (1-based).
    /// </summary>
    public static async Task<T> RetryAsync<T>(string name, Func<int, Task<T>> measure, Func<T, double?> othersOf, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(measure);
        ArgumentNullException.ThrowIfNull(othersOf);
        ArgumentNullException.ThrowIfNull(log);
        for (var attempt = 1; ; attempt++)
        {
            var result = await measure(attempt);
            var others = othersOf(result) ?? 0;
            if (others <= NoisyMachine || attempt == MaxAttempts)
            {
                return result;
            }

            await log.WriteLineAsync($"  other processes took {others:0%} of the CPU during {name}; measuring again in {RetryPause.TotalSeconds:0} s");
            await Task.Delay(RetryPause, cancellationToken);
        }
    }
}
