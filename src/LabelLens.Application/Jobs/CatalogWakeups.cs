using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Hosting;

namespace LabelLens.Application;

/// <summary>
/// With a shared (PostgreSQL) catalog, jobs are queued by other processes too: their NOTIFYs wake this process's idle
/// workers at once instead of at the next poll.
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
