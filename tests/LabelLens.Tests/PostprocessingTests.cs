using LabelLens.Labels;
using LabelLens.Taxonomy;
using LabelLens.Vision;
using D = LabelLens.Detection.Detection;

namespace LabelLens.Tests;

/// <summary>Output decoding, NMS and label building with hand-computed expectations.</summary>
public sealed class PostprocessingTests
{
    [Fact]
    public void Grid_has_one_row_per_cell_over_strides_8_16_32()
    {
        var grid = new YoloxGrid(416, 416);
        Assert.Equal(3549, grid.Rows); // 52x52 + 26x26 + 13x13
        // Row 52*2 + 1 is stride 8, cell (1, 2); the first stride-16 row follows the 2704 stride-8 rows.
        Assert.Equal((1f, 2f, 8f), (grid.X[105], grid.Y[105], grid.Stride[105]));
        Assert.Equal((0f, 0f, 16f), (grid.X[2704], grid.Y[2704], grid.Stride[2704]));
        Assert.Equal((12f, 12f, 32f), (grid.X[3548], grid.Y[3548], grid.Stride[3548]));
    }

    [Fact]
    public void Decode_maps_a_row_to_a_box_in_source_pixels()
    {
        // Input 32x32: 4x4 + 2x2 + 1x1 = 21 rows of [x, y, w, h, obj, class0, class1].
        var grid = new YoloxGrid(32, 32);
        var output = new float[21 * 7];
        var row = (2 * 4) + 1; // stride 8, cell gx=1, gy=2
        float[] values = [0.5f, 0.5f, MathF.Log(2), MathF.Log(4), 0.9f, 0.5f, 0.8f];
        values.CopyTo(output, row * 7);

        var detections = YoloxPostprocessor.Decode(output, grid, classCount: 2, minScore: 0.5f, scaleX: 2f, scaleY: 2f);

        // cx = (0.5 + 1) * 8 = 12, cy = (0.5 + 2) * 8 = 20, w = 2 * 8 = 16, h = 4 * 8 = 32,
        // so (4, 4)-(20, 36) in the input, doubled to source pixels. Class 0 scores 0.45 < 0.5: dropped.
        var detection = Assert.Single(detections);
        Assert.Equal(1, detection.ClassIndex);
        Assert.Equal(0.72f, detection.Score, 5);
        Assert.Equal((8f, 8f, 40f, 72f), (detection.X1, detection.Y1, detection.X2, detection.Y2));

        // Lower the threshold and the same cell yields both classes.
        Assert.Equal(2, YoloxPostprocessor.Decode(output, grid, 2, 0.4f, 1f, 1f).Count);
    }

    [Fact]
    public void Decode_refuses_an_output_of_the_wrong_shape()
    {
        Assert.Throws<InvalidDataException>(() => YoloxPostprocessor.Decode(new float[20 * 7], new YoloxGrid(32, 32), 2, 0.5f, 1, 1));
    }

    [Fact]
    public void IoU_is_intersection_over_union()
    {
        Assert.Equal(1f / 3f, YoloxPostprocessor.IoU(new D(0, 1, 0, 0, 10, 10), new D(0, 1, 5, 0, 15, 10)), 6);
        Assert.Equal(0f, YoloxPostprocessor.IoU(new D(0, 1, 0, 0, 10, 10), new D(0, 1, 10, 0, 20, 10)));
        Assert.Equal(1f, YoloxPostprocessor.IoU(new D(0, 1, 0, 0, 10, 10), new D(0, 1, 0, 0, 10, 10)));
    }

    [Fact]
    public void Nms_is_class_wise_and_keeps_the_best_box()
    {
        List<D> candidates =
        [
            new(0, 0.6f, 1, 0, 11, 10),   // IoU with the 0.9 box = 9/11 > 0.45: suppressed
            new(0, 0.9f, 0, 0, 10, 10),
            new(1, 0.7f, 0, 0, 10, 10),   // same place, other class: kept
            new(0, 0.5f, 5, 0, 15, 10),   // IoU 1/3 <= 0.45: kept
        ];

        var kept = YoloxPostprocessor.NonMaxSuppression(candidates, 0.45f, 100);

        Assert.Equal([(0, 0.9f), (1, 0.7f), (0, 0.5f)], kept.Select(d => (d.ClassIndex, d.Score)));
        Assert.Single(YoloxPostprocessor.NonMaxSuppression(candidates, 0.45f, 1));
    }

    [Fact]
    public void Boxes_become_ratios_of_the_image_clamped_to_it()
    {
        Assert.Equal(new BoundingBox(0.4, 0.4, 0.1, 0.1), LabelBuilder.ToBox(new D(0, 1, 76.8f, 57.6f, 384f, 288f), 768, 576));
        Assert.Equal(new BoundingBox(0.5, 1, 0, 0), LabelBuilder.ToBox(new D(0, 1, -20, -5, 50, 120), 100, 100));
    }

    [Fact]
    public void Labels_take_the_best_instance_and_add_ancestors()
    {
        string[] classes = ["dog", "cat", "car"];
        List<D> detections =
        [
            new(0, 0.6f, 0, 0, 10, 10),
            new(0, 0.9f, 50, 50, 60, 60),
            new(1, 0.5f, 0, 0, 10, 10),  // 50 < MinConfidence 55: dropped, and adds no Pet/Mammal
            new(2, 0.7f, 0, 0, 100, 50),
        ];
        var builder = new LabelBuilder(LabelTaxonomy.BuiltIn);

        var labels = builder.Build(detections, classes, 100, 100, LabelRequest.Default);

        Assert.Equal(["Dog", "Canine", "Mammal", "Pet", "Animal", "Car", "Vehicle", "Transportation"], labels.Select(l => l.Name));
        var dog = labels[0];
        Assert.Equal(90, dog.Confidence);
        Assert.Equal([90.0, 60.0], dog.Instances.Select(i => i.Confidence));
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], dog.Parents.Select(p => p.Name));
        Assert.Equal(["Puppy"], dog.Aliases.Select(a => a.Name));
        Assert.All(labels.Take(5), l => Assert.Equal(90, l.Confidence));
        Assert.Equal(["Mammal", "Animal"], labels.Single(l => l.Name == "Canine").Parents.Select(p => p.Name));

        Assert.Equal(["Dog", "Canine", "Mammal"], builder.Build(detections, classes, 100, 100, new() { MaxLabels = 3 }).Select(l => l.Name));
        Assert.Equal(["Car", "Vehicle", "Transportation"], builder.Build(detections, ["x", "y", "car"], 100, 100, new() { MinConfidence = 65 }).Where(l => l.Name != "X").Select(l => l.Name));
    }

    [Fact]
    public void Request_limits_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabelRequest { MinConfidence = 101 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabelRequest { MinConfidence = double.NaN }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabelRequest { MaxLabels = -1 }.Validate());
    }
}
