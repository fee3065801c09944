namespace LabelLens.Tests;

/// <summary>The real YOLOX-Nano model on the real sample photos (expectations from ../shared/models/yolox-nano/MODEL.md).</summary>
[Collection(DetectorGroup.Name)]
public sealed class SamplePhotoTests(DetectorFixture fixture)
{
    [Fact]
    public void Dog_photo_has_dog_bicycle_and_a_vehicle_in_the_right_places()
    {
        var result = fixture.Label(TestData.ImageBytes("dog.jpg"));

        Assert.Equal((768, 576, "jpeg"), (result.Image.Width, result.Image.Height, result.Image.Format));
        var dog = result.Single("Dog");
        var bicycle = result.Single("Bicycle");
        var vehicle = Assert.Single(result.Labels, l => l.Name is "Car" or "Truck");

        // The dog sits bottom-left, the bicycle across the middle, the pickup top-right.
        var (dogX, dogY) = dog.Centre();
        Assert.InRange(dogX, 0.15, 0.45);
        Assert.InRange(dogY, 0.5, 0.8);
        var (bikeX, bikeY) = bicycle.Centre();
        Assert.InRange(bikeX, 0.3, 0.55);
        Assert.InRange(bikeY, 0.35, 0.65);
        var (carX, carY) = vehicle.Centre();
        Assert.InRange(carX, 0.65, 0.85);
        Assert.InRange(carY, 0.1, 0.35);

        Assert.All(new[] { dog, bicycle, vehicle }, l => Assert.InRange(l.Confidence, 70, 95));
        Assert.Contains("Animal", dog.Parents.Select(p => p.Name));
        Assert.Contains("Animals and Pets", dog.Categories.Select(c => c.Name));
        Assert.StartsWith("yolox-nano:695e750a5d57", result.LabelModelVersion, StringComparison.Ordinal);
    }

    [Fact]
    public void Parents_are_returned_as_labels_with_the_childs_confidence()
    {
        var result = fixture.Label(TestData.ImageBytes("dog.jpg"));

        var dog = result.Single("Dog");
        foreach (var parent in new[] { "Canine", "Pet", "Mammal", "Animal" })
        {
            var label = result.Single(parent);
            Assert.Equal(dog.Confidence, label.Confidence);
            Assert.Empty(label.Instances);
        }

        Assert.Equal(result.Single("Car").Confidence, result.Single("Vehicle").Confidence, 3);
        Assert.Equal(result.Labels.OrderByDescending(l => l.Confidence).Select(l => l.Confidence), result.Labels.Select(l => l.Confidence));
    }

    [Fact]
    public void Eagle_photo_has_a_bird()
    {
        var bird = fixture.Label(TestData.ImageBytes("eagle.jpg")).Single("Bird");
        Assert.True(bird.Confidence > 85, $"Bird at {bird.Confidence}");
    }

    [Fact]
    public void Giraffe_photo_has_giraffe_and_zebra()
    {
        var result = fixture.Label(TestData.ImageBytes("giraffe.jpg"));
        var giraffe = result.Single("Giraffe");
        var zebra = result.Single("Zebra");
        // The zebra stands to the right of and below the giraffe's head.
        Assert.True(zebra.Centre().X > giraffe.Centre().X);
    }

    [Fact]
    public void Person_photo_has_person_dog_and_horse()
    {
        var names = fixture.Label(TestData.ImageBytes("person.jpg")).Names();
        Assert.Superset(new HashSet<string> { "Person", "Dog", "Horse" }, names);
    }

    [Fact]
    public void Horses_photo_counts_several_horses()
    {
        var horse = fixture.Label(TestData.ImageBytes("horses.jpg")).Single("Horse");
        Assert.True(horse.Instances.Count >= 3, $"{horse.Instances.Count} horse instances");
        Assert.Equal(horse.Instances.Max(i => i.Confidence), horse.Confidence);
    }

    [Fact]
    public void Painting_has_no_object_label_at_the_default_min_confidence()
    {
        Assert.Empty(fixture.Label(TestData.ImageBytes("scream.jpg")).Labels);
    }

    [Fact]
    public void MinConfidence_and_MaxLabels_behave_as_in_Rekognition()
    {
        var bytes = TestData.ImageBytes("dog.jpg");

        var strict = fixture.Label(bytes, new() { MinConfidence = 83 });
        Assert.Equal(["Dog", "Canine", "Mammal", "Pet", "Animal"], strict.Labels.Select(l => l.Name));

        var top2 = fixture.Label(bytes, new() { MaxLabels = 2 });
        Assert.Equal(["Dog", "Canine"], top2.Labels.Select(l => l.Name));

        var everything = fixture.Label(bytes, new() { MinConfidence = 0 });
        Assert.True(everything.Labels.Count > fixture.Label(bytes).Labels.Count);
        Assert.Empty(fixture.Label(bytes, new() { MaxLabels = 0 }).Labels);
    }
}
