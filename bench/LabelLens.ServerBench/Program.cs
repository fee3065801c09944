using System.CommandLine;
using System.Text.Json;
using LabelLens.Bench;
using LabelLens.ServerBench;

#if DEBUG
const string configuration = "Debug";
#else
const string configuration = "Release";
#endif

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
var serverOption = new Option<string>("--server-dll")
{
    Description = $"The labellens.dll to run `serve` from. Default: src/LabelLens/bin/{configuration}/net10.0/labellens.dll (built with this benchmark).",
    DefaultValueFactory = _ => Path.Combine(BenchPaths.RepoRoot, "src", "LabelLens", "bin", configuration, "net10.0", "labellens.dll"),
};
var countOption = new Option<int>("--count") { Description = "Photos for the offline and the sustained measurement.", DefaultValueFactory = _ => 200 };
var megapixelsOption = new Option<double>("--megapixels") { Description = "Photo size in megapixels (4:3 JPEGs).", DefaultValueFactory = _ => 2 };
var latencyOption = new Option<int>("--latency-runs") { Description = "Sequential uploads timed from upload to labeled.", DefaultValueFactory = _ => 50 };
var uploadersOption = new Option<int>("--uploaders") { Description = "Concurrent uploaders in the sustained measurement.", DefaultValueFactory = _ => 4 };
var roundsOption = new Option<int>("--rounds") { Description = "Rounds of limit, offline and sustained measurement, alternating; the ratios use their means.", DefaultValueFactory = _ => 3 };
var setOption = new Option<string[]>("--set")
{
    Description = "A server setting, KEY=VALUE (e.g. Queue:Workers=2, Queue:BatchSize=1); repeatable. Passed as LABELLENS_* environment variables.",
    AllowMultipleArgumentsPerToken = false,
};
var outOption = new Option<string?>("--out") { Description = "Also write the results as JSON to this file." };
foreach (var option in new[] { countOption, latencyOption, uploadersOption, roundsOption })
{
    option.Validators.Add(r =>
    {
        if (r.GetValue(option) < 1)
        {
            r.AddError($"{option.Name} must be 1 or more.");
        }
    });
}

megapixelsOption.Validators.Add(r =>
{
    if (r.GetValue(megapixelsOption) is <= 0 or > 150)
    {
        r.AddError("--megapixels must be above 0 and at most 150.");
    }
});
setOption.Validators.Add(r =>
{
    if ((r.GetValue(setOption) ?? []).Any(s => s.Split('=', 2) is not [{ Length: > 0 }, _]))
    {
        r.AddError("--set takes KEY=VALUE, e.g. Queue:Workers=2.");
    }
});

var root = new RootCommand(
    "LabelLens service benchmark: offline `label` throughput, then the real server: upload-to-labeled latency and sustained throughput through the HTTP API.")
{
    modelsOption, imagesOption, serverOption, countOption, megapixelsOption, latencyOption, uploadersOption, roundsOption, setOption, outOption,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var serverSettings = (parse.GetValue(setOption) ?? [])
        .Select(s => s.Split('=', 2))
        .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
    var settings = new ServiceBenchSettings(
        parse.GetValue(modelsOption)!,
        parse.GetValue(imagesOption)!,
        Path.GetFullPath(parse.GetValue(serverOption)!),
        parse.GetValue(countOption),
        parse.GetValue(megapixelsOption),
        parse.GetValue(latencyOption),
        parse.GetValue(uploadersOption),
        parse.GetValue(roundsOption),
        serverSettings);
    ServiceReport report;
    try
    {
        report = await new ServiceBenchmark(settings, Console.Error).RunAsync(cancellationToken);
    }
    catch (FileNotFoundException ex)
    {
        await Console.Error.WriteLineAsync($"serverbench: {ex.Message}");
        return 2;
    }

    ServiceReportTable.Write(report, Console.Out);
    if (parse.GetValue(outOption) is { Length: > 0 } outPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        await File.WriteAllTextAsync(outPath, JsonSerializer.Serialize(report, ServiceReportTable.JsonOptions) + "\n", cancellationToken);
        await Console.Error.WriteLineAsync($"Results written to {outPath}");
    }

    return 0;
});
return await root.Parse(args).InvokeAsync();
