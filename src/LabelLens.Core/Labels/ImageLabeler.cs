using System.Diagnostics;
using LabelLens.Analysis;
using LabelLens.Properties;

namespace LabelLens.Labels;

/// <summary>
/// The analysis pipeline: a picture is decoded once, every configured analysis runs on it (each taking the
/// pixels it needs), their labels are merged into one Rekognition-shaped result and, when asked, the image
/// properties are computed from the same pixels. Photos come in encoded (<see cref="Label"/>); video frames
/// come in already decoded by ffmpeg (<see cref="LabelFrame"/>) and go through the very same analyses.
/// Safe to call from many threads at once. Disposing it disposes the analyses (their model sessions).
/// </summary>
public sealed class ImageLabeler : IDisposable
{
    /// <summary>Model scores below this are never worth decoding into labels, even when MinConfidence is 0.</summary>
    public const float ScoreFloor = 0.01f;

    private readonly IPictureDecoder _decoder;
    private readonly LabelBuilder _labelBuilder;

    public ImageLabeler(IReadOnlyList<IPictureAnalysis> analyses, IPictureDecoder decoder, LabelBuilder labelBuilder)
    {
        ArgumentNullException.ThrowIfNull(analyses);
        if (analyses.Count == 0)
        {
            throw new ArgumentException("At least one analysis is needed.", nameof(analyses));
        }

        // Task order (objects, then classes), whatever the configuration's order: versions compare equal.
        // Text is not one of the labeling analyses: it needs a much larger picture (its own decode, so the
        // others' pixels, time and scores do not change) and runs after the labels are stored (ReadText).
        Analyses = analyses.Where(a => a.Task != AnalysisTask.Text).OrderBy(a => a.Task).ToList();
        Text = analyses.FirstOrDefault(a => a.Task == AnalysisTask.Text);
        _decoder = decoder;
        _labelBuilder = labelBuilder;
        Needs = Analyses.Select(a => a.Needs).ToList();
        ModelVersion = string.Join('+', Analyses.Select(a => a.Model.Version));
    }

    /// <summary>The labeling analyses (objects, classes): one decode, merged labels.</summary>
    public IReadOnlyList<IPictureAnalysis> Analyses { get; }

    /// <summary>The text analysis when configured: <see cref="ReadText"/>.</summary>
    public IPictureAnalysis? Text { get; }

    public IReadOnlyList<PictureNeeds> Needs { get; }

    /// <summary>The labeling analyses' model versions, joined by '+' ("yolox-nano:695e750a5d57+mobilenetv2-int8:cc028fe6cae7").</summary>
    public string ModelVersion { get; }

    /// <summary>The model version of each configured analysis, text included.</summary>
    public IReadOnlyDictionary<AnalysisTask, ModelIdentity> Models =>
        Analyses.Append(Text).OfType<IPictureAnalysis>().ToDictionary(a => a.Task, a => a.Model);

