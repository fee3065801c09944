using LabelLens.Analysis;

namespace LabelLens.Taxonomy;

/// <summary>A label the configured analyses can produce, with its place in the taxonomy and which analyses produce it.</summary>
public sealed record VocabularyLabel(
    string Name,
    IReadOnlyList<string> Parents,
    IReadOnlyList<string> Categories,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> Analyses);

/// <summary>
/// Every label the configured analyses can produce: each model class's label and all its ancestors, with the
/// aliases people may type (the taxonomy's, and a classifier's fine class names: "Alaskan Malamute" is Dog).
/// The web UI uses it to say "no configured model finds Beach" instead of showing an empty page.
/// </summary>
public sealed class LabelVocabulary
{
    private readonly Dictionary<string, VocabularyLabel> _byName;
    private readonly Dictionary<string, VocabularyLabel> _byAlias;

    private LabelVocabulary(IReadOnlyList<VocabularyLabel> labels)
    {
        Labels = labels;
        _byName = labels.ToDictionary(l => l.Name, StringComparer.OrdinalIgnoreCase);
        _byAlias = new Dictionary<string, VocabularyLabel>(StringComparer.OrdinalIgnoreCase);
        foreach (var label in labels)
        {
            foreach (var alias in label.Aliases.Where(a => !_byName.ContainsKey(a)))
            {
                _byAlias.TryAdd(alias, label);
            }
        }
    }

    /// <summary>Alphabetical.</summary>
    public IReadOnlyList<VocabularyLabel> Labels { get; }

    /// <summary>The label named <paramref name="term"/>, or the one it is an alias of; null when no configured model produces it.</summary>
    public VocabularyLabel? Find(string term) =>
        _byName.TryGetValue(term.Trim(), out var label) ? label : _byAlias.GetValueOrDefault(term.Trim());

    /// <param name="analyses">Each configured analysis with its model's classes (COCO names for objects, WordNet ids for classes).</param>
    public static LabelVocabulary Build(LabelTaxonomy taxonomy, IEnumerable<(AnalysisTask Task, IReadOnlyList<string> Classes)> analyses)
    {
        ArgumentNullException.ThrowIfNull(taxonomy);
        ArgumentNullException.ThrowIfNull(analyses);
        var found = new Dictionary<string, (TaxonomyLabel Label, HashSet<string> Aliases, SortedSet<string> Analyses)>(StringComparer.Ordinal);
        void Add(TaxonomyLabel label, string? fineAlias, AnalysisTask task)
        {
            if (!found.TryGetValue(label.Name, out var entry))
            {
                found[label.Name] = entry = (label, new HashSet<string>(label.Aliases, StringComparer.OrdinalIgnoreCase), new SortedSet<string>(StringComparer.Ordinal));
            }

            if (fineAlias is not null)
            {
                entry.Aliases.Add(fineAlias);
            }

            entry.Analyses.Add(task.Name());
        }

        foreach (var (task, classes) in analyses)
        {
            foreach (var className in classes)
            {
                var (label, alias) = task == AnalysisTask.Classes && taxonomy.TryGetSynset(className, out var synset)
                    ? (synset.Label, synset.Alias)
                    : (taxonomy.ForClass(className), null);
                Add(label, alias, task);
                foreach (var ancestor in label.Ancestors)
                {
                    Add(taxonomy.TryGetLabel(ancestor, out var parent) ? parent : new TaxonomyLabel(ancestor, [], [], [LabelTaxonomy.FallbackCategory]), null, task);
                }
            }
        }

        return new LabelVocabulary(found.Values
            .OrderBy(v => v.Label.Name, StringComparer.OrdinalIgnoreCase)
            .Select(v => new VocabularyLabel(
                v.Label.Name,
                v.Label.Ancestors,
                v.Label.Categories,
                v.Aliases.Order(StringComparer.OrdinalIgnoreCase).ToList(),
                v.Analyses.ToList()))
            .ToList());
    }
}
