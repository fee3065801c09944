using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Properties;
using LabelLens.Storage;

namespace LabelLens.Tests;

/// <summary>The catalog's own reader of stored properties and colours gives what JsonSerializer gives.</summary>
public sealed class StoredPropertiesJsonTests
{
    [Fact]
    public void Stored_properties_and_instance_colours_read_back_as_JsonSerializer_reads_them()
    {
        var random = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            var pixels = new byte[64 * 48 * 3];
            random.NextBytes(pixels);
            var image = new RgbImage(64, 48, pixels);
            var box = new BoundingBox(0.5, 0.4, 0.1 * (i % 5), 0.1);
            var properties = ImagePropertiesAnalyzer.Analyze(image, i % 3 == 0 ? [] : [box], 1 + (i % 20));
            var colors = ImagePropertiesAnalyzer.ColorsIn(image, box, 1 + (i % 20));

            var storedProperties = JsonSerializer.Serialize(properties, SqliteCatalog.PropertiesJson);
            var storedColors = JsonSerializer.Serialize(colors, SqliteCatalog.PropertiesJson);

            // Records compare by value, but their lists by reference: compare what each serializes to.
            Assert.Equal(storedProperties, JsonSerializer.Serialize(StoredPropertiesJson.ParseProperties(storedProperties), SqliteCatalog.PropertiesJson));
            Assert.Equal(storedColors, JsonSerializer.Serialize(StoredPropertiesJson.ParseColors(storedColors), SqliteCatalog.PropertiesJson));
            Assert.Equal(colors, StoredPropertiesJson.ParseColors(storedColors)!);

            // Read by the reader made for them, not by the fallback: two reads share the vocabulary's name strings
            // (JsonSerializer would allocate new ones each time).
            Assert.Same(StoredPropertiesJson.ParseColors(storedColors)![0].CSSColor, StoredPropertiesJson.ParseColors(storedColors)![0].CSSColor);
            var once = StoredPropertiesJson.ParseProperties(storedProperties)!;
            var twice = StoredPropertiesJson.ParseProperties(storedProperties)!;
            Assert.Same(once.DominantColors[0].SimplifiedColor, twice.DominantColors[0].SimplifiedColor);
            Assert.Same((once.Foreground ?? once.Background)!.DominantColors[0].CSSColor, (twice.Foreground ?? twice.Background)!.DominantColors[0].CSSColor);
        }
    }

    [Fact]
    public void Colour_names_are_the_vocabulary_s_own_strings_and_other_shapes_still_read()
    {
        const string Stored = """[{"Red":1,"Blue":3,"Green":2,"HexCode":"#010203","CSSColor":"black","SimplifiedColor":"black","PixelPercent":100}]""";
        var color = Assert.Single(StoredPropertiesJson.ParseColors(Stored)!);
        Assert.Equal(new DominantColor(1, 3, 2, "#010203", "black", "black", 100), color);
        Assert.Same(StoredPropertiesJson.ParseColors(Stored)![0].CSSColor, color.CSSColor);

        // Another writer's spacing, order, escapes and an unknown field: the fallback reads them as before.
        const string Other = """[ { "PixelPercent": 5.5, "SimplifiedColor": "bl\u0075e", "CSSColor": "navy", "HexCode": "#000080", "Green": 0, "Blue": 128, "Red": 0, "Extra": [1, 2] } ]""";
        Assert.Equal(new DominantColor(0, 128, 0, "#000080", "navy", "blue", 5.5), Assert.Single(StoredPropertiesJson.ParseColors(Other)!));
        Assert.Equal(JsonSerializer.Deserialize<ImageProperties>("""{"Quality":{"Brightness":1,"Sharpness":2},"DominantColors":[],"Later":{"x":1}}""", SqliteCatalog.PropertiesJson)!.Quality,
            StoredPropertiesJson.ParseProperties("""{"Quality":{"Brightness":1,"Sharpness":2},"DominantColors":[],"Later":{"x":1}}""")!.Quality);
    }
}
