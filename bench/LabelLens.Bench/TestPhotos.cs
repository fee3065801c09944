using NetVips;
using Image = NetVips.Image;

namespace LabelLens.Bench;

/// <summary>
/// The benchmark photos, made at run time from the sample photos (never committed): each sample cropped to
/// 4:3, scaled to the requested size and saved as a JPEG the way cameras save them. Shared by every
/// benchmark that labels photos, so their numbers are comparable.
/// </summary>
public static class TestPhotos
{
    /// <summary>The sample .jpg photos of a folder, in name order.</summary>
    public static IReadOnlyList<string> Samples(string imagesFolder)
    {
        var samples = Directory.Exists(imagesFolder)
            ? Directory.GetFiles(imagesFolder, "*.jpg").Order(StringComparer.Ordinal).ToList()
            : [];
        return samples.Count > 0
            ? samples
            : throw new FileNotFoundException($"No .jpg sample photos in {imagesFolder}; pass --images.");
    }

    /// <summary>Every sample at about <paramref name="megapixels"/> (4:3), encoded in memory.</summary>
    public static List<byte[]> Derive(IEnumerable<string> samples, double megapixels)
    {
        var (width, height) = FourByThree(megapixels);
        return samples.Select(path => EncodeJpeg(path, width, height)).ToList();
    }

    /// <summary>Writes <paramref name="count"/> files photo-0000.jpg... to <paramref name="folder"/>, cycling through <paramref name="photos"/>.</summary>
    public static async Task WriteCopiesAsync(IReadOnlyList<byte[]> photos, string folder, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(photos);
        Directory.CreateDirectory(folder);
        for (var i = 0; i < count; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(folder, $"photo-{i:D4}.jpg"), photos[i % photos.Count], cancellationToken);
        }
    }

    /// <summary>A 4:3 size of about <paramref name="megapixels"/>, width a multiple of 8: 2 gives 1632x1224, 12 gives 4000x3000.</summary>
    public static (int Width, int Height) FourByThree(double megapixels)
    {
        var width = (int)Math.Round(Math.Sqrt(megapixels * 1e6 * 4 / 3) / 8) * 8;
        return (width, width * 3 / 4);
    }

    /// <summary>
    /// A sample photo cropped to 4:3 and scaled (mostly up: the samples are under 1.3 MP) to the test size,
    /// saved at quality 90 with 4:2:0 chroma as cameras do (libvips would keep full chroma from quality 90).
    /// </summary>
    public static byte[] EncodeJpeg(string path, int width, int height)
    {
        using var image = Image.Thumbnail(path, width, height: height, size: Enums.Size.Both, crop: Enums.Interesting.Centre);
        return image.JpegsaveBuffer(q: 90, subsampleMode: Enums.ForeignSubsample.On);
    }
}
