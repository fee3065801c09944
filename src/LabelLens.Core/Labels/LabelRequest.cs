namespace LabelLens.Labels;

/// <summary>The knobs Rekognition's DetectLabels exposes, with its defaults.</summary>
public sealed record LabelRequest
{
    public const double DefaultMinConfidence = 55;

    /// <summary>Labels (and instances) below this confidence (0-100) are dropped. Rekognition's default is 55.</summary>
    public double MinConfidence { get; init; } = DefaultMinConfidence;

    /// <summary>At most this many labels, highest confidence first; null means no limit.</summary>
    public int? MaxLabels { get; init; }

    public static LabelRequest Default { get; } = new();

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
    }
}
