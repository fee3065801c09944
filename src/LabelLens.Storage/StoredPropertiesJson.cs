using System.Collections.Frozen;
using System.Data.Common;
using System.Text;
using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Properties;

namespace LabelLens.Storage;

/// <summary>
/// Reads the image properties and instance colours the catalog stores as JSON (written by
/// <see cref="JsonSerializer"/> with <see cref="SqliteCatalog.PropertiesJson"/>), with a reader made for their one
/// shape. A 1,000-image search page of a catalog labeled with the default image properties holds ~7,000 boxes with
/// up to 10 colours each and 1,000 images' properties, ~13 MB of JSON: JsonSerializer took ~80 ms of the page's time
/// for the boxes alone. Colour names come from a fixed vocabulary and are shared rather than allocated per colour.
/// Anything this reader does not expect (another writer, a future field's shape) goes to JsonSerializer instead.
/// </summary>
internal static class StoredPropertiesJson
{
    private static readonly FrozenDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ColorNames =
        NamedColors.CssNames.Concat(NamedColors.Simplified).Distinct(StringComparer.Ordinal).ToFrozenDictionary(n => n, n => n, StringComparer.Ordinal)
            .GetAlternateLookup<ReadOnlySpan<char>>();

    private delegate T ReadValue<T>(ref Utf8JsonReader reader);

