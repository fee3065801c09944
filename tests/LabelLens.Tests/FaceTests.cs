using System.Diagnostics;
using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using LabelLens.Vision.Faces;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>Both UltraFace sizes, each in a labeling pipeline beside YOLOX (as the product runs them), loaded once.</summary>
public sealed class FaceFixture : IDisposable
{
    public FaceFixture()
    {
        Faces320 = CreateFaceDetector(ModelCatalog.DefaultFaceDetector);
        Faces640 = CreateFaceDetector("ultraface-640");
        Labeler320 = TestData.CreateLabeler(null, TestData.CreateDetector(), Faces320);
        Labeler640 = TestData.CreateLabeler(null, TestData.CreateDetector(), Faces640);
    }

    public UltraFaceDetector Faces320 { get; }

    public UltraFaceDetector Faces640 { get; }

    public ImageLabeler Labeler320 { get; }

    public ImageLabeler Labeler640 { get; }

    public static UltraFaceDetector CreateFaceDetector(string name)
    {
        var entry = ModelCatalog.Find(name)!;
        var path = Path.Combine(TestData.ModelsFolder, entry.Folder!, entry.FileName);
        return new UltraFaceDetector(new LocalModel(name, path, []), new FaceOptions(), new DetectorOptions(), TimeProvider.System, NullLogger<UltraFaceDetector>.Instance);
    }

    public void Dispose()
    {
        Labeler320.Dispose();
        Labeler640.Dispose();
    }
}

/// <summary>Pictures made at test time from the shared photos: a 2x2 tile (four smaller faces) and a face crop filling the frame.</summary>
public static class FacePictures
{
    /// <summary>astronaut.png tiled 2x2 into one 1024x1024 picture, then halved to 512x512: four faces, each a quarter of the original's size.</summary>
    public static byte[] AstronautTiled()
    {
        using var astronaut = NetVips.Image.NewFromFile(TestData.Image("extra/astronaut.png"));
        using var tiled = NetVips.Image.Arrayjoin([astronaut, astronaut, astronaut, astronaut], across: 2);
        using var small = tiled.Resize(0.5);
        return small.WriteToBuffer(".png");
    }

    /// <summary>The astronaut's face (about x 180-268, y 62-174 per MODEL.md) with a margin, enlarged to 512x512.</summary>
    public static byte[] AstronautCloseUp()
    {
        using var astronaut = NetVips.Image.NewFromFile(TestData.Image("extra/astronaut.png"));
        using var crop = astronaut.Crop(150, 40, 150, 160);
        using var large = crop.Resize(512.0 / 150, vscale: 512.0 / 160);
        return large.WriteToBuffer(".png");
    }
}

