using LabelLens.Detection;
using LabelLens.Taxonomy;

namespace LabelLens.Labels;

/// <summary>
/// Turns raw detections into Rekognition-style labels: one label per display name with its instances,
/// the label's confidence being its best instance's; every ancestor returned as a label too with the best
/// confidence among its descendants (as Rekognition does); then MinConfidence, the inclusion and exclusion
/// filters (by label name and by category; exclusion wins) and MaxLabels.
/// </summary>
public sealed class LabelBuilder(LabelTaxonomy taxonomy)
{
    public IReadOnlyList<Label> Build(
        IReadOnlyList<Detection.Detection> detections,
        IReadOnlyList<string> classNames,
        int imageWidth,
        int imageHeight,
        LabelRequest request)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(request);

        var detected = new Dictionary<string, (TaxonomyLabel Label, List<LabelInstance> Instances)>(StringComparer.Ordinal);
        foreach (var detection in detections)
        {
            var confidence = ToConfidence(detection.Score);
            if (confidence < request.MinConfidence)
            {
                continue;
            }

            var className = detection.ClassIndex < classNames.Count ? classNames[detection.ClassIndex] : $"class {detection.ClassIndex}";
            var label = taxonomy.ForClass(className);
            if (!detected.TryGetValue(label.Name, out var entry))
            {
                entry = (label, []);
                detected[label.Name] = entry;
            }

            entry.Instances.Add(new LabelInstance(ToBox(detection, imageWidth, imageHeight), confidence));
        }

        // Ancestors inherit the best confidence of any descendant; a label detected directly keeps its own.
        var ancestors = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (label, instances) in detected.Values)
        {
            var best = instances.Max(i => i.Confidence);
            foreach (var ancestor in label.Ancestors.Where(a => !detected.ContainsKey(a)))
            {
                ancestors[ancestor] = Math.Max(ancestors.GetValueOrDefault(ancestor), best);
            }
        }

        var labels = new List<(Label Label, bool Detected, int Depth)>(detected.Count + ancestors.Count);
        foreach (var (label, instances) in detected.Values)
        {
            instances.Sort((a, b) => b.Confidence.CompareTo(a.Confidence));
            labels.Add((ToLabel(label, instances[0].Confidence, instances), true, label.Ancestors.Count));
        }

        foreach (var (name, confidence) in ancestors)
        {
            var label = taxonomy.TryGetLabel(name, out var known) ? known : new TaxonomyLabel(name, [], [], [LabelTaxonomy.FallbackCategory]);
            labels.Add((ToLabel(label, confidence, []), false, label.Ancestors.Count));
        }

        // Highest confidence first; on ties the detected (specific) label precedes its ancestors.
        var ordered = labels
            .Where(l => request.Allows(l.Label.Name, l.Label.Categories.Select(c => c.Name)))
            .OrderByDescending(l => l.Label.Confidence)
            .ThenByDescending(l => l.Detected)
            .ThenByDescending(l => l.Depth)
            .ThenBy(l => l.Label.Name, StringComparer.Ordinal)
            .Select(l => l.Label);
        return (request.MaxLabels is { } max ? ordered.Take(max) : ordered).ToList();
    }

    /// <summary>Model score 0-1 to Rekognition confidence 0-100, rounded as the service does to a few decimals.</summary>
    public static double ToConfidence(float score) => Math.Round(Math.Clamp(score, 0f, 1f) * 100.0, 3);

    /// <summary>Box in pixels to ratios of the oriented image, clamped to the picture.</summary>
    public static BoundingBox ToBox(Detection.Detection d, int imageWidth, int imageHeight)
    {
        var left = Math.Clamp(d.X1 / (double)imageWidth, 0, 1);
        var top = Math.Clamp(d.Y1 / (double)imageHeight, 0, 1);
        var right = Math.Clamp(d.X2 / (double)imageWidth, 0, 1);
        var bottom = Math.Clamp(d.Y2 / (double)imageHeight, 0, 1);
        return new BoundingBox(Round(right - left), Round(bottom - top), Round(left), Round(top));
    }

    private static double Round(double value) => Math.Round(value, 5);

    private static Label ToLabel(TaxonomyLabel label, double confidence, IReadOnlyList<LabelInstance> instances) => new(
        label.Name,
        confidence,
        instances,
        label.Ancestors.Select(a => new NamedItem(a)).ToList(),
        label.Aliases.Select(a => new NamedItem(a)).ToList(),
        label.Categories.Select(c => new NamedItem(c)).ToList());
}
