using LabelLens.Labels;
using LabelLens.Properties;
using NetVips;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>Image properties (quality, colours, regions, instances) and the label filters, on the real model and photos.</summary>
[Collection(DetectorGroup.Name)]
public sealed class ImagePropertiesTests(DetectorFixture fixture, ITestOutputHelper output)
{
    private static readonly LabelRequest WithProperties = new() { ImageProperties = true };

    internal static byte[] SolidJpeg(int red, int green, int blue, int width = 640, int height = 480)
    {
        using var black = Image.Black(width, height, bands: 3);
        using var colour = black + new double[] { red, green, blue };
        using var cast = colour.Cast(Enums.BandFormat.Uchar);
        return cast.JpegsaveBuffer(q: 95);
    }

    internal static byte[] Blurred(byte[] jpeg, double sigma)
    {
        using var image = Image.NewFromBuffer(jpeg);
        using var blurred = image.Gaussblur(sigma);
        return blurred.JpegsaveBuffer(q: 95);
    }

    internal static byte[] Darkened(byte[] jpeg, double factor)
    {
        using var image = Image.NewFromBuffer(jpeg);
        using var dark = image * factor;
        using var cast = dark.Cast(Enums.BandFormat.Uchar);
        return cast.JpegsaveBuffer(q: 95);
    }

    [Fact]
    public void An_all_red_image_is_dominated_by_red()
    {
        var result = fixture.Label(SolidJpeg(220, 20, 30), WithProperties);
        var properties = Assert.IsType<ImageProperties>(result.ImageProperties);
        var top = properties.DominantColors[0];
        Assert.Equal("red", top.SimplifiedColor);
        Assert.True(top.PixelPercent > 95, $"red covers {top.PixelPercent}%");
        Assert.InRange(top.Red, 200, 240);
        Assert.Matches("^#[0-9A-F]{6}$", top.HexCode);
        Assert.Equal("crimson", top.CSSColor);
        // A flat picture has no edges and no contrast.
        Assert.True(properties.Quality.Sharpness < 5, $"sharpness {properties.Quality.Sharpness}");
        Assert.True(properties.Quality.Contrast < 5, $"contrast {properties.Quality.Contrast}");
        Assert.Null(properties.Foreground);
    }

    [Theory]
    [InlineData(0, 0, 255, "blue")]
    [InlineData(20, 160, 40, "green")]
    [InlineData(255, 255, 255, "white")]
    [InlineData(10, 10, 10, "black")]
    [InlineData(128, 128, 128, "gray")]
    [InlineData(255, 220, 0, "yellow")]
    [InlineData(255, 140, 0, "orange")]
    [InlineData(120, 70, 30, "brown")]
    [InlineData(255, 105, 180, "pink")]
    [InlineData(110, 40, 150, "purple")]
    [InlineData(0, 128, 128, "teal")]
    public void Solid_colours_get_their_simple_names(int red, int green, int blue, string expected)
    {
        var result = fixture.Label(SolidJpeg(red, green, blue, 320, 240), WithProperties);
        Assert.Equal(expected, result.ImageProperties!.DominantColors[0].SimplifiedColor);
    }

    [Fact]
    public void A_blurred_copy_is_less_sharp_and_a_dark_copy_less_bright()
    {
        var original = TestData.ImageBytes("dog.jpg");
        var sharp = fixture.Label(original, WithProperties).ImageProperties!.Quality;
        var blurred = fixture.Label(Blurred(original, 4), WithProperties).ImageProperties!.Quality;
        var dark = fixture.Label(Darkened(original, 0.4), WithProperties).ImageProperties!.Quality;
        output.WriteLine($"original {sharp}, blurred {blurred}, dark {dark}");
        Assert.True(blurred.Sharpness < sharp.Sharpness - 15, $"blurred {blurred.Sharpness} vs {sharp.Sharpness}");
        Assert.True(dark.Brightness < sharp.Brightness * 0.6, $"dark {dark.Brightness} vs {sharp.Brightness}");
        Assert.InRange(sharp.Brightness, 20, 80);
        Assert.InRange(sharp.Contrast!.Value, 15, 80);
    }

    [Theory]
    [InlineData("dog.jpg")]
    [InlineData("eagle.jpg")]
    [InlineData("giraffe.jpg")]
    [InlineData("scream.jpg")]
    public void Photos_get_regions_colours_that_add_up_and_instance_colours(string photo)
    {
        var result = fixture.Label(TestData.ImageBytes(photo), WithProperties);
        var properties = result.ImageProperties!;
        output.WriteLine($"{photo}: {properties.Quality}");
        foreach (var colour in properties.DominantColors)
        {
            output.WriteLine($"  {colour}");
        }

        Assert.InRange(properties.DominantColors.Count, 2, ImagePropertiesAnalyzer.DefaultMaxDominantColors);
        Assert.InRange(properties.DominantColors.Sum(c => c.PixelPercent), 99, 101);
        Assert.All(properties.DominantColors, c => Assert.Contains(c.SimplifiedColor, NamedColors.Simplified));
        Assert.True(properties.DominantColors.SequenceEqual(properties.DominantColors.OrderByDescending(c => c.PixelPercent)));
        // Something stands out in each of these (a detection or, in the painting, a salient region).
        Assert.NotNull(properties.Foreground);
        Assert.NotNull(properties.Background);
        Assert.Null(properties.Foreground!.Quality.Contrast);
        Assert.NotEmpty(properties.Foreground.DominantColors);
        foreach (var instance in result.Labels.SelectMany(l => l.Instances))
        {
            Assert.NotNull(instance.DominantColors);
            Assert.NotEmpty(instance.DominantColors!);
        }
    }

