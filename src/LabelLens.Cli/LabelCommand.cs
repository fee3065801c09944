using System.Threading.Channels;
using LabelLens.Detection;
using LabelLens.Labels;
using Spectre.Console;

namespace LabelLens.Cli;

/// <summary>Options of one `label` run.</summary>
public sealed record LabelRunOptions(
    IReadOnlyList<string> Inputs,
    bool Recursive,
    OutputFormat Format,
    LabelRequest Request,
    int Workers,
    long MaxBytes,
    bool ShowProgress)
{
    /// <summary>The TEXT feature: read each file's text (lines and words) at or above this confidence; null leaves text out.</summary>
    public double? TextMinConfidence { get; init; }

    /// <summary>Labels or image properties are asked for (not TEXT alone).</summary>
    public bool Labels { get; init; } = true;
}

/// <summary>How a `label` run went.</summary>
public sealed record LabelRunSummary(int Files, int Labeled, int Failed, TimeSpan Elapsed);

/// <summary>
/// Labels many files using every core: one worker per core, each decoding and running the model on its
/// own image (single-threaded decode and inference per image beats splitting one image across cores),
/// results printed in input order as soon as they and everything before them are done.
/// </summary>
public sealed class LabelCommand(ImageLabeler labeler, TimeProvider time)
{
    /// <summary>Extensions picked up when a folder is expanded; files named explicitly are always tried.</summary>
    public static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif", ".jxl",
    };

    public async Task<LabelRunSummary> RunAsync(LabelRunOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var started = time.GetTimestamp();
        var failures = 0;
        var files = ExpandInputs(options.Inputs, options.Recursive, message =>
        {
            failures++;
            stderr.WriteLine($"labellens: {message}");
        });

        var output = new LabelOutput(stdout, options.Format);
        output.Begin();
        var labeled = 0;
        var deferredErrors = new List<string>();

        async Task Process(Action<int, int>? onProgress)
        {
            await foreach (var (path, result, error) in LabelInOrderAsync(files, options, cancellationToken))
            {
                if (result is not null)
                {
                    output.Write(result);
                    labeled++;
                }
                else
                {
                    failures++;
                    var line = $"labellens: {path}: {error}";
                    if (options.ShowProgress)
                    {
                        // The live progress bar owns the terminal; errors are printed when it is done.
                        deferredErrors.Add(line);
                    }
                    else
                    {
                        stderr.WriteLine(line);
                    }
                }

                onProgress?.Invoke(labeled, failures);
            }
        }

        if (options.ShowProgress && files.Count > 0)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
            // The bar stays on screen, ends at 100% (the last refresh may come before the last file), and a closing
            // line says how the run went: a bar cleared at the end, or left at 80%, says nothing.
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask($"Labeling {files.Count} file(s)", maxValue: files.Count);
                    await Process((ok, failed) =>
                    {
                        task.Value = ok + failed;
                        task.Description = failed > 0 ? $"Labeling: {ok} done, {failed} failed" : $"Labeling: {ok} done";
                    });
                    task.Value = task.MaxValue;
                    task.StopTask();
                    context.Refresh();
                });
            foreach (var line in deferredErrors)
            {
                stderr.WriteLine(line);
            }

            stderr.WriteLine(ClosingLine(files.Count, labeled, failures, time.GetElapsedTime(started)));
        }
        else
        {
            await Process(null);
        }

        output.End();
        return new LabelRunSummary(files.Count, labeled, failures, time.GetElapsedTime(started));
    }

    /// <summary>The last line under the progress bar: files, outcome, time.</summary>
    public static string ClosingLine(int files, int labeled, int failed, TimeSpan elapsed) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"Done: {files} file(s), {labeled} labeled, {failed} failed in {elapsed.TotalSeconds:0.0} s.");

    /// <summary>
    /// `label` reads images in this process; videos are labeled by the server (ffmpeg samples frames, results per
    /// frame and per segment), so the refusal says how, with this file's name.
    /// </summary>
    public static string VideoHint(string path, string format)
    {
        var name = Path.GetFileName(path);
        return $"VideoNotSupportedHere: {name} is a video ({format}); `label` reads images. Label it with the server: "
            + $"`labellens serve`, then `curl -T {name} http://127.0.0.1:8080/api/v1/buckets/media/objects/{Uri.EscapeDataString(name)}` "
            + "and GET /api/v1/videos/<imageId>/labels (see the README's Videos section).";
    }

    /// <summary>Expands folders (image extensions only, hidden entries skipped) and keeps explicit files as given.</summary>
    public static List<string> ExpandInputs(IEnumerable<string> inputs, bool recursive, Action<string> reportMissing)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(reportMissing);
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (File.Exists(input))
            {
                files.Add(input);
            }
            else if (Directory.Exists(input))
            {
                var enumeration = new EnumerationOptions
                {
                    RecurseSubdirectories = recursive,
                    AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
                    IgnoreInaccessible = true,
                };
                files.AddRange(Directory.EnumerateFiles(input, "*", enumeration)
                    .Where(f => ImageExtensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal));
            }
            else
            {
                reportMissing($"{input}: NotFound: no such file or folder");
            }
        }

        return files;
    }

    private async IAsyncEnumerable<(string Path, LabeledFile? Result, string? Error)> LabelInOrderAsync(
        List<string> files,
        LabelRunOptions options,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Workers finish out of order; a small reorder buffer restores input order. The bounded channel
        // keeps workers from running far ahead of the writer.
        var completed = Channel.CreateBounded<(int Index, LabeledFile? Result, string? Error)>(options.Workers * 4);
        var next = -1;
        var workers = Enumerable.Range(0, Math.Max(1, options.Workers)).Select(_ => Task.Run(
            async () =>
            {
                int index;
                while ((index = Interlocked.Increment(ref next)) < files.Count)
                {
                    var outcome = await LabelOneAsync(files[index], options, cancellationToken);
                    await completed.Writer.WriteAsync((index, outcome.Result, outcome.Error), cancellationToken);
                }
            },
            cancellationToken)).ToArray();
        _ = Task.WhenAll(workers).ContinueWith(t => completed.Writer.TryComplete(t.Exception), TaskScheduler.Default);

        var pending = new Dictionary<int, (LabeledFile? Result, string? Error)>();
        var emit = 0;
        await foreach (var (index, result, error) in completed.Reader.ReadAllAsync(cancellationToken))
        {
            pending[index] = (result, error);
            while (pending.Remove(emit, out var ready))
            {
                yield return (files[emit], ready.Result, ready.Error);
                emit++;
            }
        }
    }

    /// <summary>The file's labels (unless TEXT alone was asked for), then its text (with TEXT), as one output record.</summary>
    private LabeledFile Label(string path, byte[] bytes, LabelRunOptions options, CancellationToken cancellationToken)
    {
        var result = options.Labels ? labeler.Label(bytes, options.Request, cancellationToken) : null;
        if (options.TextMinConfidence is not { } textConfidence)
        {
            return new LabeledFile(path, result!.Labels, result.LabelModelVersion, result.Image, result.Timings) { ImageProperties = result.ImageProperties };
        }

        var reading = labeler.ReadText(bytes, textConfidence, cancellationToken);
        var text = reading.Text;
        var timings = result?.Timings ?? new StageTimings(reading.DecodeMs, text.Timing.PrepareMs, text.Timing.InferenceMs, text.Timing.PostprocessMs);
        return new LabeledFile(path, result?.Labels ?? [], result?.LabelModelVersion ?? "", result?.Image ?? reading.Image, timings)
        {
            ImageProperties = result?.ImageProperties,
            TextDetections = LabelLens.Analysis.TextDetections.From(text),
            TextModelVersion = text.Model.Version,
        };
    }

    private async Task<(LabeledFile? Result, string? Error)> LabelOneAsync(string path, LabelRunOptions options, CancellationToken cancellationToken)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > options.MaxBytes)
            {
                // Refused before reading, so a huge file costs nothing.
                return (null, $"{ImageError.ImageTooLarge}: {length:N0} bytes is over the {options.MaxBytes:N0}-byte limit");
            }

            var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
            if (LabelLens.Vision.Video.VideoFormat.Sniff(bytes) is { } video)
            {
                return (null, VideoHint(path, video));
            }

            return (Label(path, bytes, options, cancellationToken), null);
        }
        catch (ImageRejectedException ex)
        {
            return (null, ex.ToString());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"IOError: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Never let one file stop the run; the reason is still reported for this file.
            return (null, $"InternalError: {ex.GetType().Name}: {ex.Message}");
        }
    }
}
