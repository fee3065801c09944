using System.Diagnostics;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using LabelLens.Vision.Ocr;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabelLens.Tests;

/// <summary>
/// Text cards made at test time with Debian's ImageMagick (never committed): title cards, slates, captions on a
/// photo. /usr/bin/convert is required (a stand-in `convert` earlier on PATH may not be ImageMagick); when it is
/// missing the tests fail saying how to install it (.ci/run installs it), never skip.
/// </summary>
public static class TextCards
{
    public const string Font = "DejaVu-Sans";

    private static readonly Lazy<string> Folder = new(() => RunFolders.Create("labellens-cards-"));
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<string, byte[]> Made = [];

    public static string Convert { get; } = File.Exists("/usr/bin/convert")
        ? "/usr/bin/convert"
        : throw new InvalidOperationException("ImageMagick's /usr/bin/convert is required by the text tests (apt-get install imagemagick fonts-dejavu-core; .ci/run installs it).");

    /// <summary>The cards every accuracy test and the benchmark read, with the lines each should give.</summary>
    public static IReadOnlyList<(string Name, string[] Lines, string[] Args)> All { get; } =
    [
        ("slate.png", ["SCENE 42", "TAKE 7", "Directed by Ada Lovelace"], Card(1280, 720, "black", "white",
            ("72", "+0-60", "SCENE 42     TAKE 7"), ("48", "+0+60", "Directed by Ada Lovelace"))),
        ("black-on-white.png", ["EMERGENCY EXIT", "Keep this door closed"], Card(1024, 768, "white", "black",
            ("64", "+0-50", "EMERGENCY EXIT"), ("40", "+0+50", "Keep this door closed"))),
        ("small-type.png", ["Produced by Grace Hopper", "Camera 2 Roll 118"], Card(1920, 1080, "black", "white",
            ("28", "+0-30", "Produced by Grace Hopper"), ("28", "+0+30", "Camera 2 Roll 118"))),
        ("large-type.png", ["THE END"], Card(1280, 720, "black", "white", ("180", "+0+0", "THE END"))),
        ("rotated.png", ["SCENE 42", "Directed by Ada Lovelace"], [.. Card(1280, 720, "white", "black",
            ("72", "+0-60", "SCENE 42"), ("48", "+0+60", "Directed by Ada Lovelace")), "-background", "white", "-rotate", "4", "-gravity", "center", "-extent", "1280x720"]),
        ("on-photo.jpg", ["Hotel Paradiso", "Rome 1952"], PhotoCaption("Hotel Paradiso", "Rome 1952")),
    ];

    public static Task<byte[]> Get(string name) => MakeAsync(name, All.Single(c => c.Name == name).Args);

    /// <summary>Any card: centred lines of white-on-black (or other colours) text at the given point sizes and offsets.</summary>
    public static Task<byte[]> MakeAsync(string name, string[] args) => MakeFileAsync(name, args, p => File.ReadAllBytesAsync(p));

    public static Task<string> PathOfAsync(string name) => MakeFileAsync(name, All.Single(c => c.Name == name).Args, p => Task.FromResult(p));

    internal static string[] Card(int width, int height, string background, string ink, params (string Points, string Offset, string Text)[] lines)
    {
        var args = new List<string> { "-size", $"{width}x{height}", $"xc:{background}", "-fill", ink, "-font", Font, "-gravity", "center" };
        foreach (var (points, offset, text) in lines)
        {
            args.AddRange(["-pointsize", points, "-annotate", offset, text]);
        }

        return [.. args];
    }

    /// <summary>White type with a dark outline low on a real photo (a caption burnt into the picture).</summary>
    private static string[] PhotoCaption(string first, string second) =>
    [
        Path.Combine(TestData.ImagesFolder, "eagle.jpg"), "-resize", "1280x720!", "-font", Font, "-gravity", "south",
        "-fill", "white", "-stroke", "black", "-strokewidth", "2",
        "-pointsize", "64", "-annotate", "+0+110", first, "-pointsize", "48", "-annotate", "+0+40", second,
        "-quality", "92",
    ];

    private static async Task<T> MakeFileAsync<T>(string name, string[] args, Func<string, Task<T>> read)
    {
        await Gate.WaitAsync();
        try
        {
            var path = Path.Combine(Folder.Value, name);
            if (!File.Exists(path))
            {
                var start = new ProcessStartInfo(Convert) { RedirectStandardError = true };
                foreach (var arg in args.Append(path))
                {
                    start.ArgumentList.Add(arg);
                }

                using var process = Process.Start(start)!;
                var stderr = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.True(process.ExitCode == 0 && File.Exists(path), $"ImageMagick could not make {name}: {await stderr}");
            }

            return await read(path);
        }
        finally
        {
            Gate.Release();
        }
    }

    public static string OcrFolder => Path.Combine(TestData.ModelsFolder, "ppocr-v4");

    public static PaddleTextReader CreateReader(TextOptions? options = null)
    {
        var path = Path.Combine(OcrFolder, "ch_PP-OCRv4_det_infer.onnx");
        return new PaddleTextReader(new LocalModel("ppocr-v4", path, []), options ?? new TextOptions(), new DetectorOptions(), TimeProvider.System, NullLogger<PaddleTextReader>.Instance);
    }
}

/// <summary>The text reader on the real PP-OCRv4 models, with the pipeline that decodes for it, loaded once.</summary>
public sealed class TextFixture : IDisposable
{
    public TextFixture()
    {
        Reader = TextCards.CreateReader();
        Decoder = new VipsImageDecoder(Options.Create(new ImageOptions()));
    }

    public PaddleTextReader Reader { get; }

    public VipsImageDecoder Decoder { get; }

    public DetectedText Read(byte[] bytes, double minConfidence = -1)
    {
        using var picture = Decoder.Decode(bytes, [Reader.Needs], out _);
        return (DetectedText)Reader.Analyze(picture, (float)((minConfidence < 0 ? new TextOptions().MinConfidence : minConfidence) / 100), CancellationToken.None);
    }

    public static ImageLabeler Labeler(params IPictureAnalysis[] analyses) =>
        new(analyses, new VipsImageDecoder(Options.Create(new ImageOptions())), new LabelBuilder(LabelTaxonomy.BuiltIn));

    public void Dispose() => Reader.Dispose();
}
