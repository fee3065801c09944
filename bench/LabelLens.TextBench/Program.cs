using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LabelLens.Analysis;
using LabelLens.Bench;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Vision;
using LabelLens.Vision.Ocr;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

var modelsOption = new Option<string>("--models") { Description = "Models folder holding ppocr-v4/, yolox-nano/ and mobilenetv2-int8/.", DefaultValueFactory = _ => BenchPaths.DefaultModels };
var imagesOption = new Option<string>("--images") { Description = "Sample photos (the photo cards and the throughput photos are made from them).", DefaultValueFactory = _ => BenchPaths.DefaultImages };
var sizesOption = new Option<string>("--sizes") { Description = "Detector input sizes (the longer side), comma-separated.", DefaultValueFactory = _ => "480,640,960,1280" };
var readSizeOption = new Option<int>("--read-size") { Description = "Text:ReadSize, the picture lines are read from (0: the detector's).", DefaultValueFactory = _ => new TextOptions().ReadSize };
var runsOption = new Option<int>("--runs") { Description = "Timed runs per card and size (the median is reported).", DefaultValueFactory = _ => 3 };
var photosOption = new Option<int>("--photos") { Description = "2 MP photos per throughput measurement.", DefaultValueFactory = _ => 60 };
var root = new RootCommand("LabelLens text benchmark: OCR cost and accuracy per input size, throughput with text on and off.") { modelsOption, imagesOption, sizesOption, readSizeOption, runsOption, photosOption };
root.SetAction(async (parse, cancellationToken) =>
{
    var folder = Directory.CreateTempSubdirectory("labellens-textbench-").FullName;
    try
    {
        var sizes = parse.GetValue(sizesOption)!.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var bench = new TextBenchmark(parse.GetValue(modelsOption)!, parse.GetValue(imagesOption)!, folder, parse.GetValue(readSizeOption));
        await bench.RunAsync(sizes, parse.GetValue(runsOption), parse.GetValue(photosOption), cancellationToken);
        return 0;
    }
    finally
    {
        Directory.Delete(folder, recursive: true);
    }
});
return await root.Parse(args).InvokeAsync();

/// <summary>A generated card and the lines it must give, exactly.</summary>
internal sealed record Card(string Name, string[] Lines, string[] Draw);

/// <summary>Makes the cards, then measures each input size, then throughput (see bench/README.md, "Text").</summary>
internal sealed class TextBenchmark(string models, string images, string folder, int readSize)
{
    private readonly VipsImageDecoder _decoder = new(Options.Create(new ImageOptions()));

