using LabelLens.Labels;
using NetVips;

namespace LabelLens.Tests;

/// <summary>The same photo in other encodings, orientations and sizes gives the same labels.</summary>
[Collection(DetectorGroup.Name)]
public sealed class ImageVariantTests(DetectorFixture fixture)
{
    private static readonly string[] DogLabels = ["Dog", "Bicycle"];

    [Theory]
    [InlineData("png")]
    [InlineData("webp")]
    [InlineData("tiff")]
    [InlineData("gif")]
    public void Dog_photo_reencoded_gives_the_same_labels(string format)
    {
        using var image = Image.NewFromFile(TestData.Image("dog.jpg"));
        var bytes = image.WriteToBuffer("." + format);

        var result = fixture.Label(bytes);

        Assert.Equal(format, result.Image.Format);
        Assert.Superset(DogLabels.ToHashSet(), result.Names());
        Assert.Contains(result.Labels, l => l.Name is "Car" or "Truck");
        AssertBoxesClose(fixture.Label(TestData.ImageBytes("dog.jpg")), result, "Dog", 0.03);
    }

    [Fact]
    public async Task An_iphone_style_heic_photo_is_decoded_through_debian_libheif_and_gives_the_same_labels_and_a_thumbnail()
    {
        // HEVC-coded HEIF, as an iPhone writes it, made by Debian's ImageMagick (libheif with x265).
        var folder = Directory.CreateTempSubdirectory("labellens-heic-").FullName;
        try
        {
            var heic = Path.Combine(folder, "dog.heic");
            using (var convert = System.Diagnostics.Process.Start(TextCards.Convert, [TestData.Image("dog.jpg"), heic]))
            {
                await convert.WaitForExitAsync();
                Assert.Equal(0, convert.ExitCode);
            }

            var bytes = await File.ReadAllBytesAsync(heic);
            Assert.Equal("ftypheic", System.Text.Encoding.ASCII.GetString(bytes, 4, 8));

            var result = fixture.Label(bytes);

            Assert.Equal("heif", result.Image.Format);
            Assert.Equal((768, 576), (result.Image.Width, result.Image.Height));
            Assert.Superset(DogLabels.ToHashSet(), result.Names());
            AssertBoxesClose(fixture.Label(TestData.ImageBytes("dog.jpg")), result, "Dog", 0.03);
            var thumbnail = new LabelLens.Vision.Thumbnailer(new LabelLens.Vision.VipsImageDecoder(Microsoft.Extensions.Options.Options.Create(new LabelLens.Vision.ImageOptions()))).Create(bytes, 160);
            Assert.Equal((160, 120), (thumbnail.Width, thumbnail.Height));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Exif_orientation_is_applied_and_boxes_are_in_the_displayed_frame()
    {
        // Store the pixels turned a quarter to the left and tag them "rotate 90 clockwise to display"
        // (orientation 6), as a phone held sideways does: displayed, it is the original photo again.
        using var original = Image.NewFromFile(TestData.Image("dog.jpg"));
        using var sideways = original.Rot270();
        using var tagged = sideways.Mutate(m => m.Set(GValue.GIntType, "orientation", 6));
        var bytes = tagged.JpegsaveBuffer(q: 95);
        using (var check = Image.NewFromBuffer(bytes))
        {
            Assert.Equal((576, 768, 6), (check.Width, check.Height, (int)check.Get("orientation")));
        }

        var rotated = fixture.Label(bytes);

        Assert.Equal((768, 576), (rotated.Image.Width, rotated.Image.Height));
        Assert.Superset(DogLabels.ToHashSet(), rotated.Names());
        var upright = fixture.Label(TestData.ImageBytes("dog.jpg"));
        AssertBoxesClose(upright, rotated, "Dog", 0.03);
        AssertBoxesClose(upright, rotated, "Bicycle", 0.03);
    }

    [Fact]
    public void Upscaled_to_12_megapixels_gives_the_same_labels_and_boxes()
    {
        using var original = Image.NewFromFile(TestData.Image("dog.jpg"));
        using var big = original.Resize(4000.0 / original.Width);
        var bytes = big.JpegsaveBuffer(q: 90);

        var result = fixture.Label(bytes);

        Assert.Equal((4000, 3000), (result.Image.Width, result.Image.Height));
        Assert.Superset(DogLabels.ToHashSet(), result.Names());
        Assert.Contains(result.Labels, l => l.Name is "Car" or "Truck");
        AssertBoxesClose(fixture.Label(TestData.ImageBytes("dog.jpg")), result, "Dog", 0.03);
    }

    [Fact]
    public void Grayscale_cmyk_alpha_and_16_bit_images_are_decoded_to_model_input()
    {
        var decoder = new Vision.VipsImageDecoder(Microsoft.Extensions.Options.Options.Create(new Vision.ImageOptions()));
        using var original = Image.NewFromFile(TestData.Image("dog.jpg"));
        using var gray = original.Colourspace(Enums.Interpretation.Bw);
        using var cmyk = original.Colourspace(Enums.Interpretation.Cmyk);
        using var alpha = original.Bandjoin(128);
        using var sixteen = original.Colourspace(Enums.Interpretation.Rgb16);
        var variants = new Dictionary<string, byte[]>
        {
            ["gray jpeg"] = gray.JpegsaveBuffer(),
            ["cmyk jpeg"] = cmyk.JpegsaveBuffer(),
            ["rgba png"] = alpha.PngsaveBuffer(),
            ["16-bit png"] = sixteen.PngsaveBuffer(),
        };

        foreach (var (name, bytes) in variants)
        {
            using var letterboxed = decoder.DecodeLetterboxed(bytes, 416, 416, 114);
            Assert.True(letterboxed.Pixels.Length == 416 * 416 * 3, name);
            Assert.True((416, 312) == (letterboxed.ResizedWidth, letterboxed.ResizedHeight), name);
            // The picture is there (not a flat colour) and the padding below it is YOLOX grey.
            using var pixels = Image.NewFromMemory(letterboxed.Pixels.Span.ToArray(), 416, 416, 3, Enums.BandFormat.Uchar);
            Assert.True(pixels.Crop(0, 0, 416, 312).Deviate() > 20, name);
            Assert.Equal([114.0, 114.0, 114.0], pixels.Getpoint(200, 400));
        }

        // The grey and CMYK copies are still recognisably the same photo to the model.
        Assert.Contains("Dog", fixture.Label(variants["gray jpeg"]).Names());
        Assert.Contains("Dog", fixture.Label(variants["cmyk jpeg"]).Names());
    }

    [Fact]
    public void Tensor_is_planar_bgr_with_raw_values()
    {
        // 37 pixels (two vector blocks of 16 and a scalar tail of 5), each pixel i = (i, 100 + i, 200 - i).
        var rgb = Enumerable.Range(0, 37).SelectMany(i => new[] { (byte)i, (byte)(100 + i), (byte)(200 - i) }).ToArray();
        var tensor = new float[37 * 3];

        Vision.VipsImageDecoder.FillPlanarBgr(rgb, tensor);

        var expected = Enumerable.Range(0, 37).Select(i => 200f - i)       // B plane
            .Concat(Enumerable.Range(0, 37).Select(i => 100f + i))         // G plane
            .Concat(Enumerable.Range(0, 37).Select(i => (float)i));        // R plane
        Assert.Equal(expected, tensor);
    }

    private static void AssertBoxesClose(LabelsResult expected, LabelsResult actual, string label, double tolerance)
    {
        var a = expected.Single(label).Instances[0].BoundingBox;
        var b = actual.Single(label).Instances[0].BoundingBox;
        Assert.True(
            Math.Abs(a.Left - b.Left) < tolerance && Math.Abs(a.Top - b.Top) < tolerance &&
            Math.Abs(a.Width - b.Width) < tolerance && Math.Abs(a.Height - b.Height) < tolerance,
            $"{label}: expected a box near {a}, got {b}");
    }
}
