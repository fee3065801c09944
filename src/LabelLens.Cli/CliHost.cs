using LabelLens.Vision;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabelLens.Cli;

/// <summary>
/// Configuration and services for one command. Sources, later wins: appsettings.json beside the binary,
/// labellens.json in the working directory, LABELLENS_* environment variables (LABELLENS_Models__Folder,
/// or the short LABELLENS_MODELS), then command-line options.
/// </summary>
internal static class CliHost
{
    public static IHost Build(IDictionary<string, string?> overrides, bool verbose, Action<IServiceCollection, IConfiguration>? configure = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = Directory.GetCurrentDirectory(),
        });
        builder.Configuration.AddLabelLensSources(overrides);

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        // One-shot commands stay quiet unless asked: stderr is for per-file errors.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("LabelLens", LogLevel.Warning);
        // stdout carries results; every log line goes to stderr.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        if (verbose)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddFilter("LabelLens", LogLevel.Information);
        }

        builder.Services.AddLabeling(builder.Configuration);
        configure?.Invoke(builder.Services, builder.Configuration);
        var host = builder.Build();
        // Resolving the options validators here reports a bad setting before any work starts.
        host.Services.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate();
        return host;
    }
}
