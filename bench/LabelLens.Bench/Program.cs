using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LabelLens.Bench;

var modelsOption = new Option<string>("--models")
{
    Description = "Models folder holding yolox-nano/yolox_nano.onnx. Default: $LABELLENS_MODELS, else ../shared/models beside the repository.",
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
var outOption = new Option<string?>("--out") { Description = "Also write the results as JSON to this file." };
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

var root = new RootCommand("LabelLens throughput benchmark: stage timings, decode and inference limits, and end-to-end `label` against them.")
{
    modelsOption, imagesOption, countOption, sizesOption, outOption,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var settings = new BenchSettings(
        parse.GetValue(modelsOption)!,
        parse.GetValue(imagesOption)!,
        parse.GetValue(countOption),
        ParseSizes(parse.GetValue(sizesOption))!);
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
