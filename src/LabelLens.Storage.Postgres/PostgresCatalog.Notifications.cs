using Microsoft.Extensions.Logging;
using Npgsql;

namespace LabelLens.Storage.Postgres;

public sealed partial class PostgresCatalog
{
    /// <summary>
    /// Hears the catalog's NOTIFYs (<see cref="JobsChannel"/>: a job was queued, payload its kind;
    /// <see cref="EventsChannel"/>: an event was recorded) from every process, until cancelled. One dedicated
    /// connection; when it drops, it reconnects and calls <paramref name="onNotification"/> once with an empty
    /// channel, since anything sent meanwhile was missed.
    /// </summary>
    public async Task ListenAsync(Action<string, string> onNotification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onNotification);
        var delay = TimeSpan.FromMilliseconds(250);
        var lost = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, e) => onNotification(e.Channel, e.Payload);
                await ExecuteAsync(connection, null, $"LISTEN {JobsChannel}; LISTEN {EventsChannel}", cancellationToken);
                if (lost)
                {
                    // The operator's evidence that a database restart or failover was ridden out, not just begun.
                    _logger.LogInformation("Listening to the catalog's notifications again");
                    lost = false;
                }

                onNotification("", "");
                delay = TimeSpan.FromMilliseconds(250);
                while (true)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                lost = true;
                // The pooled connections most likely went with this one (a database restart): dropped now, so the next
                // request opens a fresh connection instead of failing on a dead one.
                _dataSource.Clear();
                _logger.LogWarning("Lost the catalog's notifications ({Message}); reconnecting in {Delay}", ex.Message, delay);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }
}