    [Fact]
    public void MaxDominantColors_caps_every_list_and_zero_gives_none()
    {
        var bytes = TestData.ImageBytes("dog.jpg");
        var three = fixture.Label(bytes, WithProperties with { MaxDominantColors = 3 });
        Assert.InRange(three.ImageProperties!.DominantColors.Count, 1, 3);
        Assert.InRange(three.ImageProperties.Background!.DominantColors.Count, 1, 3);
        Assert.All(three.Labels.SelectMany(l => l.Instances), i => Assert.InRange(i.DominantColors!.Count, 1, 3));
        var none = fixture.Label(bytes, WithProperties with { MaxDominantColors = 0 });
        Assert.Empty(none.ImageProperties!.DominantColors);
        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Label(bytes, WithProperties with { MaxDominantColors = 21 }));
    }

    [Fact]
    public void Properties_are_the_same_every_time()
    {
        var bytes = TestData.ImageBytes("horses.jpg");
        var first = fixture.Label(bytes, WithProperties).ImageProperties!;
        var second = fixture.Label(bytes, WithProperties).ImageProperties!;
        Assert.Equal(first.Quality, second.Quality);
        Assert.Equal(first.DominantColors, second.DominantColors);
    }

    [Fact]
    public void Without_the_feature_there_are_no_properties_and_without_labels_no_labels()
    {
        var bytes = TestData.ImageBytes("dog.jpg");
        var plain = fixture.Label(bytes);
        Assert.Null(plain.ImageProperties);
        Assert.All(plain.Labels.SelectMany(l => l.Instances), i => Assert.Null(i.DominantColors));
        var onlyProperties = fixture.Label(bytes, new LabelRequest { GeneralLabels = false, ImageProperties = true });
        Assert.Empty(onlyProperties.Labels);
        Assert.NotNull(onlyProperties.ImageProperties);
        // The foreground still comes from the detections, even when labels are not returned.
        Assert.NotNull(onlyProperties.ImageProperties!.Foreground);
        Assert.Throws<ArgumentException>(() => fixture.Label(bytes, new LabelRequest { GeneralLabels = false }));
    }

    [Fact]
    public void Label_filters_include_and_exclude_by_name_and_category()
    {
        var bytes = TestData.ImageBytes("dog.jpg");
        var all = fixture.Label(bytes).Names();
        Assert.Contains("Dog", all);
        Assert.Contains("Bicycle", all);

        Assert.Equal(["Dog"], fixture.Label(bytes, new LabelRequest { LabelInclusionFilters = ["dog"] }).Names());

        var animals = fixture.Label(bytes, new LabelRequest { LabelCategoryInclusionFilters = ["Animals and Pets"] }).Names();
        Assert.Contains("Dog", animals);
        Assert.Contains("Animal", animals);
        Assert.DoesNotContain("Bicycle", animals);

        // Inclusion by name and by category add up; exclusion wins over both.
        var mixed = fixture.Label(bytes, new LabelRequest
        {
            LabelInclusionFilters = ["Bicycle"],
            LabelCategoryInclusionFilters = ["Animals and Pets"],
            LabelExclusionFilters = ["Pet"],
        }).Names();
        Assert.Contains("Bicycle", mixed);
        Assert.Contains("Dog", mixed);
        Assert.DoesNotContain("Pet", mixed);
        Assert.DoesNotContain("Vehicle", mixed);

        var noVehicles = fixture.Label(bytes, new LabelRequest { LabelCategoryExclusionFilters = ["Vehicles and Automotive"] }).Names();
        Assert.Contains("Dog", noVehicles);
        Assert.DoesNotContain("Bicycle", noVehicles);
        Assert.DoesNotContain("Vehicle", noVehicles);

        // MaxLabels counts what the filters keep.
        var one = fixture.Label(bytes, new LabelRequest { LabelCategoryInclusionFilters = ["Animals and Pets"], MaxLabels = 1 });
        Assert.Equal("Dog", Assert.Single(one.Labels).Name);

        Assert.Throws<ArgumentException>(() => fixture.Label(bytes, new LabelRequest { LabelInclusionFilters = [new string('x', 51)] }));
        Assert.Throws<ArgumentException>(() => fixture.Label(bytes, new LabelRequest { LabelExclusionFilters = Enumerable.Repeat("x", 101).ToList() }));
    }
}
