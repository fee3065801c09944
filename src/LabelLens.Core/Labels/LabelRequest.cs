using LabelLens.Properties;

namespace LabelLens.Labels;

/// <summary>The knobs Rekognition's DetectLabels exposes, with its defaults and limits.</summary>
public sealed record LabelRequest
{
    public const double DefaultMinConfidence = 55;

    /// <summary>Rekognition's limits on filter lists: at most 100 entries of at most 50 characters.</summary>
    public const int MaxFilters = 100;
    public const int MaxFilterLength = 50;

    /// <summary>Labels (and instances) below this confidence (0-100) are dropped. Rekognition's default is 55.</summary>
    public double MinConfidence { get; init; } = DefaultMinConfidence;

    /// <summary>At most this many labels, highest confidence first; null means no limit.</summary>
    public int? MaxLabels { get; init; }

    /// <summary>The GENERAL_LABELS feature: labels are returned. On unless only IMAGE_PROPERTIES is asked for.</summary>
    public bool GeneralLabels { get; init; } = true;

    /// <summary>The IMAGE_PROPERTIES feature: quality and dominant colours of the image, its regions and instances.</summary>
    public bool ImageProperties { get; init; }

    /// <summary>Dominant colours to return per image, region and instance (0-20; Rekognition's default 10).</summary>
    public int MaxDominantColors { get; init; } = ImagePropertiesAnalyzer.DefaultMaxDominantColors;

    /// <summary>When this or <see cref="LabelCategoryInclusionFilters"/> is set, only labels named here (or in those categories) are returned.</summary>
    public IReadOnlyList<string> LabelInclusionFilters { get; init; } = [];

    /// <summary>Labels never returned; exclusion wins over inclusion.</summary>
    public IReadOnlyList<string> LabelExclusionFilters { get; init; } = [];

    /// <summary>Only labels in these categories (or named in <see cref="LabelInclusionFilters"/>) are returned.</summary>
    public IReadOnlyList<string> LabelCategoryInclusionFilters { get; init; } = [];

    /// <summary>Labels in any of these categories are never returned.</summary>
    public IReadOnlyList<string> LabelCategoryExclusionFilters { get; init; } = [];

    public static LabelRequest Default { get; } = new();

    public bool HasFilters => LabelInclusionFilters.Count + LabelExclusionFilters.Count + LabelCategoryInclusionFilters.Count + LabelCategoryExclusionFilters.Count > 0;

    public void Validate()
    {
        if (double.IsNaN(MinConfidence) || MinConfidence is < 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(MinConfidence), MinConfidence, "MinConfidence must be between 0 and 100.");
        }

        if (MaxLabels is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLabels), MaxLabels, "MaxLabels must be 0 or more.");
        }

        if (MaxDominantColors is < 0 or > ImagePropertiesAnalyzer.MaxDominantColorsLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDominantColors), MaxDominantColors, $"MaxDominantColors must be between 0 and {ImagePropertiesAnalyzer.MaxDominantColorsLimit}.");
        }

        if (!GeneralLabels && !ImageProperties)
        {
            throw new ArgumentException("Ask for at least one feature: GENERAL_LABELS or IMAGE_PROPERTIES.", nameof(GeneralLabels));
        }

        ValidateFilters(LabelInclusionFilters, nameof(LabelInclusionFilters));
        ValidateFilters(LabelExclusionFilters, nameof(LabelExclusionFilters));
        ValidateFilters(LabelCategoryInclusionFilters, nameof(LabelCategoryInclusionFilters));
        ValidateFilters(LabelCategoryExclusionFilters, nameof(LabelCategoryExclusionFilters));
    }

    /// <summary>Whether a label with this name and these categories passes the inclusion and exclusion filters.</summary>
    public bool Allows(string name, IEnumerable<string> categories)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(categories);
        if (!HasFilters)
        {
            return true;
        }

        var categoryList = categories as IReadOnlyCollection<string> ?? categories.ToList();
        if (Contains(LabelExclusionFilters, name) || categoryList.Any(c => Contains(LabelCategoryExclusionFilters, c)))
        {
            return false;
        }

        if (LabelInclusionFilters.Count == 0 && LabelCategoryInclusionFilters.Count == 0)
        {
            return true;
        }

        return Contains(LabelInclusionFilters, name) || categoryList.Any(c => Contains(LabelCategoryInclusionFilters, c));
    }

    private static bool Contains(IReadOnlyList<string> filters, string value)
    {
        foreach (var filter in filters)
        {
            if (string.Equals(filter.Trim(), value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static void ValidateFilters(IReadOnlyList<string> filters, string name)
    {
        if (filters.Count > MaxFilters)
        {
            throw new ArgumentException($"{name} can hold at most {MaxFilters} entries, not {filters.Count}.", name);
        }

        foreach (var filter in filters)
        {
            if (filter is null || filter.Length > MaxFilterLength)
            {
                throw new ArgumentException($"Each entry of {name} must be a string of at most {MaxFilterLength} characters.", name);
            }
        }
    }
}
