using System.CommandLine;
using LabelLens.Cli;

var root = new RootCommand("LabelLens: label images and videos with local models (objects, classes), Rekognition-style.");
root.Subcommands.Add(LabelLens.ServeCommand.Create());
root.Subcommands.Add(Commands.Label());
root.Subcommands.Add(Commands.ModelsCommand());
root.Subcommands.Add(CatalogCommands.Search());
root.Subcommands.Add(CatalogCommands.Status());
root.Subcommands.Add(CatalogCommands.Export());
root.Subcommands.Add(RelabelCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
root.Subcommands.Add(BackfillCommand.Create(Commands.ModelsOption, Commands.VerboseOption));
return await root.Parse(args).InvokeAsync();
