using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LabelLens.Analysis;
using LabelLens.Bench;

var modelsOption = new Option<string>("--models")
{
    Description = "Models folder holding yolox-nano/yolox_nano.onnx and mobilenetv2-int8/mobilenetv2-12-int8.onnx. Default: $LABELLENS_MODELS, else ../shared/models beside the repository.",
    DefaultValueFactory = _ => BenchPaths.DefaultModels,
};
var imagesOption = new Option<string>("--images")
{
    Description = "Folder of sample .jpg photos the test images are derived from. Default: ../shared/images beside the repository.",
    DefaultValueFactory = _ => BenchPaths.DefaultImages,
};
var countOption = new Option<int>("--count")
{
    Description = "Images per photo size; the decode-only and inference-only measurements go over them 4 times.",
    DefaultValueFactory = _ => 200,
};
var sizesOption = new Option<string>("--sizes")
{
    Description = "Photo sizes in megapixels, comma-separated (4:3 JPEGs).",
    DefaultValueFactory = _ => "2,12",
};
var tasksOption = new Option<string>("--tasks")
{
    Description = "Analyses the labeler runs, comma-separated: objects (yolox-nano), classes (mobilenetv2-int8). Default: both, as `label` runs.",
    DefaultValueFactory = _ => "objects,classes",
};
var roundsOption = new Option<int>("--rounds")
{
    Description = "Rounds of limit then end-to-end `label` per photo size, alternating; the ratio uses their means.",
    DefaultValueFactory = _ => 3,
};
var outOption = new Option<string?>("--out") { Description = "Also write the results as JSON to this file." };
roundsOption.Validators.Add(r =>
{
    if (r.GetValue(roundsOption) < 1)
    {
        r.AddError("--rounds must be 1 or more.");
    }
});
tasksOption.Validators.Add(r =>
{
    try
    {
        if (AnalysisTasks.ParseList(r.GetValue(tasksOption)).Count == 0)
        {
            r.AddError("--tasks names no analysis; give objects, classes or both.");
        }
    }
    catch (ArgumentException ex)
    {
        r.AddError($"--tasks: {ex.Message}");
    }
});
countOption.Validators.Add(r =>
{
    if (r.GetValue(countOption) < 1)
    {
        r.AddError("--count must be 1 or more.");
    }
});
sizesOption.Validators.Add(r =>
{
    if (ParseSizes(r.GetValue(sizesOption)) is null)
    {
        r.AddError("--sizes must be positive numbers of megapixels separated by commas, e.g. 2,12.");
    }
});

var root = new RootCommand("LabelLens throughput benchmark: per-analysis stage timings, the decode and inference limits, and end-to-end `label` against them.")
{
    modelsOption, imagesOption, countOption, sizesOption, tasksOption, roundsOption, outOption,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var settings = new BenchSettings(
        parse.GetValue(modelsOption)!,
        parse.GetValue(imagesOption)!,
        parse.GetValue(countOption),
        ParseSizes(parse.GetValue(sizesOption))!,
        AnalysisTasks.ParseList(parse.GetValue(tasksOption)),
        parse.GetValue(roundsOption));
    BenchReport report;
    try
    {
        using var benchmark = new Benchmark(settings, Console.Error);
        report = await benchmark.RunAsync(cancellationToken);
    }
    catch (FileNotFoundException ex)
    {
        await Console.Error.WriteLineAsync($"bench: {ex.Message}");
        return 2;
    }

    ReportTable.Write(report, Console.Out);
    if (parse.GetValue(outOption) is { Length: > 0 } outPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        await File.WriteAllTextAsync(outPath, JsonSerializer.Serialize(report, ReportTable.JsonOptions) + "\n", cancellationToken);
        await Console.Error.WriteLineAsync($"Results written to {outPath}");
    }

    return 0;
});
return await root.Parse(args).InvokeAsync();

static List<double>? ParseSizes(string? text)
{
    var sizes = new List<double>();
    foreach (var part in (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
    {
        if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var megapixels) || megapixels <= 0 || megapixels > 150)
        {
            return null;
        }

        sizes.Add(megapixels);
    }

    return sizes.Count > 0 ? sizes : null;
}
