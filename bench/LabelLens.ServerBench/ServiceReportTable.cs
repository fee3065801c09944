using System.Globalization;
using System.Text.Json;
using LabelLens.Bench;

namespace LabelLens.ServerBench;

/// <summary>The report as a Markdown table (pasteable into bench/README.md) and as JSON.</summary>
internal static class ServiceReportTable
{
    /// <summary>Sustained throughput through the API should reach this share of offline `label`.</summary>
    public const double Target = 0.80;

    /// <summary>Sustained throughput through the API should reach this share of the decode + inference limit (the issue's requirement).</summary>
    public const double LimitTarget = Benchmark.Target;

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static void Write(ServiceReport report, TextWriter output)
    {
        var machine = report.Machine;
        var cores = machine.ProcessorCount;
        var latency = report.Latency;
        var offline = report.Offline;
        var limits = report.Limits;
        var sustained = report.Sustained;
        var upload = report.UploadPath;
        var first = sustained[0];
        var settings = report.ServerSettings.Count == 0
            ? "default settings"
            : string.Join(", ", report.ServerSettings.Select(s => $"{s.Key}={s.Value}"));
        output.WriteLine();
        output.WriteLine($"LabelLens service benchmark, {report.Date}: {cores} cores ({machine.Cpu}), {machine.Runtime}, "
            + $"libvips {machine.Libvips}, ONNX Runtime {machine.OnnxRuntime}");
        output.WriteLine();
        output.WriteLine($"Photos: {report.Images} JPEGs of {report.Width}x{report.Height} q90 4:2:0, mean {report.MeanJpegBytes / 1024.0:0} KiB. "
            + $"Server: `labellens serve` as a child process, {settings}. "
            + $"Analyses (offline and in the server): {string.Join(" + ", report.Analyses.Select(a => $"{a.Task} {a.Model}"))}, with IMAGE_PROPERTIES. "
            + $"{offline.Count} rounds of (b), (a), (d).");
        output.WriteLine();
        output.WriteLine("| Measurement | Result |");
        output.WriteLine("|---|---:|");
        var models = limits[0].Inference.Select(i => i.Model).ToList();
        output.WriteLine($"| (b) decode only, {cores} threads, mean of {limits.Count} rounds | {Mean(limits, l => l.Decode.ImagesPerSecond):0.0} images/s "
            + $"(rounds: {List(limits.Select(l => l.Decode.ImagesPerSecond))}); {Mean(limits, l => l.Decode.CpuBusy):0%} CPU, others {Mean(limits, l => l.Decode.OthersBusy ?? 0):0%} |");
        for (var m = 0; m < models.Count; m++)
        {
            var index = m;
            output.WriteLine($"| (b) {models[m]} inference only, {cores} concurrent runs x 1 thread, mean of {limits.Count} rounds | "
                + $"{Mean(limits, l => l.Inference[index].Rate.ImagesPerSecond):0.0} images/s (rounds: {List(limits.Select(l => l.Inference[index].Rate.ImagesPerSecond))}); "
                + $"{Mean(limits, l => l.Inference[index].Rate.CpuBusy):0%} CPU, others {Mean(limits, l => l.Inference[index].Rate.OthersBusy ?? 0):0%} |");
        }

        output.WriteLine($"| **(b) limit** = 1/(1/decode{string.Concat(models.Select(m => $" + 1/{m}"))}), mean of {limits.Count} rounds | "
            + $"**{report.LimitImagesPerSecond:0.0} images/s** (rounds: {List(limits.Select(l => l.ImagesPerSecond))}) |");
        output.WriteLine($"| (a) offline `label` with IMAGE_PROPERTIES, {report.LabelWorkers} workers, mean of {offline.Count} rounds | **{report.OfflineImagesPerSecond:0.0} images/s** "
            + $"(rounds: {List(offline.Select(r => r.ImagesPerSecond))}); {Mean(offline, r => r.CpuBusy):0%} CPU, "
            + $"others {Mean(offline, r => r.OthersBusy ?? 0):0%}; {Mean(offline, r => r.CpuBusy * cores * 1000 / r.ImagesPerSecond):0.0} ms CPU per image |");
        output.WriteLine($"| (c) upload to labeled, idle server, {latency.Runs} sequential, ms | **p50 {latency.UploadToLabeled.P50:0.0}, "
            + $"p95 {latency.UploadToLabeled.P95:0.0}, max {latency.UploadToLabeled.Max:0.0}** |");
        output.WriteLine($"| (c) of which the PUT (stored, fsynced, catalogued, queued), ms | p50 {latency.Upload.P50:0.0}, p95 {latency.Upload.P95:0.0}, max {latency.Upload.Max:0.0} |");
        output.WriteLine($"| (c) server labelingMs (decode, models, postprocess, properties), ms | p50 {latency.ServerLabeling.P50:0.0}, p95 {latency.ServerLabeling.P95:0.0}, max {latency.ServerLabeling.Max:0.0} |");
        output.WriteLine($"| (c) server createdAt to labeledAt, ms | p50 {latency.ServerQueuedToLabeled.P50:0}, p95 {latency.ServerQueuedToLabeled.P95:0}, max {latency.ServerQueuedToLabeled.Max:0} |");
        output.WriteLine($"| (c) CPU during the latency runs | {Cpu(latency.Cpu)} |");
        output.WriteLine($"| (d) sustained through the API, {first.Images} uploads by {first.Uploaders} uploaders, mean of {sustained.Count} rounds | "
            + $"**{report.SustainedImagesPerSecond:0.0} images/s** (rounds: {List(sustained.Select(r => r.ImagesPerSecond))}); "
            + $"{Cpu(Average(sustained.Select(r => (r.Cpu, r.Seconds))))}; server {Mean(sustained, r => CpuMs(r.Cpu.Server, r.Seconds, r.Images, cores)):0.0} ms CPU per image |");
        var during = sustained.Select(r => r.DuringUploads).ToList();
        var after = sustained.Select(r => r.AfterUploads).ToList();
        output.WriteLine($"| (d) while uploading: first upload to last 201 | {Mean(during, p => p.Seconds):0.00} s = {Mean(sustained, r => r.Images / r.DuringUploads.Seconds):0.0} uploads/s, "
            + $"PUT p50 {Mean(sustained, r => r.Upload.P50):0.0} ms, p95 {Mean(sustained, r => r.Upload.P95):0.0} ms; {Mean(during, p => p.Labeled):0} labeled = "
            + $"{Mean(during, p => p.LabeledPerSecond):0.0} images/s; {Cpu(Average(during.Select(p => (p.Cpu, p.Seconds))))} |");
        output.WriteLine($"| (d) after the last upload | {Mean(after, p => p.Seconds):0.00} s, {Mean(after, p => p.Labeled):0} labeled = {Mean(after, p => p.LabeledPerSecond):0.0} images/s; "
            + $"{Cpu(Average(after.Select(p => (p.Cpu, p.Seconds))))}; server {Mean(after, p => CpuMs(p.Cpu.Server, p.Seconds, p.Labeled, cores)):0.0} ms CPU per image |");
        output.WriteLine($"| (d) per job in a worker (read, label, store; /metrics) | "
            + $"{(sustained.All(r => r.WorkerJobMs is not null) ? $"{Mean(sustained, r => r.WorkerJobMs ?? 0):0.0} ms mean" : "n/a")} |");
        output.WriteLine($"| (d) server labelingMs under load, ms | mean {Mean(sustained, r => r.ServerLabeling.Mean):0.0}, p50 {Mean(sustained, r => r.ServerLabeling.P50):0.0}, "
            + $"p95 {Mean(sustained, r => r.ServerLabeling.P95):0.0} |");
        output.WriteLine($"| (e) upload path alone: server without a model, {upload.Uploads} uploads by {upload.Uploaders} uploaders | {upload.UploadsPerSecond:0.0} uploads/s; "
            + $"PUT p50 {upload.Upload.P50:0.0} ms, p95 {upload.Upload.P95:0.0} ms; server {upload.ServerCpuMsPerUpload:0.0} ms CPU per upload, "
            + $"client {upload.ClientCpuMsPerUpload:0.0} ms{Others(upload.Cpu.Others)} |");
        output.WriteLine($"| **(d) / (a)** (target >= {Target:0%}) | **{report.SustainedOfOffline:0%}** "
            + $"(round by round: {Ratios(sustained.Select(r => r.ImagesPerSecond), offline.Select(r => r.ImagesPerSecond))}) |");
        output.WriteLine($"| **(a) / (b)**, offline `label` against the limit | **{report.OfflineOfLimit:0%}** "
            + $"(round by round: {Ratios(offline.Select(r => r.ImagesPerSecond), limits.Select(l => l.ImagesPerSecond))}) |");
        output.WriteLine($"| **(d) / (b)**, `serve` against the limit (target >= {LimitTarget:0%}) | **{report.SustainedOfLimit:0%}** "
            + $"(round by round: {Ratios(sustained.Select(r => r.ImagesPerSecond), limits.Select(l => l.ImagesPerSecond))}) |");
        output.WriteLine();
        var worst = offline.Select(r => r.OthersBusy)
            .Concat(limits.SelectMany(l => l.Inference.Select(i => i.Rate.OthersBusy).Append(l.Decode.OthersBusy))).Concat(sustained.Select(r => r.Cpu.Others)).Append(latency.Cpu.Others).Append(upload.Cpu.Others).Max(o => o ?? 0);
        if (worst > Quiet.NoisyMachine)
        {
            output.WriteLine($"WARNING: other processes took up to {worst:0%} of the cores during a measurement; rerun on a quiet machine.");
            output.WriteLine();
        }
    }

