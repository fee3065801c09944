using LabelLens.Analysis;
using LabelLens.Taxonomy;

namespace LabelLens.Labels;

/// <summary>
/// Turns what the analyses found into Rekognition-style labels. Detections: one label per display name with
/// its instances, the label's confidence being its best instance's, every ancestor with the best confidence
/// among its descendants (as Rekognition does). Class scores: each class's probability goes to its label and
/// up every ancestor, so a parent is as sure as the sum of its children (the 120 dog breeds together say how
/// sure the model is of Dog). <see cref="Merge"/> joins the analyses' labels into one result (a label found
/// by two models is one label, at the higher confidence, with the detector's boxes), then MinConfidence,
/// the inclusion and exclusion filters (by name and category; exclusion wins) and MaxLabels.
/// </summary>
public sealed class LabelBuilder(LabelTaxonomy taxonomy)
{
    /// <summary>Classes below this probability are not worth a lookup: they cannot lift a label over any sensible threshold.</summary>
    private const float ClassFloor = 0.0005f;

    /// <summary>A classifier's fine class is kept as an alias of its label when it carries at least this share of the label's probability.</summary>
    private const double FineAliasShare = 0.5;

    public LabelTaxonomy Taxonomy => taxonomy;

    /// <summary>Detections only, filtered and ordered: the one-detector result.</summary>
    public IReadOnlyList<Label> Build(
        IReadOnlyList<Detection.Detection> detections,
        IReadOnlyList<string> classNames,
        int imageWidth,
        int imageHeight,
        LabelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Merge([FromDetections(detections, classNames, imageWidth, imageHeight, request.MinConfidence)], request);
    }

    public IReadOnlyList<FoundLabel> FromDetections(
        IReadOnlyList<Detection.Detection> detections,
        IReadOnlyList<string> classNames,
        int imageWidth,
        int imageHeight,
        double minConfidence)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(classNames);

        var detected = new Dictionary<string, (TaxonomyLabel Label, List<LabelInstance> Instances)>(StringComparer.Ordinal);
        foreach (var detection in detections)
        {
            var confidence = ToConfidence(detection.Score);
            if (confidence < minConfidence)
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

        var labels = new List<FoundLabel>(detected.Count + ancestors.Count);
        foreach (var (label, instances) in detected.Values)
        {
            instances.Sort((a, b) => b.Confidence.CompareTo(a.Confidence));
            labels.Add(new FoundLabel(ToLabel(label, instances[0].Confidence, instances, []), true, label.Ancestors.Count));
        }

        foreach (var (name, confidence) in ancestors)
        {
            var label = Resolve(name);
            labels.Add(new FoundLabel(ToLabel(label, confidence, [], []), false, label.Ancestors.Count));
        }

        return labels;
    }

    /// <summary>
    /// A classifier's probabilities (softmax) with its classes' WordNet ids: the mass of each class goes to its
    /// label and to every ancestor once. The fine class name ("Alaskan Malamute") is kept as an alias of its
    /// label when it carries most of that label's mass.
    /// </summary>
    public IReadOnlyList<FoundLabel> FromClassScores(IReadOnlyList<float> probabilities, IReadOnlyList<string> classIds, double minConfidence)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(classIds);
        var mass = new Dictionary<string, double>(StringComparer.Ordinal);
        var direct = new Dictionary<string, (double Probability, string? Alias)>(StringComparer.Ordinal);
        for (var i = 0; i < probabilities.Count && i < classIds.Count; i++)
        {
            var p = probabilities[i];
            if (p < ClassFloor || !taxonomy.TryGetSynset(classIds[i], out var synset))
            {
                continue;
            }

            var label = synset.Label;
            mass[label.Name] = mass.GetValueOrDefault(label.Name) + p;
            foreach (var ancestor in label.Ancestors)
            {
                mass[ancestor] = mass.GetValueOrDefault(ancestor) + p;
            }

            if (!direct.TryGetValue(label.Name, out var best) || p > best.Probability)
            {
                direct[label.Name] = (p, synset.Alias);
            }
        }

        var labels = new List<FoundLabel>();
        foreach (var (name, probability) in mass)
        {
            var confidence = ToConfidence((float)Math.Min(probability, 1));
            if (confidence < minConfidence)
            {
                continue;
            }

            var label = Resolve(name);
            var isDirect = direct.TryGetValue(name, out var fine);
            string[] fineAlias = isDirect && fine.Alias is { } alias && fine.Probability >= FineAliasShare * probability ? [alias] : [];
            labels.Add(new FoundLabel(ToLabel(label, confidence, [], fineAlias), isDirect, label.Ancestors.Count));
        }

        return labels;
    }

    /// <summary>
    /// One result from every analysis's labels: a name found twice is one label at the higher confidence, with
    /// every box and every alias; then the request's filters, highest confidence first (on ties a directly
    /// found label before its ancestors, the more specific first), and MaxLabels.
    /// </summary>
    public static IReadOnlyList<Label> Merge(IEnumerable<IReadOnlyList<FoundLabel>> analyses, LabelRequest request)
    {
        ArgumentNullException.ThrowIfNull(analyses);
        ArgumentNullException.ThrowIfNull(request);
        var merged = new Dictionary<string, FoundLabel>(StringComparer.OrdinalIgnoreCase);
        foreach (var found in analyses.SelectMany(a => a))
        {
            if (found.Label.Confidence < request.MinConfidence)
            {
                continue;
            }

            merged[found.Label.Name] = merged.TryGetValue(found.Label.Name, out var existing) ? Join(existing, found) : found;
        }

        var ordered = merged.Values
            .Where(l => request.Allows(l.Label.Name, l.Label.Categories.Select(c => c.Name)))
            .OrderByDescending(l => l.Label.Confidence)
            .ThenByDescending(l => l.Direct)
            .ThenByDescending(l => l.Depth)
            .ThenBy(l => l.Label.Name, StringComparer.Ordinal)
            .Select(l => l.Label);
        return (request.MaxLabels is { } max ? ordered.Take(max) : ordered).ToList();
    }

    private static FoundLabel Join(FoundLabel a, FoundLabel b)
    {
        var (first, second) = a.Label.Confidence >= b.Label.Confidence ? (a, b) : (b, a);
        var instances = a.Label.Instances.Concat(b.Label.Instances).OrderByDescending(i => i.Confidence).ToList();
        var aliases = first.Label.Aliases.Concat(second.Label.Aliases).DistinctBy(n => n.Name, StringComparer.OrdinalIgnoreCase).ToList();
        return new FoundLabel(first.Label with { Instances = instances, Aliases = aliases }, a.Direct || b.Direct, Math.Max(a.Depth, b.Depth));
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

    private TaxonomyLabel Resolve(string name) =>
        taxonomy.TryGetLabel(name, out var known) ? known : new TaxonomyLabel(name, [], [], [LabelTaxonomy.FallbackCategory]);

    private static double Round(double value) => Math.Round(value, 5);

    private static Label ToLabel(TaxonomyLabel label, double confidence, IReadOnlyList<LabelInstance> instances, IReadOnlyList<string> fineAliases) => new(
        label.Name,
        confidence,
        instances,
        label.Ancestors.Select(a => new NamedItem(a)).ToList(),
        label.Aliases.Concat(fineAliases).Distinct(StringComparer.OrdinalIgnoreCase).Select(a => new NamedItem(a)).ToList(),
        label.Categories.Select(c => new NamedItem(c)).ToList());
}
