using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Vision;

/// <summary>Loads the configured model (fetching it first when allowed) and builds the labeler around it.</summary>
public sealed class LabelerLoader(
    ModelStore models,
    VipsImageDecoder decoder,
    IOptions<DetectorOptions> detectorOptions,
    LabelBuilder labelBuilder,
    TimeProvider time,
    ILoggerFactory loggerFactory)
{
    public async Task<ImageLabeler> LoadAsync(string? modelName, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var model = await models.EnsureAsync(modelName ?? models.DefaultModel, progress, cancellationToken);
        var detector = new YoloxDetector(model, decoder, detectorOptions.Value, time, loggerFactory.CreateLogger<YoloxDetector>());
        return new ImageLabeler(detector, labelBuilder);
    }
}

public static class LabelingServices
{
    /// <summary>
    /// The configuration sources every LabelLens command uses, later wins: appsettings.json beside the
    /// binary, labellens.json in the working directory, LABELLENS_* environment variables (plus the short
    /// LABELLENS_MODELS and LABELLENS_DATA), then <paramref name="overrides"/> (command-line options).
    /// </summary>
    public static IConfigurationBuilder AddLabelLensSources(this IConfigurationBuilder configuration, IDictionary<string, string?> overrides)
    {
        var shortNames = new Dictionary<string, string?>();
        if (Environment.GetEnvironmentVariable("LABELLENS_MODELS") is { Length: > 0 } models)
        {
            shortNames["Models:Folder"] = models;
        }

        if (Environment.GetEnvironmentVariable("LABELLENS_DATA") is { Length: > 0 } data)
        {
            shortNames["Server:DataFolder"] = data;
        }

        return configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "labellens.json"), optional: true)
            .AddEnvironmentVariables("LABELLENS_")
            .AddInMemoryCollection(shortNames)
            .AddInMemoryCollection(overrides);
    }

    /// <summary>Registers decoding, models, taxonomy and the labeler loader, with options bound and validated at start.</summary>
    public static IServiceCollection AddLabeling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ModelOptions>().Bind(configuration.GetSection(ModelOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ImageOptions>().Bind(configuration.GetSection(ImageOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DetectorOptions>().Bind(configuration.GetSection(DetectorOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient(ModelStore.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(20) });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ModelStore>();
        services.AddSingleton<VipsImageDecoder>();
        services.AddSingleton(sp => LoadTaxonomy(configuration));
        services.AddSingleton<LabelBuilder>();
        services.AddSingleton<LabelerLoader>();
        return services;
    }

    /// <summary>The built-in taxonomy, or the file named by "Taxonomy:File".</summary>
    private static LabelTaxonomy LoadTaxonomy(IConfiguration configuration) =>
        configuration["Taxonomy:File"] is { Length: > 0 } file ? LabelTaxonomy.LoadFile(file) : LabelTaxonomy.BuiltIn;
}