    /// <summary>
    /// Reads the text of an encoded image: decoded again at the text analysis's own size (larger than the
    /// labeling analyses'), lines and words at or above <paramref name="minConfidence"/> (0-100).
    /// </summary>
    /// <exception cref="InvalidOperationException">The text analysis is not configured.</exception>
    /// <exception cref="Detection.ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    public TextReading ReadText(byte[] encodedImage, double minConfidence, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encodedImage);
        var text = Text ?? throw new InvalidOperationException("The text analysis is not configured (Analysis:Tasks has no 'text').");
        cancellationToken.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        using var picture = _decoder.Decode(encodedImage, [text.Needs], out var info);
        var decodeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return ReadText(picture, minConfidence, cancellationToken) with { Image = info, DecodeMs = decodeMs };
    }

    /// <summary>The text of a decoded picture (a video frame), at or above <paramref name="minConfidence"/>.</summary>
    public TextReading ReadText(Picture picture, double minConfidence, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(picture);
        var text = Text ?? throw new InvalidOperationException("The text analysis is not configured (Analysis:Tasks has no 'text').");
        var result = (DetectedText)text.Analyze(picture, (float)(minConfidence / 100.0), cancellationToken);
        return new TextReading(result, new ImageInfo(picture.SourceWidth, picture.SourceHeight, "", 0), 0) { MinConfidence = minConfidence };
    }

    /// <summary>The face analysis when configured (it runs in the labeling pass): <see cref="DetectFaces"/>.</summary>
    public IPictureAnalysis? Faces => Analyses.FirstOrDefault(a => a.Task == AnalysisTask.Faces);

    /// <summary>
    /// The faces of an encoded image: decoded at the labeling working size (so the answer is the one labeling
    /// stores), the face analysis alone.
    /// </summary>
    /// <exception cref="InvalidOperationException">The face analysis is not configured.</exception>
    /// <exception cref="Detection.ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    public (DetectedFaces Faces, ImageInfo Image) DetectFaces(byte[] encodedImage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encodedImage);
        var faces = Faces ?? throw new InvalidOperationException("The face analysis is not configured (Analysis:Tasks has no 'faces').");
        cancellationToken.ThrowIfCancellationRequested();
        using var picture = _decoder.Decode(encodedImage, Needs, out var info);
        return ((DetectedFaces)faces.Analyze(picture, 0, cancellationToken), info);
    }

    /// <summary>
    /// Labels an encoded image with every analysis, or only those in <paramref name="only"/> (a relabel of one
    /// analysis). <see cref="LabelsResult.Analyses"/> holds each analysis's own labels for the catalog.
    /// </summary>
    /// <exception cref="Detection.ImageRejectedException">The input is not a usable image or is over a limit.</exception>
    public LabelsResult Label(byte[] encodedImage, LabelRequest request, CancellationToken cancellationToken = default) =>
        Label(encodedImage, request, null, cancellationToken);

    /// <inheritdoc cref="Label(byte[], LabelRequest, CancellationToken)"/>
    /// <param name="partial">Run only some analyses and merge with the others' stored labels (a relabel of one analysis); null runs all.</param>
    public LabelsResult Label(byte[] encodedImage, LabelRequest request, PartialRun? partial, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encodedImage);
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var analyses = partial is null ? Analyses : Analyses.Where(a => partial.Run.Contains(a.Task)).ToList();
        // What is kept: stored results of the configured analyses this run does not redo.
        var kept = partial is null ? [] : partial.Stored.Where(s => !partial.Run.Contains(s.Task) && Analyses.Any(a => a.Task == s.Task)).ToList();
        var started = Stopwatch.GetTimestamp();
        // Always the working size of every configured analysis: a relabel of one analysis sees the same pixels as a full run.
        using var picture = _decoder.Decode(encodedImage, Needs, out var info);
        var decodeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;

        var found = Analyze(analyses, picture, request, cancellationToken, out var faces);
        var labels = request.GeneralLabels ? LabelBuilder.Merge(found.Concat(kept).Select(f => f.Labels), request) : [];
        var timings = new StageTimings(
            decodeMs,
            found.Sum(f => f.Timing.PrepareMs),
            found.Sum(f => f.Timing.InferenceMs),
            found.Sum(f => f.Timing.PostprocessMs));
        var version = string.Join('+', found.Concat(kept).OrderBy(f => f.Task).Select(f => f.Model.Version));
        if (!request.ImageProperties)
        {
            return new LabelsResult(labels, version, info, timings) { Analyses = found, TextFollows = Text is not null, Faces = faces };
        }

        var propertiesStarted = Stopwatch.GetTimestamp();
        // The foreground is every confident box any analysis found, whatever the label filters keep.
        var foreground = found.Concat(kept)
            .SelectMany(f => f.Labels)
            .Where(l => l.Direct)
            .SelectMany(l => l.Label.Instances)
            .Where(i => i.Confidence >= request.MinConfidence)
            .Select(i => i.BoundingBox)
            .ToList();
        var pixels = picture.Image;
        var properties = ImagePropertiesAnalyzer.Analyze(pixels, foreground, request.MaxDominantColors);
        labels = labels.Select(label => label.Instances.Count == 0 ? label : label with
        {
            Instances = label.Instances.Select(i => i with { DominantColors = ImagePropertiesAnalyzer.ColorsIn(pixels, i.BoundingBox, request.MaxDominantColors) }).ToList(),
        }).ToList();
        timings = timings with { PropertiesMs = Stopwatch.GetElapsedTime(propertiesStarted).TotalMilliseconds };
        return new LabelsResult(labels, version, info, timings) { ImageProperties = properties, Analyses = found, TextFollows = Text is not null, Faces = faces };
    }

    /// <summary>A decoded video frame through every analysis: the frame's merged labels (boxes against the source frame).</summary>
    public IReadOnlyList<Label> LabelFrame(Picture frame, LabelRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(request);
        var found = Analyze(Analyses, frame, request, cancellationToken, out _);
        return LabelBuilder.Merge(found.Select(f => f.Labels), request);
    }

    private List<AnalysisLabels> Analyze(IReadOnlyList<IPictureAnalysis> analyses, Picture picture, LabelRequest request, CancellationToken cancellationToken, out DetectedFaces? faces)
    {
        var minScore = Math.Max(ScoreFloor, (float)(request.MinConfidence / 100.0));
        var found = new List<AnalysisLabels>(analyses.Count);
        faces = null;
        foreach (var analysis in analyses)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Faces are found at the face analysis's own floor, whatever the labels' MinConfidence: what is stored
            // and counted does not depend on a request's threshold (the Face label still applies it).
            var result = analysis.Analyze(picture, analysis.Task == AnalysisTask.Faces ? 0 : minScore, cancellationToken);
            faces ??= result as DetectedFaces;
            var started = Stopwatch.GetTimestamp();
            var labels = result.ToLabels(_labelBuilder, picture.SourceWidth, picture.SourceHeight, request.MinConfidence);
            var timing = result.Timing with { PostprocessMs = result.Timing.PostprocessMs + Stopwatch.GetElapsedTime(started).TotalMilliseconds };
            found.Add(new AnalysisLabels(analysis.Task, analysis.Model, request.MinConfidence, labels) { Timing = timing });
        }

        return found;
    }

    public void Dispose()
    {
        foreach (var analysis in Analyses)
        {
            analysis.Dispose();
        }

        Text?.Dispose();
    }
}

/// <summary>What the text analysis read in one picture, with the picture's facts and the decode's time.</summary>
public sealed record TextReading(DetectedText Text, ImageInfo Image, double DecodeMs)
{
    /// <summary>The confidence floor applied (0-100): lines below it were dropped.</summary>
    public double MinConfidence { get; init; }

    /// <summary>For a video: frames sampled, and how many of them were read (the others looked the same as the last one read).</summary>
    public int FramesSampled { get; init; }

    public int FramesRead { get; init; }

    /// <summary>Decode plus the analysis's own time.</summary>
    public double TotalMs => DecodeMs + Text.Timing.TotalMs;
}

/// <summary>A run of some analyses only, merged with what the others stored before.</summary>
/// <param name="Run">The analyses to run.</param>
/// <param name="Stored">Every analysis's stored labels for the picture (those in <paramref name="Run"/> are replaced).</param>
public sealed record PartialRun(IReadOnlyCollection<AnalysisTask> Run, IReadOnlyList<AnalysisLabels> Stored);