    private static string Ratios(IEnumerable<double> numerators, IEnumerable<double> denominators) =>
        string.Join(", ", numerators.Zip(denominators, (n, d) => (n / d).ToString("0%", CultureInfo.InvariantCulture)));

    private static string List(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("0.0", CultureInfo.InvariantCulture)));

    private static double Mean<T>(IEnumerable<T> items, Func<T, double> value) => items.Average(value);

    /// <summary>CPU shares of several measurements, weighted by their durations.</summary>
    private static CpuShares Average(IEnumerable<(CpuShares Cpu, double Seconds)> parts)
    {
        var list = parts.ToList();
        var seconds = list.Sum(p => p.Seconds);
        double? others = list.All(p => p.Cpu.Others is not null) ? list.Sum(p => p.Cpu.Others!.Value * p.Seconds) / seconds : null;
        return new CpuShares(list.Sum(p => p.Cpu.Server * p.Seconds) / seconds, list.Sum(p => p.Cpu.Client * p.Seconds) / seconds, others);
    }

    private static string Cpu(CpuShares cpu) => $"CPU server {cpu.Server:0%}, client {cpu.Client:0%}{Others(cpu.Others)}";

    /// <summary>CPU milliseconds per item from a share of all the cores over a time.</summary>
    private static double CpuMs(double share, double seconds, int items, int cores) => items == 0 ? 0 : share * cores * seconds * 1000 / items;

    private static string Others(double? others) => others is { } o ? $", others {o:0%}" : "";
}
