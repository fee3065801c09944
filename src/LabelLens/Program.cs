using System.CommandLine;
using LabelLens.Cli;

var root = new RootCommand("LabelLens: label images with a local object detector, Rekognition-style.");
root.Subcommands.Add(Commands.Serve());
root.Subcommands.Add(Commands.Label());
root.Subcommands.Add(Commands.ModelsCommand());
return await root.Parse(args).InvokeAsync();
