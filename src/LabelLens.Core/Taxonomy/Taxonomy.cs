using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LabelLens.Taxonomy;

/// <summary>A label of the taxonomy with its whole ancestry resolved (nearest parents first).</summary>
public sealed record TaxonomyLabel(
    string Name,
    IReadOnlyList<string> Ancestors,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> Categories);

/// <summary>A class of a WordNet-keyed classifier mapped to a label, with the fine name to keep as an alias.</summary>
public sealed record SynsetLabel(TaxonomyLabel Label, string? Alias);

/// <summary>
/// Maps model class names to display labels (Rekognition naming) and gives each label its parents,
/// aliases and categories. Data-driven: the built-in table is <c>taxonomy.json</c>; another file with the
/// same shape can replace it. Validated when loaded: unknown parents, cycles and labels without a
/// category are errors, so a bad table fails at start rather than producing odd labels later.
/// </summary>
public sealed class LabelTaxonomy
{
    public const string FallbackCategory = "Everyday Objects";

    private readonly Dictionary<string, string> _classToLabel;
    private readonly Dictionary<string, TaxonomyLabel> _labels;

    private readonly Dictionary<string, SynsetLabel> _synsets;

    private LabelTaxonomy(Dictionary<string, string> classToLabel, Dictionary<string, TaxonomyLabel> labels, Dictionary<string, SynsetLabel> synsets)
    {
        _classToLabel = classToLabel;
        _labels = labels;
        _synsets = synsets;
        _labelNames = new HashSet<string>(labels.Keys, StringComparer.OrdinalIgnoreCase);
        // First come, first kept: the taxonomy's own aliases, then a classifier's fine class names.
        _aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var label in labels.Values)
        {
            foreach (var alias in label.Aliases.Where(a => !_labelNames.Contains(a)))
            {
                _aliases.TryAdd(alias, label.Name);
            }
        }