public sealed class FaceDetectorTests(FaceFixture fixture, ITestOutputHelper output) : IClassFixture<FaceFixture>
{
    private DetectedFaces Faces(ImageLabeler labeler, byte[] bytes)
    {
        var (faces, _) = labeler.DetectFaces(bytes);
        foreach (var face in faces.Faces)
        {
            output.WriteLine($"{face.Confidence:F2} {face.BoundingBox} brightness {face.Quality.Brightness} sharpness {face.Quality.Sharpness}");
        }

        return faces;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_astronaut_has_one_face_where_MODEL_md_says(bool small)
    {
        var face = Assert.Single(Faces(small ? fixture.Labeler320 : fixture.Labeler640, TestData.ImageBytes("extra/astronaut.png")).Faces);
        Assert.True(face.Confidence > 99, $"confidence {face.Confidence}");
        // MODEL.md: about x 180-268, y 62-174 of 512x512.
        Assert.InRange(face.BoundingBox.Left * 512, 165, 195);
        Assert.InRange((face.BoundingBox.Left + face.BoundingBox.Width) * 512, 253, 283);
        Assert.InRange(face.BoundingBox.Top * 512, 47, 77);
        Assert.InRange((face.BoundingBox.Top + face.BoundingBox.Height) * 512, 159, 189);
        Assert.InRange(face.Quality.Brightness, 20, 90);
        Assert.InRange(face.Quality.Sharpness, 1, 100);
    }

    [Fact]
    public void The_cameraman_has_one_face()
    {
        var face = Assert.Single(Faces(fixture.Labeler320, TestData.ImageBytes("extra/camera.png")).Faces);
        Assert.True(face.Confidence > 99, $"confidence {face.Confidence}");
    }

    [Theory]
    [InlineData("dog.jpg")]
    [InlineData("eagle.jpg")]
    [InlineData("giraffe.jpg")]
    [InlineData("horses.jpg")]
    [InlineData("kite.jpg")]
    [InlineData("person.jpg")]
    [InlineData("scream.jpg")]
    public void The_darknet_photos_have_no_face_above_the_default_confidence(string photo)
    {
        Assert.Empty(Faces(fixture.Labeler320, TestData.ImageBytes(photo)).Faces);
    }

    [Fact]
    public void Four_smaller_faces_in_a_tile_are_counted_by_the_640_model()
    {
        var tiled = FacePictures.AstronautTiled();
        var faces = Faces(fixture.Labeler640, tiled).Faces;
        Assert.Equal(4, faces.Count);
        // One face in each quarter.
        Assert.Equal(4, faces.Select(f => (f.BoundingBox.Left >= 0.5, f.BoundingBox.Top >= 0.5)).Distinct().Count());
    }

    [Fact]
    public void Shot_sizes_follow_the_largest_face()
    {
        var closeUp = Assert.Single(Faces(fixture.Labeler320, FacePictures.AstronautCloseUp()).Faces);
        Assert.Equal(ShotSizes.CloseUp, ShotSizes.From(closeUp.BoundingBox.Height));
        var astronaut = Assert.Single(Faces(fixture.Labeler320, TestData.ImageBytes("extra/astronaut.png")).Faces);
        Assert.Equal(ShotSizes.Medium, ShotSizes.From(astronaut.BoundingBox.Height));
        Assert.Equal(ShotSizes.Wide, ShotSizes.From(0.05));
        Assert.Null(ShotSizes.From(null));
    }

    [Fact]
    public void The_face_analysis_gives_the_Face_label_with_a_box_in_the_labeling_pass()
    {
        var result = fixture.Labeler320.Label(TestData.ImageBytes("extra/astronaut.png"), LabelRequest.Default);
        var face = result.Single("Face");
        Assert.Single(face.Instances);
        Assert.Equal(["Person Description"], face.Categories.Select(c => c.Name));
        Assert.NotNull(result.Faces);
        Assert.Single(result.Faces.Faces);
        Assert.Contains("ultraface-320:34cd7e60aeff", result.LabelModelVersion, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Labeler320.Label(TestData.ImageBytes("dog.jpg"), LabelRequest.Default).Labels, l => l.Name == "Face");
    }

    /// <summary>The measurement behind the default model size (docs/configuration.md, bench/README.md): face analysis alone, per picture.</summary>
    [Fact]
    public void Cost_per_picture_of_each_model_size()
    {
        var photos = new[] { "dog.jpg", "person.jpg", "kite.jpg", "extra/astronaut.png", "extra/camera.png" }.Select(TestData.ImageBytes).ToList();
        foreach (var (name, labeler) in new[] { ("ultraface-320", fixture.Labeler320), ("ultraface-640", fixture.Labeler640) })
        {
            foreach (var photo in photos)
            {
                labeler.DetectFaces(photo);
            }

            var timings = new List<AnalysisTiming>();
            var stopwatch = Stopwatch.StartNew();
            for (var round = 0; round < 4; round++)
            {
                foreach (var photo in photos)
                {
                    timings.Add(labeler.DetectFaces(photo).Faces.Timing);
                }
            }

            output.WriteLine($"{name}: face analysis {timings.Average(t => t.TotalMs):F2} ms/picture (prepare {timings.Average(t => t.PrepareMs):F2}, inference {timings.Average(t => t.InferenceMs):F2}, postprocess {timings.Average(t => t.PostprocessMs):F2}); with decode {stopwatch.Elapsed.TotalMilliseconds / timings.Count:F1} ms");
            Assert.All(timings, t => Assert.True(t.TotalMs > 0));
        }
    }
}