    /// <summary>
    /// The colours in column <paramref name="ordinal"/>, or null. Read as UTF-8 bytes (SQLite hands out a text
    /// column's bytes; PostgreSQL's query converts it to bytea): no string is decoded only to be parsed.
    /// </summary>
    public static List<DominantColor>? ReadColors(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseColors(reader.GetFieldValue<byte[]>(ordinal));

    /// <summary>The properties in column <paramref name="ordinal"/> (UTF-8 bytes, as <see cref="ReadColors"/>), or null.</summary>
    public static ImageProperties? ReadProperties(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseProperties(reader.GetFieldValue<byte[]>(ordinal));

    public static List<DominantColor>? ParseColors(string json) => ParseColors(Encoding.UTF8.GetBytes(json));

    public static ImageProperties? ParseProperties(string json) => ParseProperties(Encoding.UTF8.GetBytes(json));

    public static List<DominantColor>? ParseColors(ReadOnlySpan<byte> utf8) =>
        TryRead(utf8, static (ref Utf8JsonReader reader) => ReadColors(ref reader), out var colors)
            ? colors
            : JsonSerializer.Deserialize<List<DominantColor>>(utf8, SqliteCatalog.PropertiesJson);

    public static ImageProperties? ParseProperties(ReadOnlySpan<byte> utf8) =>
        TryRead(utf8, static (ref Utf8JsonReader reader) => ReadProperties(ref reader), out var properties)
            ? properties
            : JsonSerializer.Deserialize<ImageProperties>(utf8, SqliteCatalog.PropertiesJson);

    private static bool TryRead<T>(ReadOnlySpan<byte> utf8, ReadValue<T> read, out T? value)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8);
            Next(ref reader);
            value = read(ref reader);
            // Nothing may follow the value.
            return !reader.Read();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            value = default;
            return false;
        }
    }

    /// <summary>An array of colours, the reader on its start; ends on its end.</summary>
    private static List<DominantColor> ReadColors(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartArray);
        var colors = new List<DominantColor>(10);
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            colors.Add(ReadColor(ref reader));
        }

        return colors;
    }

    private static DominantColor ReadColor(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject);
        int? red = null, green = null, blue = null;
        string? hex = null, css = null, simple = null;
        double? percent = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("Red"u8))
            {
                red = NextInt(ref reader);
            }
            else if (reader.ValueTextEquals("Green"u8))
            {
                green = NextInt(ref reader);
            }
            else if (reader.ValueTextEquals("Blue"u8))
            {
                blue = NextInt(ref reader);
            }
            else if (reader.ValueTextEquals("HexCode"u8))
            {
                hex = NextString(ref reader);
            }
            else if (reader.ValueTextEquals("CSSColor"u8))
            {
                css = NextName(ref reader);
            }
            else if (reader.ValueTextEquals("SimplifiedColor"u8))
            {
                simple = NextName(ref reader);
            }
            else if (reader.ValueTextEquals("PixelPercent"u8))
            {
                percent = NextDouble(ref reader);
            }
            else
            {
                throw new JsonException("unexpected property");
            }
        }

        Expect(ref reader, JsonTokenType.EndObject);
        return red is { } r && green is { } g && blue is { } b && hex is not null && css is not null && simple is not null && percent is { } p
            ? new DominantColor(r, b, g, hex, css, simple, p)
            : throw new JsonException("a colour without one of its fields");
    }

    private static ImageProperties ReadProperties(ref Utf8JsonReader reader)
    {
        var (quality, colors, foreground, background) = ReadPart(ref reader, regions: true);
        return new ImageProperties(quality, colors, foreground, background);
    }

    private static ImageRegion? ReadRegion(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var (quality, colors, _, _) = ReadPart(ref reader, regions: false);
        return new ImageRegion(quality, colors);
    }

    /// <summary>An object of quality and colours: the whole image's (with its two <paramref name="regions"/>) or one region's.</summary>
    private static (ImageQuality Quality, List<DominantColor> Colors, ImageRegion? Foreground, ImageRegion? Background) ReadPart(ref Utf8JsonReader reader, bool regions)
    {
        Expect(ref reader, JsonTokenType.StartObject);
        ImageQuality? quality = null;
        List<DominantColor>? colors = null;
        ImageRegion? foreground = null, background = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("Quality"u8))
            {
                Next(ref reader);
                quality = ReadQuality(ref reader);
            }
            else if (reader.ValueTextEquals("DominantColors"u8))
            {
                Next(ref reader);
                colors = ReadColors(ref reader);
            }
            else if (regions && reader.ValueTextEquals("Foreground"u8))
            {
                Next(ref reader);
                foreground = ReadRegion(ref reader);
            }
            else if (regions && reader.ValueTextEquals("Background"u8))
            {
                Next(ref reader);
                background = ReadRegion(ref reader);
            }
            else
            {
                throw new JsonException("unexpected property");
            }
        }

        Expect(ref reader, JsonTokenType.EndObject);
        return quality is not null && colors is not null
            ? (quality, colors, foreground, background)
            : throw new JsonException("quality or colours missing");
    }

    private static ImageQuality ReadQuality(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.StartObject);
        double? brightness = null, sharpness = null, contrast = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("Brightness"u8))
            {
                brightness = NextDouble(ref reader);
            }
            else if (reader.ValueTextEquals("Sharpness"u8))
            {
                sharpness = NextDouble(ref reader);
            }
            else if (reader.ValueTextEquals("Contrast"u8))
            {
                contrast = Next(ref reader) == JsonTokenType.Null ? null : reader.GetDouble();
            }
            else
            {
                throw new JsonException("unexpected property");
            }
        }

        Expect(ref reader, JsonTokenType.EndObject);
        return brightness is { } b && sharpness is { } s ? new ImageQuality(b, s, contrast) : throw new JsonException("quality without brightness or sharpness");
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("the JSON ends early");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (reader.TokenType != type)
        {
            throw new JsonException($"{type} expected, not {reader.TokenType}");
        }
    }

    private static int NextInt(ref Utf8JsonReader reader)
    {
        Next(ref reader);
        return reader.GetInt32();
    }

    private static double NextDouble(ref Utf8JsonReader reader)
    {
        Next(ref reader);
        return reader.GetDouble();
    }

    private static string NextString(ref Utf8JsonReader reader)
    {
        Next(ref reader);
        return reader.GetString() ?? throw new JsonException("null where a string belongs");
    }

    /// <summary>A colour name: the vocabulary's own string when it is one (no allocation), else a new one.</summary>
    private static string NextName(ref Utf8JsonReader reader)
    {
        Next(ref reader);
        Expect(ref reader, JsonTokenType.String);
        if (!reader.HasValueSequence && !reader.ValueIsEscaped && reader.ValueSpan.Length <= 32)
        {
            Span<char> name = stackalloc char[32];
            var length = Encoding.UTF8.GetChars(reader.ValueSpan, name);
            if (ColorNames.TryGetValue(name[..length], out var known))
            {
                return known;
            }
        }

        return reader.GetString()!;
    }
}
