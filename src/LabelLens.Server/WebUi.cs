using System.Reflection;
using LabelLens.Storage;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server;

/// <summary>
/// The web UI at <c>/</c>: plain HTML, CSS and JavaScript modules embedded in this assembly (no build step, nothing
/// to install), plus what only the UI needs from the server: thumbnails, the live event stream and throughput.
/// </summary>
public static class WebUi
{
    /// <summary>Manifest names of the files under wwwroot/ start with this (RootNamespace + folder).</summary>
    private const string ResourcePrefix = "LabelLens.Server.wwwroot";

    public static IServiceCollection AddWebUi(this IServiceCollection services, string dataFolder)
    {
        services.AddSingleton<Thumbnailer>();
        services.AddSingleton(sp => new ThumbnailCache(
            dataFolder,
            sp.GetRequiredService<Thumbnailer>(),
            sp.GetRequiredService<IObjectStore>(),
            sp.GetRequiredService<ICatalog>(),
            sp.GetRequiredService<Storage.External.ExternalStores>(),
            sp.GetRequiredService<IOptions<ImageOptions>>(),
            sp.GetRequiredService<LabelLens.Vision.Video.Ffmpeg>(),
            sp.GetRequiredService<ILogger<ThumbnailCache>>()));
        services.AddSingleton<ImageChangeHub>();
        services.AddHostedService(sp => sp.GetRequiredService<ImageChangeHub>());
        return services;
    }

    /// <summary>Serves the page's files (outside /api, so it loads without an API key; the page asks for one when the API says 401).</summary>
    public static IApplicationBuilder UseWebUi(this IApplicationBuilder app)
    {
        // Embedded names flatten folders into dots (wwwroot/js/app.js is ...wwwroot.js.app.js), which is how
        // EmbeddedFileProvider maps request paths back; file and folder names avoid '-' for that reason.
        var files = new EmbeddedFileProvider(Assembly.GetExecutingAssembly(), ResourcePrefix);
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".js"] = "text/javascript; charset=utf-8";
        types.Mappings[".webmanifest"] = "application/manifest+json";
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, DefaultFileNames = ["index.html"] });
        return app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = types,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                // Revalidate on every load (a cheap 304 via ETag/Last-Modified), so an upgraded server is picked up at once.
                headers.CacheControl = "no-cache";
                headers.XContentTypeOptions = "nosniff";
                // Search URLs say what a user looks for: never leak them to other sites in a Referer.
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
            },
        });
    }

    public static void MapWebUi(this IEndpointRouteBuilder app)
    {
        app.MapThumbnails();
        app.MapEventStream();
        app.MapGet("/api/v1/queue/throughput", async (ICatalog catalog, CancellationToken ct) => Results.Ok(await catalog.GetThroughputAsync(ct)))
            .WithTags("Queue")
            .WithSummary("Images labeled in the last minute, 5 minutes and hour, and their mean labeling time (ms)");
        // The taxonomy's categories, for the category filter (a custom taxonomy has its own).
        app.MapGet("/api/v1/categories", (LabelTaxonomy taxonomy) =>
                Results.Ok(new { categories = taxonomy.Labels.SelectMany(l => l.Categories).Append(LabelTaxonomy.FallbackCategory).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() }))
            .WithTags("Search")
            .WithSummary("Label categories of the taxonomy");
    }
}
