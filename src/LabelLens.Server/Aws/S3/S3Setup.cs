using System.Net;
using LabelLens.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server.Aws.S3;

/// <summary>The S3 listener's endpoint: set when Kestrel binds it (the real port when 0 was asked for).</summary>
public sealed class S3Listener
{
    internal ListenOptions? Options { get; set; }

    public bool Enabled => Options is not null;

    /// <summary>Why the listener is off although it was asked for (its port was taken), to say at start.</summary>
    public string? Unavailable { get; internal set; }

    /// <summary>The bound port (0 before the server started, or when the listener is off).</summary>
    public int Port => Options?.IPEndPoint?.Port ?? 0;

    public Uri? Address => Options?.IPEndPoint is { } endpoint ? new Uri($"http://{Host(endpoint.Address)}:{endpoint.Port}/") : null;

    private static string Host(IPAddress address) =>
        address.Equals(IPAddress.Any) ? "127.0.0.1"
        : address.Equals(IPAddress.IPv6Any) ? "[::1]"
        : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]"
        : address.ToString();
}

/// <summary>Wires the S3-compatible listener into `serve`: its own Kestrel endpoint, services, and a branch of the pipeline.</summary>
public static class S3Setup
{
    /// <summary>Adds the S3 listener (unless Server:S3Port is -1) and its services.</summary>
    public static void AddS3(this WebApplicationBuilder builder, ServerOptions options, string dataFolder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var listener = new S3Listener();
        builder.Services.AddSingleton(listener);
        var port = options.EffectiveS3Port;
        if (port < 0)
        {
            return;
        }

        if (port != 0 && port == options.Port)
        {
            throw new InvalidOperationException($"Server:S3Port ({port}) must differ from Server:Port.");
        }

        var address = ParseAddress(options.S3Host ?? options.Host);
        if (port != 0 && !IsFree(address, port))
        {
            // Another program (often MinIO, or a second LabelLens) has the port: the API, the web UI and labeling
            // still work, so the server starts without S3 and says so at the top of its log.
            listener.Unavailable = $"port {port} on {address} is already in use";
        }
        else
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, port, listen => listener.Options = listen));
        }


        // With a shared (PostgreSQL) catalog the metadata lives there too, so every api node sees it.
        builder.Services.AddSingleton<IS3MetadataStore>(sp => sp.GetRequiredService<ICatalog>() is LabelLens.Storage.Postgres.PostgresCatalog postgres
            ? new LabelLens.Storage.Postgres.PostgresS3MetadataStore(postgres)
            : new S3MetadataStore(dataFolder));
        // Multipart records go where the metadata goes; part bytes go to the shared S3 bucket when that is the store
        // (every api node reads them there), else to data/multipart/.
        builder.Services.AddSingleton(sp => new S3Multipart(
            sp.GetRequiredService<ICatalog>() is LabelLens.Storage.Postgres.PostgresCatalog catalog
                ? new LabelLens.Storage.Postgres.PostgresMultipartStore(catalog)
                : new SqliteMultipartStore(dataFolder),
            sp.GetRequiredService<IObjectStore>() as IMultipartPartStore ?? new FileMultipartPartStore(dataFolder),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<S3Multipart>>()));
        builder.Services.AddSingleton(sp => new S3SigV4(Secrets(options), options.S3AllowAnonymous, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new S3Handler(
            sp.GetRequiredService<IObjectStore>(),
            sp.GetRequiredService<ICatalog>(),
            sp.GetRequiredService<Uploader>(),
            sp.GetRequiredService<IS3MetadataStore>(),
            sp.GetRequiredService<S3Multipart>(),
            sp.GetRequiredService<S3SigV4>(),
            sp.GetRequiredService<IOptions<ServerOptions>>().Value,
            dataFolder,
            sp.GetRequiredService<LabelLens.Application.DiskSpace>(),
            sp.GetRequiredService<ILogger<S3Handler>>()));
    }

    /// <summary>Sends every request that arrived on the S3 port to the S3 handler (and nothing else there).</summary>
    public static void UseS3(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var listener = app.Services.GetRequiredService<S3Listener>();
        if (listener.Unavailable is { } reason)
        {
            app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LabelLens.S3")
                .LogWarning("!!! The S3-compatible endpoint is OFF: {Reason}. Everything else runs. Free the port, or choose another with --s3-port N (Server:S3Port; -1 turns S3 off).", reason));
        }

        if (!listener.Enabled)
        {
            return;
        }

        var handler = app.Services.GetRequiredService<S3Handler>();
        app.MapWhen(context => context.Connection.LocalPort == listener.Port, branch => branch.Run(handler.HandleAsync));
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LabelLens.S3");
            var sigv4 = app.Services.GetRequiredService<S3SigV4>();
            var options = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
            logger.LogInformation("S3-compatible endpoint listening on {Address}", listener.Address);
            if (!sigv4.HasCredentials && !options.S3AllowAnonymous)
            {
                logger.LogWarning("!!! The S3 endpoint has NO credentials and anonymous access is off: every S3 request will be refused with AccessDenied. Set Server:S3Credentials:0:AccessKey/SecretKey or LABELLENS_ACCESS_KEY/LABELLENS_SECRET_KEY (or Server:S3AllowAnonymous).");
            }
            else if (options.S3AllowAnonymous)
            {
                logger.LogWarning("The S3 endpoint accepts anonymous (unsigned) requests: anyone who can reach {Address} can read, upload and delete.", listener.Address);
            }
        });
    }

    /// <summary>Configured pairs plus LABELLENS_ACCESS_KEY / LABELLENS_SECRET_KEY.</summary>
    public static Dictionary<string, string> Secrets(ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var credential in options.S3Credentials)
        {
            if (credential.AccessKey.Length > 0 && credential.SecretKey.Length > 0)
            {
                secrets[credential.AccessKey] = credential.SecretKey;
            }
        }

        if (Environment.GetEnvironmentVariable("LABELLENS_ACCESS_KEY") is { Length: > 0 } accessKey
            && Environment.GetEnvironmentVariable("LABELLENS_SECRET_KEY") is { Length: > 0 } secretKey)
        {
            secrets[accessKey] = secretKey;
        }

        return secrets;
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            var probe = new System.Net.Sockets.TcpListener(address, port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static IPAddress ParseAddress(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "0.0.0.0" => IPAddress.Any,
        _ => IPAddress.Parse(host.Trim('[', ']')),
    };
}
