using LabelLens.Analysis;
using LabelLens.Labels;
using LabelLens.Models;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabelLens.Tests;

/// <summary>
/// The real model and photos from ../shared beside the checkout. They are required: a missing folder fails
/// the test with a message saying where they were looked for (never a silent skip).
/// </summary>
public static class TestData
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string Shared => RequireDirectory(Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared")));

    public static string ModelsFolder => RequireDirectory(Path.Combine(Shared, "models"));

    public static string ImagesFolder => RequireDirectory(Path.Combine(Shared, "images"));

    public static string ModelPath => Path.Combine(ModelsFolder, "yolox-nano", "yolox_nano.onnx");

    public static string Image(string name) => Path.Combine(ImagesFolder, name);

    public static byte[] ImageBytes(string name) => File.ReadAllBytes(Image(name));

    /// <summary>The configuration (Debug/Release) this test assembly was built with.</summary>
    public static string Configuration => typeof(TestData).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false).Cast<System.Reflection.AssemblyConfigurationAttribute>().Single().Configuration;

    /// <summary>The built `labellens` executable of the same configuration.</summary>
    public static string CliDll => Path.Combine(RepositoryRoot, "src", "LabelLens", "bin", Configuration, "net10.0", "labellens.dll");

    public static string ClassifierPath => Path.Combine(ModelsFolder, "mobilenetv2-int8", "mobilenetv2-12-int8.onnx");

    public static YoloxDetector CreateDetector(DetectorOptions? detectorOptions = null)
    {
        var model = new LocalModel("yolox-nano", ModelPath, ModelStore.ReadClasses("yolox-nano", ModelPath));
        return new YoloxDetector(model, detectorOptions ?? new DetectorOptions(), TimeProvider.System, NullLogger<YoloxDetector>.Instance);
    }

    public static ImageNetClassifier CreateClassifier()
    {
        var model = new LocalModel("mobilenetv2-int8", ClassifierPath, ModelStore.ReadClasses("mobilenetv2-int8", ClassifierPath));
        return new ImageNetClassifier(model, new DetectorOptions(), TimeProvider.System, NullLogger<ImageNetClassifier>.Instance);
    }

    /// <summary>The analysis pipeline over <paramref name="analyses"/> (the detector alone, or detector and classifier).</summary>
    public static ImageLabeler CreateLabeler(ImageOptions? imageOptions = null, params IPictureAnalysis[] analyses) =>
        new(analyses, new VipsImageDecoder(Options.Create(imageOptions ?? new ImageOptions())), new LabelBuilder(LabelTaxonomy.BuiltIn));

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LabelLens.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"LabelLens.slnx not found above {AppContext.BaseDirectory}.");
    }

    private static string RequireDirectory(string path) => Directory.Exists(path)
        ? path
        : throw new DirectoryNotFoundException($"Test data folder {path} is missing: the tests need ../shared (models and photos) beside the checkout.");
}

/// <summary>One detector for all tests that label real photos with YOLOX alone: loading the session once, as the product does.</summary>
public sealed class DetectorFixture : IDisposable
{
    public DetectorFixture()
    {
        Detector = TestData.CreateDetector();
        Labeler = TestData.CreateLabeler(null, Detector);
    }

    public YoloxDetector Detector { get; }

    public ImageLabeler Labeler { get; }

    public LabelsResult Label(byte[] bytes, LabelRequest? request = null) => Labeler.Label(bytes, request ?? LabelRequest.Default);

    public void Dispose() => Labeler.Dispose();
}

/// <summary>The default pipeline (YOLOX and the ImageNet classifier) on the real models, loaded once.</summary>
public sealed class PipelineFixture : IDisposable
{
    public PipelineFixture()
    {
        Classifier = TestData.CreateClassifier();
        Labeler = TestData.CreateLabeler(null, TestData.CreateDetector(), Classifier);
    }

    public ImageNetClassifier Classifier { get; }

    public ImageLabeler Labeler { get; }

    public LabelsResult Label(byte[] bytes, LabelRequest? request = null) => Labeler.Label(bytes, request ?? LabelRequest.Default);

    public void Dispose() => Labeler.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DetectorGroup : ICollectionFixture<DetectorFixture>
{
    public const string Name = "detector";
}

public static class LabelAssertions
{
    public static Label Single(this LabelsResult result, string name) =>
        Assert.Single(result.Labels, l => l.Name == name);

    public static HashSet<string> Names(this LabelsResult result) => result.Labels.Select(l => l.Name).ToHashSet();

    /// <summary>Centre of a label's best box, as ratios of the image.</summary>
    public static (double X, double Y) Centre(this Label label)
    {
        var box = label.Instances[0].BoundingBox;
        return (box.Left + (box.Width / 2), box.Top + (box.Height / 2));
    }
}
