using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Vision;

/// <summary>
/// Builds the analysis pipeline: for each configured task (or the ones asked for), the task's model is found
/// (fetched first when allowed) and loaded by the module registered for that task.
/// </summary>
public sealed class LabelerLoader(
    ModelStore models,
    VipsImageDecoder decoder,
    IEnumerable<IAnalysisModule> modules,
    IOptions<AnalysisOptions> analysisOptions,
    LabelBuilder labelBuilder)
{
    /// <param name="objectsModel">The detector to use (the CLI's --model, Labeling:Model); null uses the configured one.</param>
    /// <param name="tasks">The analyses to run; null runs Analysis:Tasks.</param>
    public async Task<ImageLabeler> LoadAsync(string? objectsModel, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken, IReadOnlyList<AnalysisTask>? tasks = null)
    {
        var options = analysisOptions.Value;
        var analyses = new List<IPictureAnalysis>();
        try
        {
            foreach (var task in tasks ?? options.ParseTasks())
            {
                var module = modules.FirstOrDefault(m => m.Task == task)
                    ?? throw new InvalidOperationException($"No analysis module is registered for '{task.Name()}'.");
                var name = options.ModelFor(task, objectsModel, models.DefaultModel);
                LocalModel model;
                try
                {
                    model = await models.EnsureAsync(name, progress, cancellationToken);
                }
                catch (ModelMissingException ex)
                {
                    // Say which analysis wants it and how to do without: a missing classifier should not read as "no model at all".
                    var others = (tasks ?? options.ParseTasks()).Where(t => t != task).Select(t => t.Name()).ToList();
                    var without = others.Count > 0 ? $" To label without it, run only {string.Join(",", others)}: Analysis:Tasks={string.Join(",", others)} (LABELLENS_Analysis__Tasks={string.Join(",", others)})." : "";
                    throw new ModelMissingException($"The {task.Name()} analysis needs its model: {ex.Message}{without}", ex);
                }

                analyses.Add(module.Load(model));
            }

            return new ImageLabeler(analyses, decoder, labelBuilder);
        }
        catch
        {
            foreach (var analysis in analyses)
            {
                analysis.Dispose();
            }

            throw;
        }
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

        // s3://BUCKET[/PREFIX] keeps the objects in a bucket every node shares (credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
        if (Environment.GetEnvironmentVariable("LABELLENS_STORAGE") is { Length: > 0 } storage)
        {
            shortNames["Storage:Provider"] = storage.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) ? "s3" : storage;
            shortNames["Storage:Url"] = storage;
        }

        if (Environment.GetEnvironmentVariable("LABELLENS_S3_ENDPOINT") is { Length: > 0 } endpoint)
        {
            shortNames["Storage:S3:ServiceUrl"] = endpoint;
        }

        // A postgresql:// URL (as psql takes it) selects the PostgreSQL catalog for every command.
        if (Environment.GetEnvironmentVariable("LABELLENS_CATALOG") is { Length: > 0 } catalog)
        {
            shortNames["Catalog:ConnectionString"] = catalog;
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
        services.AddOptions<Ocr.TextOptions>().Bind(configuration.GetSection(Ocr.TextOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<Faces.FaceOptions>().Bind(configuration.GetSection(Faces.FaceOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AnalysisOptions>().Bind(configuration.GetSection(AnalysisOptions.Section)).ValidateDataAnnotations().ValidateOnStart()
            // Labeling:Model (older configurations) names the detector, unless Analysis:Models:objects does.
            .PostConfigure(o =>
            {
                if (configuration["Labeling:Model"] is { Length: > 0 } model)
                {
                    o.Models.TryAdd(AnalysisTask.Objects.Name(), model);
                }
            });
        services.AddHttpClient(ModelStore.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(20) });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ModelStore>();
        services.AddSingleton<VipsImageDecoder>();
        services.AddSingleton(sp => LoadTaxonomy(configuration));
        services.AddSingleton<LabelBuilder>();
        services.AddSingleton<IPictureDecoder>(sp => sp.GetRequiredService<VipsImageDecoder>());
        // One module per kind of model; a new kind of analysis is one more line here.
        services.AddSingleton<IAnalysisModule, YoloxModule>();
        services.AddSingleton<IAnalysisModule, ImageNetClassifierModule>();
        services.AddSingleton<IAnalysisModule, PaddleTextModule>();
        services.AddSingleton<IAnalysisModule, UltraFaceModule>();
        services.AddSingleton<LabelerLoader>();
        return services;
    }

    /// <summary>The built-in taxonomy, or the file named by "Taxonomy:File".</summary>
    public static LabelTaxonomy LoadTaxonomy(IConfiguration configuration) =>
        configuration["Taxonomy:File"] is { Length: > 0 } file ? LabelTaxonomy.LoadFile(file) : LabelTaxonomy.BuiltIn;
}
