using System.Net;
using System.Text.Json.Serialization;
using LabelLens.Server.External;
using LabelLens.Server.Aws.DynamoDb;
using LabelLens.Server.Aws.Rekognition;
using LabelLens.Server.Aws.S3;
using LabelLens.Storage;
using LabelLens.Vision;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace LabelLens.Server;

/// <summary>Builds the `serve` web application: configuration, services, endpoints.</summary>
public static class LabelLensServer
{
    /// <summary>The server with its configuration (<see cref="LabelingServices.AddLabelLensSources"/>), services and endpoints.</summary>
    public static WebApplication Create(IDictionary<string, string?> overrides, TimeProvider? time = null)
    {
        // The host's default appsettings sources would watch the content root recursively for changes (one inotify
        // watch per folder, woken by every upload when the data folder is below it); LabelLens replaces those
        // sources anyway, so nothing is watched, and the content root is the binary's folder, not the data's.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddLabelLensSources(overrides);
        builder.Logging.ClearProviders().AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole(o => o.SingleLine = true);

        var services = builder.Services;
        services.AddLabeling(builder.Configuration);
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        var serverOptions = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        var dataFolder = Path.GetFullPath(serverOptions.DataFolder);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(ParseAddress(serverOptions.Host), serverOptions.Port);
            kestrel.Limits.MaxRequestBodySize = serverOptions.MaxObjectBytes;
        });

        var role = serverOptions.Role;
        var sharedCatalog = (builder.Configuration.GetSection(CatalogOptions.Section).Get<CatalogOptions>() ?? new CatalogOptions()).IsPostgres;
        if (role != ServerRole.All && !sharedCatalog)
        {
            throw new InvalidOperationException($"--role {role.ToString().ToLowerInvariant()} needs a catalog that processes share: set LABELLENS_CATALOG=postgresql://USER@HOST:PORT/DB (or Catalog:ConnectionString). The embedded SQLite catalog serves one process (--role all).");
        }

        services.AddSingleton(new DataFolderLock(dataFolder, shared: sharedCatalog));
        services.AddCatalog(builder.Configuration, dataFolder);
        services.AddSingleton<QueueSignal>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<UploadBacklog>();
        services.AddSingleton(sp => new DiskSpace(dataFolder, sp.GetRequiredService<IOptions<UploadOptions>>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DiskSpace>>()));
        services.AddSingleton(new UploadJournal(dataFolder));
        services.AddSingleton<Uploader>();
        if (role != ServerRole.Worker)
        {
            // Uploads this node left unfinished (its own notes in data/pending): a worker takes none.
            services.AddHostedService<UploadRecovery>();
        }

        services.AddSingleton<SearchConcurrency>();
        services.AddSingleton<LabelerHolder>();
        services.AddHostedService(sp => sp.GetRequiredService<LabelerHolder>());
        services.AddSingleton<LabelingWorkers>();
        var labels = role != ServerRole.Api;
        if (labels)
        {
            services.AddHostedService(sp => sp.GetRequiredService<LabelingWorkers>());
            services.AddHostedService<TextWorker>();
            if (sharedCatalog)
            {
                // Jobs queued by other processes (api nodes) wake this one's workers at once.
                services.AddHostedService<CatalogWakeups>();
            }
        }

        services.AddVideo(builder.Configuration, runWorker: labels);
        if (role == ServerRole.Worker)
        {
            // A worker serves no S3.
            serverOptions.S3Port = -1;
        }

        services.AddHostFiltering(o => o.AllowedHosts = serverOptions.EffectiveAllowedHosts.ToList());
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.AddS3(serverOptions, dataFolder);
        services.AddEventsAndWebhooks(builder.Configuration);
        services.AddRekognition(builder.Configuration);
        services.AddDynamoDb(builder.Configuration);
        services.AddWebUi(dataFolder);

        var app = builder.Build();
        var apiKeys = new ApiKeys(serverOptions, app.Services.GetRequiredService<TimeProvider>());
        app.UseHostFiltering();
        app.Use(RequestGuards.CloseAfterEarlyRefusal);
        app.UseS3();
        app.Use(RequestGuards.RefuseCrossOriginWrites);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RequestGuards.RejectDotSegments);
        app.Use(apiKeys.Middleware());
        if (role != ServerRole.Worker)
        {
            // A worker serves health and metrics only: no web UI (its every call would fail there), no API.
            app.UseWebUi();
            apiKeys.MapSession(app);
            app.MapObjects();
            app.MapImages();
            app.MapSearch();
            app.MapVideos();
            app.MapExternal();
            app.MapDynamoDb();
            app.MapRekognition();
            app.MapWebUi();
            app.MapOpenApi("/openapi/{documentName}.json");
        }

        app.MapGet("/healthz", () => Results.Text("ok")).ExcludeFromDescription();
        app.MapGet("/readyz", (LabelerHolder holder, DiskSpace disk) => (holder.IsReady, disk.NotReadyReason()) switch
        {
            (_, { } full) => Results.Text($"disk full: {full}", statusCode: StatusCodes.Status503ServiceUnavailable),
            (true, null) => Results.Text("ready"),
            (false, null) => Results.Text(holder.LoadError is null ? "loading models" : $"not labeling: {holder.LoadError}", statusCode: StatusCodes.Status503ServiceUnavailable),
        }).ExcludeFromDescription();
        app.MapMetrics("/metrics", app.Services.GetRequiredService<ServerMetrics>().Registry);

        app.Lifetime.ApplicationStarted.Register(() => LogStarted(app, serverOptions, dataFolder, apiKeys.Required));
        // A stopped server holds nothing: the CLI beside it may then work through jobs itself.
        app.Lifetime.ApplicationStopped.Register(() => app.Services.GetRequiredService<DataFolderLock>().Dispose());
        return app;
    }

    /// <summary>The address the server listens on (the real port when 0 was asked for).</summary>
    public static Uri Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        return new Uri(addresses.First());
    }

    /// <summary>The S3-compatible listener's address (the real port when 0 was asked for); null when it is off.</summary>
    public static Uri? S3Address(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Services.GetRequiredService<S3Listener>().Address;
    }

    private static void LogStarted(WebApplication app, ServerOptions options, string dataFolder, bool credentialsRequired)
    {
        // Resolving these at start makes a bad data folder or catalog fail now, not on the first request.
        var folderLock = app.Services.GetRequiredService<DataFolderLock>();
        DataFolderLock.Describe(dataFolder, new DataFolderLock.ServeInfo(
            Environment.ProcessId,
            Path.GetFullPath(app.Services.GetRequiredService<IOptions<LabelLens.Models.ModelOptions>>().Value.Folder),
            app.Services.GetRequiredService<TimeProvider>().GetUtcNow()));
        var catalog = app.Services.GetRequiredService<ICatalog>();
        app.Services.GetRequiredService<ServerMetrics>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LabelLens.Server");
        logger.LogInformation("LabelLens ({Role}) listening on {Address}", options.Role.ToString().ToLowerInvariant(), Address(app));
        logger.LogInformation("Data in {Folder} (catalog {Catalog})", dataFolder, catalog.Location);
        if (folderLock.DebrisRemoved > 0)
        {
            logger.LogWarning("Removed {Count} unfinished upload file(s) from {Folder}/tmp, left by a server that stopped mid-upload", folderLock.DebrisRemoved, dataFolder);
        }
        if (!options.IsLoopback && !credentialsRequired)
        {
            logger.LogWarning("!!! Listening on {Host} with NO CREDENTIALS: anyone who can reach this address can read, upload and delete. Set LABELLENS_ACCESS_KEY/LABELLENS_SECRET_KEY (or Server:ApiKeys).", options.Host);
        }
    }

    private static IPAddress ParseAddress(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "0.0.0.0" => IPAddress.Any,
        _ => IPAddress.Parse(host.Trim('[', ']')),
    };
}

