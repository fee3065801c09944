using System.Text;
using LabelLens.Models;
using LabelLens.Taxonomy;

namespace LabelLens.Tests;

public sealed class TaxonomyTests
{
    private static readonly LabelTaxonomy Taxonomy = LabelTaxonomy.BuiltIn;

    [Theory]
    [InlineData("person", "Person")]
    [InlineData("aeroplane", "Airplane")]
    [InlineData("motorbike", "Motorcycle")]
    [InlineData("sofa", "Couch")]
    [InlineData("pottedplant", "Potted Plant")]
    [InlineData("diningtable", "Dining Table")]
    [InlineData("tvmonitor", "TV")]
    [InlineData("tv", "TV")]
    [InlineData("cell phone", "Mobile Phone")]
    public void Model_classes_get_Rekognition_style_names(string className, string label)
    {
        Assert.Equal(label, Taxonomy.ForClass(className).Name);
    }

    [Fact]
    public void Every_coco_class_of_the_shared_model_has_a_taxonomy_label()
    {
        var classes = File.ReadAllLines(Path.Combine(TestData.ModelsFolder, "yolox-nano", "coco_classes.txt")).Where(l => l.Length > 0).ToList();
        Assert.Equal(80, classes.Count);
        Assert.Equal(ModelCatalog.CocoClasses, classes);
        Assert.All(classes, c => Assert.True(Taxonomy.Classes.ContainsKey(c), $"no taxonomy entry for '{c}'"));
    }

    [Fact]
    public void Dog_has_its_ancestry_and_category()
    {
        var dog = Taxonomy.ForClass("dog");
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], dog.Ancestors);
        Assert.Equal(["Animals and Pets"], dog.Categories);
    }

    [Fact]
    public void Car_is_a_vehicle_and_transportation()
    {
        var car = Taxonomy.ForClass("car");
        Assert.Equal(["Vehicle", "Transportation"], car.Ancestors);
        Assert.Equal(["Vehicles and Automotive"], car.Categories);
    }

    [Fact]
    public void Every_label_has_a_category()
    {
        Assert.All(Taxonomy.Labels, l => Assert.NotEmpty(l.Categories));
    }

    [Fact]
    public void Unknown_classes_still_get_a_label()
    {
        var label = Taxonomy.ForClass("fire_truck");
        Assert.Equal("Fire Truck", label.Name);
        Assert.Equal([LabelTaxonomy.FallbackCategory], label.Categories);
    }

    [Theory]
    [InlineData("""{"classes":{},"labels":{"A":{"parents":["B"],"categories":["x"]}}}""", "unknown parent 'B'")]
    [InlineData("""{"classes":{},"labels":{"A":{"parents":["B"],"categories":["x"]},"B":{"parents":["A"],"categories":["x"]}}}""", "its own ancestor")]
    [InlineData("""{"classes":{},"labels":{"A":{"parents":[],"categories":[]}}}""", "no category")]
    [InlineData("""{"classes":{"a":"Missing"},"labels":{}}""", "undefined label 'Missing'")]
    public void Invalid_tables_are_refused_when_loaded(string json, string reason)
    {
        var error = Assert.Throws<InvalidDataException>(() => LabelTaxonomy.Load(new MemoryStream(Encoding.UTF8.GetBytes(json))));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
