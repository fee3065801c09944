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
        output.WriteLine($"LabelLens benchmark, {report.Date}: {string.Join(" + ", report.Analyses.Select(a => $"{a.Task} {a.Model} {a.InputWidth}x{a.InputHeight}"))}, "
            + $"{cores} cores ({machine.Cpu}), {machine.Runtime}, libvips {machine.Libvips}, ONNX Runtime {machine.OnnxRuntime}");
        output.WriteLine();
        output.WriteLine("Photos: " + string.Join("; ", sizes.Select(s =>
            $"{s.Megapixels:0.#} MP = {s.Width}x{s.Height}, {s.Images} JPEGs q90 4:2:0, mean {s.MeanJpegBytes / 1024.0:0} KiB, decoded at {s.WorkingWidth}x{s.WorkingHeight}")));
        output.WriteLine();

        output.WriteLine("Per-image stage times with IMAGE_PROPERTIES, one image at a time on one thread (ms):");
        output.WriteLine();
        output.WriteLine("| Stage | " + string.Join(" | ", sizes.Select(s => $"{s.Megapixels:0.#} MP mean | p50 | p95")) + " |");
        output.WriteLine("|---|" + string.Concat(sizes.Select(_ => "---:|---:|---:|")));
        StageRow(output, "decode (once, at the working size)", sizes, s => s.Stages.Decode);
        for (var i = 0; i < report.Analyses.Count; i++)
        {
            var index = i;
            var analysis = report.Analyses[i];
            var (prepare, postprocess) = analysis.Task switch
            {
                "objects" => ("letterbox, tensor fill", "boxes, NMS, labels"),
                "classes" => ("resize, centre crop, normalise", "softmax, labels"),
                _ => ("resize, tensor fill", "labels"),
            };
            StageRow(output, $"{analysis.Model}: prepare ({prepare})", sizes, s => s.Stages.Analyses[index].Prepare);
            StageRow(output, $"{analysis.Model}: inference", sizes, s => s.Stages.Analyses[index].Inference);
            StageRow(output, $"{analysis.Model}: postprocess ({postprocess})", sizes, s => s.Stages.Analyses[index].Postprocess);
            StageRow(output, $"{analysis.Model}: total", sizes, s => s.Stages.Analyses[index].Total);
        }

        StageRow(output, "image properties", sizes, s => s.Stages.Properties);
        StageRow(output, "total (the whole Label call)", sizes, s => s.Stages.Total);
        Row(output, "of which not in the limit (prepare, postprocess, properties, merging), mean", sizes, s => $"{s.Stages.OutsideLimit:0.00} ({s.Stages.OutsideLimit / s.Stages.Total.MeanMs:0%}) | |");
        output.WriteLine();

        var rounds = sizes.Max(s => s.Rounds.Count);
        output.WriteLine($"Throughput (images/s; CPU = share of the {cores} cores this process kept busy, others = share other processes took). "
            + $"Limit and end-to-end were measured in {rounds} alternating rounds per size; their rows are means over the clean rounds "
            + "(every measurement with others <= 5%; all rounds if none was), CPU averaged and others at its highest; "
            + "round-by-round figures are in parentheses, * marking a disturbed round:");
        output.WriteLine();
        output.WriteLine("| Measurement | " + string.Join(" | ", sizes.Select(s => $"{s.Megapixels:0.#} MP")) + " |");
        output.WriteLine("|---|" + string.Concat(sizes.Select(_ => "---:|")));
        RateRow(output, "`Label` with IMAGE_PROPERTIES, 1 thread (the stage-timing run)", sizes, s => s.SingleThreadedLabel);
        RateRow(output, $"decode only, {cores} threads", sizes, s => Mean(s.CountedRounds.Select(r => r.Limit.Decode)));
        for (var m = 0; m < inference.Count; m++)
        {
            var index = m;
            var model = inference[m];
            RateRow(output, $"{model.Model} inference only, {cores} concurrent runs x 1 thread", sizes, s => Mean(s.CountedRounds.Select(r => r.Limit.Inference[index].Rate)));
            RateRow(output, $"{model.Model} inference only, 1 run at a time x {cores} threads (once, for comparison)", sizes, _ => model.OneRunMultiThreaded);
        }

        var inferenceTerms = string.Concat(inference.Select(m => $" + 1/{m.Model}"));
        Row(output, $"**limit** = 1/(1/decode{inferenceTerms})", sizes, s => $"**{s.LimitPerSecond:0.0}** ({PerRound(s, r => $"{r.Limit.ImagesPerSecond:0.0}")})");
        RateRow(output, $"**end-to-end `label`** with IMAGE_PROPERTIES, {report.LabelWorkers} workers (its default)", sizes, s => Mean(s.CountedRounds.Select(r => r.EndToEnd)));
        Row(output, "end-to-end, round by round", sizes, s => PerRound(s, r => $"{r.EndToEnd.ImagesPerSecond:0.0}"));
        Row(output, $"**end-to-end / limit** (target >= {Benchmark.Target:0%})", sizes, s => $"**{s.EndToEndOfLimit:0%}** ({PerRound(s, r => $"{r.EndToEndOfLimit:0%}")})");
        output.WriteLine();
        var worstOthers = sizes.SelectMany(s => s.CountedRounds.SelectMany(r => r.Limit.Inference.Select(i => i.Rate).Append(r.Limit.Decode).Append(r.EndToEnd)).Append(s.SingleThreadedLabel))
            .Concat(inference.SelectMany(m => new[] { m.ConcurrentSingleThreaded, m.OneRunMultiThreaded }))
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

    /// <summary>The mean of several measurements: images/s and CPU share averaged, others at its highest.</summary>
    private static Rate Mean(IEnumerable<Rate> rates)
    {
        var list = rates.ToList();
        return new Rate(
            list.Average(r => r.ImagesPerSecond),
            list.Average(r => r.CpuBusy),
            list.All(r => r.OthersBusy is null) ? null : list.Max(r => r.OthersBusy ?? 0));
    }

    /// <summary>A figure of every round, disturbed rounds marked with *.</summary>
    private static string PerRound(SizeResult size, Func<RoundResult, string> figure) =>
        string.Join(", ", size.Rounds.Select(r => figure(r) + (r.Clean ? "" : "*")));

    private static string Others(Rate rate) => rate.OthersBusy is { } others ? $", others {others:0%}" : "";

    private static void Row(TextWriter output, string name, IReadOnlyList<SizeResult> sizes, Func<SizeResult, string> cell) =>
        output.WriteLine($"| {name} | " + string.Join(" | ", sizes.Select(cell)) + " |");
}
