using System.CommandLine;
using System.Globalization;
using LabelLens.Cli;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LabelLens;

/// <summary>`labellens serve`: the web front end (HTTP API, S3, Rekognition, web UI) over the application layer.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port", "-p") { Description = "HTTP port (default 8080)." };
        var host = new Option<string?>("--host") { Description = "Address to bind (default 127.0.0.1)." };
        var data = new Option<string?>("--data") { Description = "Data folder: objects and catalog (default ./data, or $LABELLENS_DATA)." };
        var s3Port = new Option<int?>("--s3-port") { Description = "S3-compatible endpoint port (default 9000; 0 picks a free one; -1 turns it off)." };
        var role = new Option<string?>("--role")
        {
            Description = "all (default): everything; api: HTTP, S3, Rekognition and the web UI, no labeling; worker: labeling only. api and worker need a shared catalog (LABELLENS_CATALOG=postgresql://...).",
        };
        role.AcceptOnlyFromAmong("all", "api", "worker");
        var command = new Command("serve", "Run the service: upload API, labeling workers, catalog and search.") { port, host, data, s3Port, role, Commands.ModelsOption, Commands.VerboseOption };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(port) is { } p)
            {
                overrides["Server:Port"] = p.ToString(CultureInfo.InvariantCulture);
            }

            if (parse.GetValue(s3Port) is { } s3)
            {
                overrides["Server:S3Port"] = s3.ToString(CultureInfo.InvariantCulture);
            }

            if (parse.GetValue(role) is { Length: > 0 } r)
            {
                overrides["Server:Role"] = r;
            }

            if (parse.GetValue(host) is { Length: > 0 } h)
            {
                overrides["Server:Host"] = h;
            }

            if (parse.GetValue(data) is { Length: > 0 } d)
            {
                overrides["Server:DataFolder"] = d;
            }

            if (parse.GetValue(Commands.ModelsOption) is { Length: > 0 } models)
            {
                overrides["Models:Folder"] = models;
            }

            try
            {
                var app = Server.LabelLensServer.Create(overrides);
                await using (app)
                {
                    await app.RunAsync(cancellationToken);
                }

                return 0;
            }
            catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException or IOException or FormatException)
            {
                await Console.Error.WriteLineAsync($"labellens: cannot serve: {ex.Message}");
                return Commands.ExitFatal;
            }
        });
        return command;
    }
}
