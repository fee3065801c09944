using System.CommandLine;
using LabelLens.Cli;

var root = new RootCommand("LabelLens: label images with a local object detector, Rekognition-style.");
root.Subcommands.Add(Commands.Serve());
root.Subcommands.Add(Commands.Label());
root.Subcommands.Add(Commands.ModelsCommand());
root.Subcommands.Add(CatalogCommands.Search());
root.Subcommands.Add(CatalogCommands.Status());
root.Subcommands.Add(CatalogCommands.Export());
root.Subcommands.Add(RelabelCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
root.Subcommands.Add(BackfillCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
return await root.Parse(args).InvokeAsync();
