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
    [InlineData("""{"classes":{},"labels":{"A":{"parents":[],"categories":["x"]}},"synsets":{"n01440764":{"label":"Missing"}}}""", "synset 'n01440764' maps to an undefined label 'Missing'")]
    [InlineData("""{"classes":{},"labels":{"A":{"parents":["B"],"categories":["x"]},"B":{"parents":["A"],"categories":["x"]}}}""", "its own ancestor")]
    [InlineData("""{"classes":{},"labels":{"A":{"parents":[],"categories":[]}}}""", "no category")]
    [InlineData("""{"classes":{"a":"Missing"},"labels":{}}""", "undefined label 'Missing'")]
    public void Invalid_tables_are_refused_when_loaded(string json, string reason)
    {
        var error = Assert.Throws<InvalidDataException>(() => LabelTaxonomy.Load(new MemoryStream(Encoding.UTF8.GetBytes(json))));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    private static List<(string Id, string Names)> ImageNetClasses()
    {
        var lines = File.ReadAllLines(Path.Combine(TestData.ModelsFolder, "mobilenetv2-int8", "synset_words.txt")).Where(l => l.Length > 0).ToList();
        Assert.Equal(1000, lines.Count);
        return lines.Select(l => l.Split(' ', 2)).Select(p => (p[0], p[1])).ToList();
    }

    [Fact]
    public void Every_imagenet_class_maps_to_a_defined_label_with_a_category()
    {
        var classes = ImageNetClasses();
        Assert.Equal(1000, classes.Select(c => c.Id).Distinct().Count());
        Assert.All(classes, c =>
        {
            Assert.True(Taxonomy.TryGetSynset(c.Id, out var synset), $"no synset entry for {c.Id} ({c.Names})");
            Assert.True(Taxonomy.TryGetLabel(synset.Label.Name, out var label), $"{c.Id} maps to undefined label '{synset.Label.Name}'");
            Assert.Same(label, synset.Label);
            Assert.NotEmpty(synset.Label.Categories);
            Assert.NotEqual(synset.Label.Name, synset.Alias);
        });
        Assert.Equal(1000, Taxonomy.Synsets.Count);
    }

    [Theory]
    [InlineData("n02110063", "Dog", "Alaskan Malamute")]
    [InlineData("n02085620", "Dog", "Chihuahua")]
    [InlineData("n02123045", "Cat", "Tabby Cat")]
    [InlineData("n02123159", "Cat", "Tiger Cat")]
    [InlineData("n02124075", "Cat", "Egyptian Cat")]
    [InlineData("n07920052", "Coffee", "Espresso")]
    [InlineData("n09428293", "Beach", null)]
    [InlineData("n09193705", "Mountain", "Alp")]
    [InlineData("n09472597", "Volcano", null)]
    [InlineData("n09332890", "Lake", "Lakeside")]
    [InlineData("n01614925", "Eagle", "Bald Eagle")]
    [InlineData("n02129604", "Tiger", null)]
    [InlineData("n02391049", "Zebra", null)]
    [InlineData("n02835271", "Bicycle", "Tandem Bicycle")]
    [InlineData("n04285008", "Sports Car", null)]
    [InlineData("n03930630", "Pickup Truck", null)]
    [InlineData("n03642806", "Laptop", null)]
    [InlineData("n03832673", "Laptop", null)]
    [InlineData("n02992529", "Mobile Phone", null)]
    [InlineData("n04356056", "Sunglasses", null)]
    [InlineData("n03126707", "Construction Crane", null)]
    [InlineData("n03710721", "Swimwear", "Tank Suit")]
    public void Imagenet_classes_get_searchable_labels_and_fine_aliases(string wordNetId, string label, string? alias)
    {
        Assert.True(Taxonomy.TryGetSynset(wordNetId, out var synset));
        Assert.Equal(label, synset.Label.Name);
        Assert.Equal(alias, synset.Alias);
    }

    [Fact]
    public void Malamute_is_a_dog_with_the_dog_ancestry()
    {
        Assert.True(Taxonomy.TryGetSynset("n02110063", out var malamute));
        Assert.Equal("Dog", malamute.Label.Name);
        Assert.Equal("Alaskan Malamute", malamute.Alias);
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], malamute.Label.Ancestors);
        Assert.Same(Taxonomy.ForClass("dog"), malamute.Label);
    }

    [Fact]
    public void Imagenet_cats_keep_the_cat_label_of_the_detector()
    {
        foreach (var id in new[] { "n02123045", "n02123159", "n02123394", "n02123597", "n02124075" })
        {
            Assert.True(Taxonomy.TryGetSynset(id, out var cat));
            Assert.Same(Taxonomy.ForClass("cat"), cat.Label);
            Assert.Equal(["Mammal", "Pet", "Animal"], cat.Label.Ancestors);
        }

        // "Madagascar cat" is a lemur, not a cat.
        Assert.True(Taxonomy.TryGetSynset("n02497673", out var lemur));
        Assert.Equal("Lemur", lemur.Label.Name);
    }

    [Fact]
    public void Espresso_is_coffee_a_beverage_and_a_drink()
    {
        Assert.True(Taxonomy.TryGetSynset("n07920052", out var espresso));
        Assert.Equal("Coffee", espresso.Label.Name);
        Assert.Contains("Beverage", espresso.Label.Ancestors);
        Assert.Contains("Drink", espresso.Label.Ancestors);
        Assert.Contains("Food and Beverage", espresso.Label.Categories);
    }

    [Fact]
    public void Seashore_is_a_beach_and_alp_a_mountain_outdoors_in_nature()
    {
        Assert.True(Taxonomy.TryGetSynset("n09428293", out var seashore));
        Assert.Equal("Beach", seashore.Label.Name);
        Assert.Contains("Shoreline", seashore.Label.Aliases);
        Assert.Contains("Seashore", seashore.Label.Aliases);
        Assert.Contains("Outdoors", seashore.Label.Ancestors);
        Assert.Contains("Nature", seashore.Label.Ancestors);
        Assert.Contains("Nature and Outdoors", seashore.Label.Categories);

        Assert.True(Taxonomy.TryGetSynset("n09193705", out var alp));
        Assert.Equal("Mountain", alp.Label.Name);
        Assert.Contains("Outdoors", alp.Label.Ancestors);
        Assert.Contains("Nature", alp.Label.Ancestors);

        Assert.True(Taxonomy.TryGetSynset("n09472597", out var volcano));
        Assert.Contains("Mountain", volcano.Label.Ancestors);
    }

    [Theory]
    [InlineData("n01614925")] // bald eagle
    [InlineData("n01608432")] // kite, the bird of prey
    [InlineData("n02012849")] // crane, the bird
    [InlineData("n01622779")] // great grey owl
    public void Birds_are_birds_and_animals(string wordNetId)
    {
        Assert.True(Taxonomy.TryGetSynset(wordNetId, out var bird));
        Assert.Contains("Bird", bird.Label.Ancestors);
        Assert.Contains("Animal", bird.Label.Ancestors);
        Assert.True(Taxonomy.TryGetLabel("Bird", out var label));
        Assert.Contains("Animal", label.Ancestors);
    }

    [Fact]
    public void Imagenet_names_that_clash_with_detector_classes_keep_their_own_meaning()
    {
        // kite: the bird of prey, not the toy the detector's "kite" means.
        Assert.True(Taxonomy.TryGetSynset("n01608432", out var kite));
        Assert.NotEqual("Kite", kite.Label.Name);
        Assert.NotEqual("Kite", kite.Alias);
        Assert.DoesNotContain("Toy", kite.Label.Ancestors);

        // crane: a bird and a machine.
        Assert.True(Taxonomy.TryGetSynset("n02012849", out var craneBird));
        Assert.True(Taxonomy.TryGetSynset("n03126707", out var craneMachine));
        Assert.Contains("Bird", craneBird.Label.Ancestors);
        Assert.Contains("Machine", craneMachine.Label.Ancestors);

        // maillot: dancers' tights and a swimsuit.
        Assert.True(Taxonomy.TryGetSynset("n03710637", out var tights));
        Assert.True(Taxonomy.TryGetSynset("n03710721", out var swimsuit));
        Assert.Equal("Tights", tights.Label.Name);
        Assert.Equal("Swimwear", swimsuit.Label.Name);
    }

    [Fact]
    public void Vehicle_kinds_sit_under_their_detector_labels()
    {
        Assert.True(Taxonomy.TryGetSynset("n04285008", out var sportsCar));
        Assert.Contains("Car", sportsCar.Label.Ancestors);
        Assert.Contains("Vehicle", sportsCar.Label.Ancestors);
        Assert.True(Taxonomy.TryGetSynset("n03930630", out var pickup));
        Assert.Contains("Truck", pickup.Label.Ancestors);
        Assert.True(Taxonomy.TryGetSynset("n02835271", out var tandem));
        Assert.Same(Taxonomy.ForClass("bicycle"), tandem.Label);
    }

    [Fact]
    public void Every_imagenet_dog_breed_is_a_dog()
    {
        // The WordNet dog breeds: ImageNet classes 151 (Chihuahua) to 268 (Mexican hairless).
        var breeds = ImageNetClasses().Skip(151).Take(118).ToList();
        Assert.Equal("n02085620", breeds[0].Id);
        Assert.Equal("n02113978", breeds[^1].Id);
        Assert.All(breeds, b =>
        {
            Assert.True(Taxonomy.TryGetSynset(b.Id, out var breed));
            Assert.Equal("Dog", breed.Label.Name);
            Assert.False(string.IsNullOrWhiteSpace(breed.Alias), $"{b.Id} ({b.Names}) has no breed alias");
        });
        Assert.Equal(breeds.Count, Taxonomy.Synsets.Values.Count(s => s.Label.Name == "Dog"));
    }

    [Fact]
    public void Aliases_mean_one_label_each()
    {
        // A term people type resolves to one label: an alias is no label's name and belongs to one label only.
        var names = new HashSet<string>(Taxonomy.Labels.Select(l => l.Name), StringComparer.OrdinalIgnoreCase);
        var owner = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var aliases = Taxonomy.Labels.SelectMany(l => l.Aliases.Select(a => (Alias: a, Label: l.Name)))
            .Concat(Taxonomy.Synsets.Values.Where(s => s.Alias is not null).Select(s => (Alias: s.Alias!, Label: s.Label.Name)));
        foreach (var (alias, label) in aliases)
        {
            var isLabelName = names.Contains(alias);
            Assert.False(isLabelName, $"alias '{alias}' of '{label}' is the name of a label");
            var first = owner.TryAdd(alias, label) ? label : owner[alias];
            Assert.True(first == label, $"alias '{alias}' belongs to '{first}' and '{label}'");
        }
    }

    [Fact]
    public void Label_names_are_title_case()
    {
        string[] minor = ["and", "of"];
        Assert.All(Taxonomy.Labels, l => Assert.All(l.Name.Split(' ', '-'), word =>
            Assert.True(char.IsUpper(word[0]) || minor.Contains(word), $"'{l.Name}' is not in title case")));
    }

    [Fact]
    public void Synsets_are_optional_in_a_custom_table()
    {
        var custom = LabelTaxonomy.Load(new MemoryStream(Encoding.UTF8.GetBytes("""{"classes":{"a":"A"},"labels":{"A":{"parents":[],"categories":["x"]}}}""")));
        Assert.Empty(custom.Synsets);
        Assert.False(custom.TryGetSynset("n02110063", out _));

        var withSynsets = LabelTaxonomy.Load(new MemoryStream(Encoding.UTF8.GetBytes(
            """{"classes":{},"labels":{"A":{"parents":[],"categories":["x"]}},"synsets":{"n1":{"label":"A","alias":"Fine A"},"n2":{"label":"A"}}}""")));
        Assert.True(withSynsets.TryGetSynset("n1", out var fine));
        Assert.Equal("A", fine.Label.Name);
        Assert.Equal("Fine A", fine.Alias);
        Assert.True(withSynsets.TryGetSynset("n2", out var plain));
        Assert.Null(plain.Alias);
    }
}
