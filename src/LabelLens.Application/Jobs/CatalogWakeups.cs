using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Hosting;

namespace LabelLens.Application;

/// <summary>
/// With a shared (PostgreSQL) catalog, jobs are queued by other processes too: their NOTIFYs wake this process's idle
/// workers at once instead of at the next poll. Every process on a shared catalog runs it, api nodes included: its
/// connection's loss is what clears the pool's dead connections when the database restarts.
/// </summary>
public sealed class CatalogWakeups(PostgresCatalog catalog, QueueSignal signal) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        catalog.ListenAsync(
            (channel, _) =>
            {
                if (channel != PostgresCatalog.EventsChannel)
                {
                    signal.Notify();
                }
            },
            stoppingToken);
}
