using System.Text.Json.Serialization;

namespace LabelLens.Labels;

// Shapes mirror Rekognition's DetectLabels IMAGE_PROPERTIES feature (DetectLabelsImageProperties and friends).

/// <summary>One dominant colour: its RGB, nearest CSS named colour, one of twelve simple names, and its share of the pixels.</summary>
public sealed record DominantColor(int Red, int Blue, int Green, string HexCode, string CSSColor, string SimplifiedColor, double PixelPercent);

/// <summary>Brightness, sharpness and contrast, each 0-100. Contrast is reported for the whole image only, as the service does.</summary>
public sealed record ImageQuality(
    double Brightness,
    double Sharpness,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Contrast);

/// <summary>The foreground or the background: its quality and dominant colours.</summary>
public sealed record ImageRegion(ImageQuality Quality, IReadOnlyList<DominantColor> DominantColors);

/// <summary>Rekognition's ImageProperties: quality and colours of the image, its foreground and its background.</summary>
public sealed record ImageProperties(
    ImageQuality Quality,
    IReadOnlyList<DominantColor> DominantColors,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ImageRegion? Foreground,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ImageRegion? Background);

/// <summary>
/// A small decoded copy of an image, 8-bit RGB interleaved, row-major: what the image properties are
/// computed from. It is the model's own resized input, so it costs no second decode.
/// </summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length < width * height * 3)
        {
            throw new ArgumentException($"{width}x{height} RGB needs {width * height * 3} bytes, not {pixels.Length}.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Pixels { get; }
}
