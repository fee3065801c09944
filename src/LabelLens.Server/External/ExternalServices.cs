using LabelLens.Storage.External;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LabelLens.Server.External;

/// <summary>Registration of external stores, S3 events, backfill and outbound webhooks.</summary>
public static class ExternalServices
{
    /// <summary>`serve` only: the S3 events endpoint's settings and the webhook dispatcher (when a webhook is configured).</summary>
    public static IServiceCollection AddEventsAndWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EventsOptions>().Bind(configuration.GetSection(EventsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var webhooks = configuration.GetSection(WebhookOptions.Section).Get<List<WebhookOptions>>() ?? [];
        for (var i = 0; i < webhooks.Count; i++)
        {
            webhooks[i].Validate(i);
        }

        if (webhooks.Select(w => w.Key).Distinct(StringComparer.Ordinal).Count() != webhooks.Count)
        {
            throw new InvalidOperationException("Two webhooks have the same Url (or Name): give each a distinct Webhooks:N:Name.");
        }

        if (webhooks.Count > 0)
        {
            services.AddSingleton(sp => new WebhookDispatcher(webhooks, sp.GetRequiredService<LabelLens.Storage.ICatalog>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WebhookDispatcher>>()));
            services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        }

        return services;
    }
}
