using System.ComponentModel.DataAnnotations;
using LabelLens.Labels;

namespace LabelLens.Application;

/// <summary>How stored objects are labeled. Section "Labeling".</summary>
public sealed class LabelingOptions
{
    public const string Section = "Labeling";

    /// <summary>Labels below this confidence are not stored (Rekognition's default, 55).</summary>
    [Range(0, 100)]
    public double MinConfidence { get; set; } = LabelRequest.DefaultMinConfidence;

    /// <summary>At most this many labels stored per image; null stores all.</summary>
    [Range(0, 10_000)]
    public int? MaxLabels { get; set; }

    /// <summary>The model to label with; empty uses Models:Default.</summary>
    public string? Model { get; set; }

    /// <summary>Compute and store image properties (quality, dominant colours) with the labels; they cost about 3 ms of CPU an image (bench/README.md).</summary>
    public bool ImageProperties { get; set; } = true;

    /// <summary>Dominant colours stored per image, region and instance (0-20).</summary>
    [Range(0, 20)]
    public int MaxDominantColors { get; set; } = LabelLens.Properties.ImagePropertiesAnalyzer.DefaultMaxDominantColors;

    public LabelRequest Request => new() { MinConfidence = MinConfidence, MaxLabels = MaxLabels, ImageProperties = ImageProperties, MaxDominantColors = MaxDominantColors };
}