    /// <summary>Title cards, slates, signs and captions in several sizes of type, drawn in DejaVu Sans by ImageMagick.</summary>
    private IEnumerable<Card> Cards()
    {
        static string[] Text(int width, int height, string background, string ink, params (int Points, int Y, string Text)[] lines) =>
            [
                "-size", $"{width}x{height}", $"xc:{background}", "-fill", ink, "-font", "DejaVu-Sans", "-gravity", "center",
                .. lines.SelectMany(l => new[] { "-pointsize", l.Points.ToString(CultureInfo.InvariantCulture), "-annotate", $"+0{l.Y:+0;-0}", l.Text }),
            ];
        var eagle = Path.Combine(images, "eagle.jpg");
        var giraffe = Path.Combine(images, "giraffe.jpg");
        yield return new("slate", ["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], Text(1280, 720, "black", "white", (72, -60, "SCENE 42     TAKE 7"), (48, 60, "Directed by Ada Lovelace")));
        yield return new("exit sign", ["EMERGENCY EXIT", "Keep this door closed"], Text(1024, 768, "white", "black", (64, -50, "EMERGENCY EXIT"), (40, 50, "Keep this door closed")));
        yield return new("credits 1080p, 28 pt", ["Produced by Grace Hopper", "Camera 2 Roll 118"], Text(1920, 1080, "black", "white", (28, -30, "Produced by Grace Hopper"), (28, 30, "Camera 2 Roll 118")));
        yield return new("credits 1080p, 18 pt", ["Music by Clara Schumann", "Edited by Alan Turing"], Text(1920, 1080, "black", "white", (18, -20, "Music by Clara Schumann"), (18, 20, "Edited by Alan Turing")));
        yield return new("end card", ["THE END"], Text(1280, 720, "black", "white", (180, 0, "THE END")));
        yield return new("rotated 4°", ["SCENE 42", "Directed by Ada Lovelace"], [.. Text(1280, 720, "white", "black", (72, -60, "SCENE 42"), (48, 60, "Directed by Ada Lovelace")), "-background", "white", "-rotate", "4", "-gravity", "center", "-extent", "1280x720"]);
        yield return new("caption on a photo", ["Hotel Paradiso", "Rome 1952"], [eagle, "-resize", "1280x720!", "-font", "DejaVu-Sans", "-gravity", "south", "-fill", "white", "-stroke", "black", "-strokewidth", "2", "-pointsize", "64", "-annotate", "+0+110", "Hotel Paradiso", "-pointsize", "48", "-annotate", "+0+40", "Rome 1952"]);
        yield return new("sign on a 12 MP photo", ["Zoo Exit 3"], [giraffe, "-resize", "4000x3000!", "-font", "DejaVu-Sans", "-gravity", "northwest", "-fill", "yellow", "-undercolor", "black", "-pointsize", "90", "-annotate", "+200+200", "Zoo Exit 3"]);
    }

    public async Task RunAsync(IReadOnlyList<int> sizes, int runs, int photoCount, CancellationToken cancellationToken)
    {
        var cards = new List<(Card Card, byte[] Bytes)>();
        foreach (var card in Cards())
        {
            cards.Add((card, await DrawAsync(card, cancellationToken)));
        }

        var photos = TestPhotos.Derive(TestPhotos.Samples(images), 2);
        var ocr = Path.Combine(models, "ppocr-v4", "ch_PP-OCRv4_det_infer.onnx");
        var total = cards.Sum(c => c.Card.Lines.Length);
        Console.WriteLine($"{cards.Count} cards ({total} lines), {photos.Count} photos of 2 MP without text; lines read from a picture fitted to max(size, {readSize}); median of {runs} runs, one thread, {Environment.ProcessorCount} cores.");
        Console.WriteLine();
        Console.WriteLine("| input size | lines exactly right | card: decode ms | card: text ms (detector / recogniser) | 2 MP photo: decode ms | 2 MP photo: text ms | missed |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var size in sizes)
        {
            using var reader = new PaddleTextReader(new LocalModel("ppocr-v4", ocr, []), new TextOptions { InputSize = size, ReadSize = readSize }, new DetectorOptions(), TimeProvider.System, NullLogger<PaddleTextReader>.Instance);
            var right = 0;
            var missed = new List<string>();
            var card = new List<(double Decode, double Text, double Inference)>();
            foreach (var (c, bytes) in cards)
            {
                var (timing, text) = Measure(reader, bytes, runs);
                card.Add(timing);
                var read = text.Lines.Select(l => l.Text).ToHashSet(StringComparer.Ordinal);
                right += c.Lines.Count(read.Contains);
                missed.AddRange(c.Lines.Where(l => !read.Contains(l)).Select(l => $"{c.Name}: {l}"));
            }

            var photo = photos.Select(p => Measure(reader, p, runs).Timing).ToList();
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {size} | {right} / {total} | {card.Average(c => c.Decode):0.0} | {card.Average(c => c.Text):0} ({card.Average(c => c.Inference):0} in the models) | {photo.Average(c => c.Decode):0.0} | {photo.Average(c => c.Text):0} | {(missed.Count == 0 ? "-" : string.Join("; ", missed))} |"));
        }

        Console.WriteLine();
        await ThroughputAsync(photos, cards.Select(c => c.Bytes).ToList(), photoCount, cancellationToken);
    }

    /// <summary>The median decode and text time of one picture over <paramref name="runs"/> runs (after one untimed run), and what was read.</summary>
    private ((double Decode, double Text, double Inference) Timing, DetectedText Text) Measure(PaddleTextReader reader, byte[] bytes, int runs)
    {
        DetectedText? text = null;
        var timings = new List<(double, double, double)>();
        for (var run = 0; run <= runs; run++)
        {
            var started = Stopwatch.GetTimestamp();
            using var picture = _decoder.Decode(bytes, [reader.Needs], out _);
            var decoded = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            text = (DetectedText)reader.Analyze(picture, (float)(new TextOptions().MinConfidence / 100), CancellationToken.None);
            if (run > 0)
            {
                timings.Add((decoded, text.Timing.TotalMs, text.Timing.InferenceMs));
            }
        }

        return (timings.OrderBy(t => t.Item2).ElementAt(timings.Count / 2), text!);
    }

    /// <summary>
    /// Pictures per second through the labeling analyses alone and with the text read after them (what `label
    /// --features GENERAL_LABELS TEXT` does per file), one worker per core; photos without text, then cards.
    /// </summary>
    private async Task ThroughputAsync(List<byte[]> photos, List<byte[]> cards, int count, CancellationToken cancellationToken)
    {
        if (count <= 0)
        {
            return;
        }

        var tasks = new AnalysisOptions().ParseTasks().Append(AnalysisTask.Text).ToList();
        using var labeler = Benchmark.NewLabeler(Benchmark.FindModels(models, tasks), _decoder);
        var request = LabelRequest.Default with { ImageProperties = true };
        var minConfidence = new TextOptions().MinConfidence;
        Console.WriteLine($"Throughput, {Environment.ProcessorCount} workers (one per core), {count} pictures each; the machine may be shared (CPU share of other processes in the last column).");
        Console.WriteLine();
        Console.WriteLine("| pictures | labels only (pictures/s) | labels, then text (pictures/s) | text's share of the time | others' CPU |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var (name, set) in new[] { ("2 MP photos", photos), ("text cards", cards) })
        {
            // Untimed warm-up of both paths.
            await RunAsync(set, set.Count, b => labeler.Label(b, request, cancellationToken), cancellationToken);
            await RunAsync(set, set.Count, b => labeler.ReadText(b, minConfidence, cancellationToken), cancellationToken);
            var meter = new CpuMeter();
            var labelsOnly = await RunAsync(set, count, b => labeler.Label(b, request, cancellationToken), cancellationToken);
            var withText = await RunAsync(set, count, b => { labeler.Label(b, request, cancellationToken); labeler.ReadText(b, minConfidence, cancellationToken); }, cancellationToken);
            var others = meter.Stop().Others;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {name} | {labelsOnly:0.0} | {withText:0.0} | {1 - (withText / labelsOnly):P0} | {(others is { } o ? o.ToString("P0", CultureInfo.InvariantCulture) : "?")} |"));
        }
    }

    private static async Task<double> RunAsync(List<byte[]> set, int count, Action<byte[]> work, CancellationToken cancellationToken)
    {
        var next = -1;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(
            () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    work(set[i % set.Count]);
                }
            },
            cancellationToken)));
        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private async Task<byte[]> DrawAsync(Card card, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, string.Concat(card.Name.Where(char.IsLetterOrDigit)) + (card.Draw[0].EndsWith(".jpg", StringComparison.Ordinal) ? ".jpg" : ".png"));
        var start = new ProcessStartInfo("/usr/bin/convert") { RedirectStandardError = true };
        foreach (var arg in card.Draw.Append(path))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ImageMagick's /usr/bin/convert is needed (apt-get install imagemagick fonts-dejavu-core).");
        var error = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode == 0 ? await File.ReadAllBytesAsync(path, cancellationToken) : throw new InvalidOperationException($"convert failed for {card.Name}: {error}");
    }
}