        foreach (var synset in synsets.Values.Where(s => s.Alias is not null && !_labelNames.Contains(s.Alias)))
        {
            _aliases.TryAdd(synset.Alias!, synset.Label.Name);
        }
    }

    private readonly HashSet<string> _labelNames;
    private readonly Dictionary<string, string> _aliases;

    /// <summary>WordNet id (an ImageNet class, "n02110063") to its label and fine-name alias.</summary>
    public IReadOnlyDictionary<string, SynsetLabel> Synsets => _synsets;

    public bool TryGetSynset(string wordNetId, out SynsetLabel label) => _synsets.TryGetValue(wordNetId, out label!);

    /// <summary>
    /// The label a search term means: the term itself when it names a label (or is no alias), else the label it
    /// is an alias of ("Puppy" and "Alaskan Malamute" mean Dog, "Seashore" Beach). Case-insensitive.
    /// </summary>
    public string ResolveAlias(string term)
    {
        ArgumentNullException.ThrowIfNull(term);
        var trimmed = term.Trim();
        return _labelNames.Contains(trimmed) ? trimmed : _aliases.GetValueOrDefault(trimmed) ?? trimmed;
    }

    public IReadOnlyCollection<TaxonomyLabel> Labels => _labels.Values;

    public IReadOnlyDictionary<string, string> Classes => _classToLabel;

    /// <summary>The table shipped with LabelLens.</summary>
    public static LabelTaxonomy BuiltIn { get; } = LoadBuiltIn();

    public bool TryGetLabel(string name, out TaxonomyLabel label) => _labels.TryGetValue(name, out label!);

    /// <summary>
    /// The label for a model class. A class the table does not know (a custom export) still gets a label:
    /// its name in title case, no parents, the fallback category.
    /// </summary>
    public TaxonomyLabel ForClass(string className)
    {
        if (_classToLabel.TryGetValue(className, out var name))
        {
            return _labels[name];
        }

        var title = CultureInfo.InvariantCulture.TextInfo.ToTitleCase(className.Replace('_', ' ').Trim());
        return _labels.TryGetValue(title, out var known) ? known : new TaxonomyLabel(title, [], [], [FallbackCategory]);
    }

    public static LabelTaxonomy Load(Stream json)
    {
        var file = JsonSerializer.Deserialize(json, TaxonomyJsonContext.Default.TaxonomyFile)
            ?? throw new InvalidDataException("Taxonomy file is empty.");
        return FromFile(file);
    }

    public static LabelTaxonomy LoadFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    private static LabelTaxonomy LoadBuiltIn()
    {
        using var stream = typeof(LabelTaxonomy).Assembly.GetManifestResourceStream("LabelLens.taxonomy.json")
            ?? throw new InvalidOperationException("The built-in taxonomy resource is missing from the assembly.");
        return Load(stream);
    }

    private static LabelTaxonomy FromFile(TaxonomyFile file)
    {
        var definitions = file.Labels;
        foreach (var (name, definition) in definitions)
        {
            if (definition.Categories.Count == 0)
            {
                throw new InvalidDataException($"Taxonomy label '{name}' has no category.");
            }

            foreach (var parent in definition.Parents.Where(p => !definitions.ContainsKey(p)))
            {
                throw new InvalidDataException($"Taxonomy label '{name}' names an unknown parent '{parent}'.");
            }
        }

        var resolved = new Dictionary<string, TaxonomyLabel>(StringComparer.Ordinal);
        foreach (var name in definitions.Keys)
        {
            resolved[name] = new TaxonomyLabel(name, Ancestors(name, definitions), definitions[name].Aliases, definitions[name].Categories);
        }

        foreach (var (className, label) in file.Classes.Where(c => !definitions.ContainsKey(c.Value)))
        {
            throw new InvalidDataException($"Taxonomy class '{className}' maps to an undefined label '{label}'.");
        }

        var synsets = new Dictionary<string, SynsetLabel>(StringComparer.Ordinal);
        foreach (var (id, synset) in file.Synsets)
        {
            if (!resolved.TryGetValue(synset.Label, out var label))
            {
                throw new InvalidDataException($"Taxonomy synset '{id}' maps to an undefined label '{synset.Label}'.");
            }

            synsets[id] = new SynsetLabel(label, string.IsNullOrWhiteSpace(synset.Alias) ? null : synset.Alias);
        }

        return new LabelTaxonomy(new Dictionary<string, string>(file.Classes, StringComparer.Ordinal), resolved, synsets);
    }

    /// <summary>Breadth-first over parents, so nearer ancestors come first; a cycle is an error.</summary>
    private static List<string> Ancestors(string name, Dictionary<string, LabelDefinition> definitions)
    {
        var result = new List<string>();
        var queue = new Queue<string>(definitions[name].Parents);
        while (queue.TryDequeue(out var parent))
        {
            if (parent == name)
            {
                throw new InvalidDataException($"Taxonomy label '{name}' is its own ancestor.");
            }

            if (result.Contains(parent))
            {
                continue;
            }

            result.Add(parent);
            foreach (var grandparent in definitions[parent].Parents)
            {
                queue.Enqueue(grandparent);
            }
        }

        return result;
    }
}

internal sealed class TaxonomyFile
{
    public Dictionary<string, string> Classes { get; set; } = [];

    public Dictionary<string, LabelDefinition> Labels { get; set; } = [];

    public Dictionary<string, SynsetDefinition> Synsets { get; set; } = [];
}

internal sealed class SynsetDefinition
{
    public string Label { get; set; } = "";

    public string? Alias { get; set; }
}

internal sealed class LabelDefinition
{
    public List<string> Parents { get; set; } = [];

    public List<string> Categories { get; set; } = [];

    public List<string> Aliases { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(TaxonomyFile))]
internal sealed partial class TaxonomyJsonContext : JsonSerializerContext;
