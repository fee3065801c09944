using LabelLens.Storage;
using LabelLens.Storage.External;
using LabelLens.Storage.Postgres;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LabelLens.Application;

/// <summary>Registration of what `serve` and the CLI share: the store, the catalog behind its contracts, external stores, the job runners.</summary>
public static class ApplicationServices
{
    /// <summary>
    /// The data folder's object store, catalog and job runner, with the labeling and queue options: what
    /// the server and the catalog commands of the CLI share.
    /// </summary>
    public static IServiceCollection AddCatalog(this IServiceCollection services, IConfiguration configuration, string dataFolder)
    {
        services.AddOptions<LabelingOptions>().Bind(configuration.GetSection(LabelingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<QueueOptions>().Bind(configuration.GetSection(QueueOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<UploadOptions>().Bind(configuration.GetSection(UploadOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var storage = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        if (storage.IsS3)
        {
            storage.Location(); // a missing bucket fails at start, not at the first upload
            services.AddSingleton<IObjectStore>(sp => new S3PrimaryStore(storage, sp.GetRequiredService<TimeProvider>()));
        }
        else
        {
            services.AddSingleton<IObjectStore>(sp => new FileSystemObjectStore(dataFolder, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<FileSystemObjectStore>>()));
        }

        services.AddOptions<CatalogOptions>().Bind(configuration.GetSection(CatalogOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        // The application reaches the catalog through its contracts; the provider is chosen here.
        var catalog = configuration.GetSection(CatalogOptions.Section).Get<CatalogOptions>() ?? new CatalogOptions();
        if (catalog.IsPostgres)
        {
            var connectionString = catalog.ConnectionString is { Length: > 0 } configured
                ? configured
                : throw new InvalidOperationException("Catalog:Provider is postgres but no Catalog:ConnectionString (or LABELLENS_CATALOG=postgresql://USER@HOST:PORT/DB) is set.");
            services.AddSingleton(sp => new PostgresCatalog(connectionString, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PostgresCatalog>>()));
            services.AddSingleton<ICatalog>(sp => sp.GetRequiredService<PostgresCatalog>());
        }
        else
        {
            services.AddSingleton(sp => new SqliteCatalog(dataFolder, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SqliteCatalog>>()));
            services.AddSingleton<ICatalog>(sp => sp.GetRequiredService<SqliteCatalog>());
        }

        services.AddSingleton<IImageCatalog>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<ILabelingJobs>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<IAnalysisResults>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<ISearchCatalog>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<IChangeFeed>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<IVideoCatalog>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<IExternalSources>(sp => sp.GetRequiredService<ICatalog>());
        services.AddSingleton<IResultsTable>(sp => sp.GetRequiredService<ICatalog>());
        services.AddExternalStores(configuration);
        services.AddSingleton<JobRunner>();
        services.AddSingleton<JobLoop>();
        return services;
    }

    /// <summary>The configured external stores (ExternalStores:&lt;name&gt;) and the backfiller: what both `serve` and the CLI need.</summary>
    public static IServiceCollection AddExternalStores(this IServiceCollection services, IConfiguration configuration)
    {
        var configured = configuration.GetSection(ExternalStoreOptions.Section).GetChildren()
            .ToDictionary(s => s.Key, s => s.Get<ExternalStoreOptions>() ?? new ExternalStoreOptions(), StringComparer.Ordinal);
        services.AddSingleton(sp => new ExternalStores(configured, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Backfiller>();
        return services;
    }
}
