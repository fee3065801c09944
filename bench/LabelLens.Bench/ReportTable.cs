using System.Text.Json;

namespace LabelLens.Bench;

/// <summary>The report as markdown tables (readable as plain text, pasteable into bench/README.md) and as JSON.</summary>
internal static class ReportTable
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static void Write(BenchReport report, TextWriter output)
    {
        var machine = report.Machine;
        var inference = report.Inference;
        var cores = machine.ProcessorCount;
        var sizes = report.Sizes;
        output.WriteLine();
        output.WriteLine($"LabelLens benchmark, {report.Date}: {report.Model} {report.InputWidth}x{report.InputHeight}, {cores} cores ({machine.Cpu}), "
            + $"{machine.Runtime}, libvips {machine.Libvips}, ONNX Runtime {machine.OnnxRuntime}");
        output.WriteLine();
        output.WriteLine("Photos: " + string.Join("; ", sizes.Select(s =>
            $"{s.Megapixels:0.#} MP = {s.Width}x{s.Height}, {s.Images} JPEGs q90 4:2:0, mean {s.MeanJpegBytes / 1024.0:0} KiB")));
        output.WriteLine();

        output.WriteLine("Per-image stage times, one image at a time on one thread (ms):");
        output.WriteLine();
        output.WriteLine("| Stage | " + string.Join(" | ", sizes.Select(s => $"{s.Megapixels:0.#} MP mean | p50 | p95")) + " |");
        output.WriteLine("|---|" + string.Concat(sizes.Select(_ => "---:|---:|---:|")));
        StageRow(output, "decode+resize", sizes, s => s.Stages.Decode);
        StageRow(output, "tensor fill", sizes, s => s.Stages.Tensor);
        StageRow(output, "inference", sizes, s => s.Stages.Inference);
        StageRow(output, "postprocess", sizes, s => s.Stages.Postprocess);
        StageRow(output, "total", sizes, s => s.Stages.Total);
        StageRow(output, "with IMAGE_PROPERTIES: decode+resize keeping the pixels", sizes, s => s.Stages.DecodeKeepingPixels);
        StageRow(output, "with IMAGE_PROPERTIES: image properties", sizes, s => s.Stages.Properties);
        output.WriteLine();

        output.WriteLine($"Throughput (images/s; CPU = share of the {cores} cores this process kept busy, others = share other processes took):");
        output.WriteLine();
        output.WriteLine("| Measurement | " + string.Join(" | ", sizes.Select(s => $"{s.Megapixels:0.#} MP")) + " |");
        output.WriteLine("|---|" + string.Concat(sizes.Select(_ => "---:|")));
        RateRow(output, "Detect, 1 thread (the stage-timing run)", sizes, s => s.SingleThreadedDetect);
        RateRow(output, $"decode+resize only, {cores} threads", sizes, s => s.Decode);
        RateRow(output, $"inference only, {cores} concurrent runs x 1 thread", sizes, _ => inference.ConcurrentSingleThreaded);
        RateRow(output, $"inference only, 1 run at a time x {cores} threads", sizes, _ => inference.OneRunMultiThreaded);
        Row(output, "**limit** = 1/(1/decode + 1/inference)", sizes, s => $"**{s.CombinedLimitPerSecond:0.0}**");
        RateRow(output, $"**end-to-end `label`**, {report.LabelWorkers} workers (its default)", sizes, s => s.EndToEnd);
        Row(output, "**end-to-end / limit** (target >= 85%)", sizes, s => $"**{s.EndToEndOfLimit:0%}**");
        output.WriteLine();
        var worstOthers = sizes.SelectMany(s => new[] { s.SingleThreadedDetect, s.Decode, s.EndToEnd })
            .Concat([inference.ConcurrentSingleThreaded, inference.OneRunMultiThreaded])
            .Max(r => r.OthersBusy ?? 0);
        if (worstOthers > Quiet.NoisyMachine)
        {
            output.WriteLine($"WARNING: other processes took up to {worstOthers:0%} of the cores during a measurement; rerun on a quiet machine.");
            output.WriteLine();
        }
    }

    private static void StageRow(TextWriter output, string name, IReadOnlyList<SizeResult> sizes, Func<SizeResult, Stat> stat) =>
        Row(output, name, sizes, s => $"{stat(s).MeanMs:0.00} | {stat(s).P50Ms:0.00} | {stat(s).P95Ms:0.00}");

    private static void RateRow(TextWriter output, string name, IReadOnlyList<SizeResult> sizes, Func<SizeResult, Rate> rate) =>
        Row(output, name, sizes, s => $"{rate(s).ImagesPerSecond:0.0} ({rate(s).CpuBusy:0%} CPU{Others(rate(s))})");

    private static string Others(Rate rate) => rate.OthersBusy is { } others ? $", others {others:0%}" : "";

    private static void Row(TextWriter output, string name, IReadOnlyList<SizeResult> sizes, Func<SizeResult, string> cell) =>
        output.WriteLine($"| {name} | " + string.Join(" | ", sizes.Select(cell)) + " |");
}
