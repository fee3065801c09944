using System.CommandLine;
using LabelLens.Cli;
using Microsoft.Extensions.Options;

var root = new RootCommand("LabelLens: label images and videos with local models (objects, classes), Rekognition-style.");
root.Subcommands.Add(LabelLens.ServeCommand.Create());
root.Subcommands.Add(Commands.Label());
root.Subcommands.Add(Commands.ModelsCommand());
root.Subcommands.Add(CatalogCommands.Search());
root.Subcommands.Add(CatalogCommands.Status());
root.Subcommands.Add(CatalogCommands.Export());
root.Subcommands.Add(CatalogCommands.CatalogGroup());
root.Subcommands.Add(RelabelCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
root.Subcommands.Add(BackfillCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
try
{
    // Exceptions reach this handler (not System.CommandLine's, which prints a stack trace).
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (OptionsValidationException ex)
{
    // A bad setting (labellens.json, LABELLENS_* variables): say which, without a stack trace.
    // "DataAnnotation validation failed for 'X' members: 'Y' with the error: 'Z'." says Z, the part meant for people.
    var reasons = ex.Failures.Select(f => System.Text.RegularExpressions.Regex.Match(f, "with the error: '(.*)'\\.?$") is { Success: true } m ? m.Groups[1].Value : f);
    await Console.Error.WriteLineAsync($"labellens: invalid configuration: {string.Join(" ", reasons)}");
    return Commands.ExitFatal;
}
