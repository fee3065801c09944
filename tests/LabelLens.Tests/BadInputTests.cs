using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using LabelLens.Detection;
using LabelLens.Vision;

namespace LabelLens.Tests;

/// <summary>Inputs that must be refused with a clear reason, without crashing or eating memory.</summary>
[Collection(DetectorGroup.Name)]
public sealed class BadInputTests(DetectorFixture fixture)
{
    [Fact]
    public void Zero_bytes_is_an_invalid_image()
    {
        var error = Assert.Throws<ImageRejectedException>(() => fixture.Label([]));
        Assert.Equal(ImageError.InvalidImageFormat, error.Error);
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_is_not_an_image()
    {
        var error = Assert.Throws<ImageRejectedException>(() => fixture.Label("hello, this is not a photo\n"u8.ToArray()));
        Assert.Equal(ImageError.InvalidImageFormat, error.Error);
        Assert.Equal("InvalidImageFormat: not an image (no supported image format recognised)", error.ToString());
    }

    [Fact]
    public void Truncated_jpeg_is_refused_as_corrupt()
    {
        var bytes = TestData.ImageBytes("dog.jpg");
        var error = Assert.Throws<ImageRejectedException>(() => fixture.Label(bytes[..(bytes.Length / 2)]));
        Assert.Equal(ImageError.InvalidImageFormat, error.Error);
        Assert.Contains("corrupt or truncated jpeg", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Svg_is_refused_as_unsupported()
    {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>"u8.ToArray();
        var error = Assert.Throws<ImageRejectedException>(() => fixture.Label(svg));
        Assert.Equal(ImageError.InvalidImageFormat, error.Error);
    }

    [Fact]
    public void Decompression_bomb_is_refused_from_its_header_without_allocating_the_canvas()
    {
        // A valid 60-kilobyte-ish PNG that declares 100,000 x 100,000 pixels (30 GB decoded).
        var bomb = PngDeclaring(100_000, 100_000);
        Assert.True(bomb.Length < 100_000);
        var before = Process.GetCurrentProcess().WorkingSet64;

        var error = Assert.Throws<ImageRejectedException>(() => fixture.Label(bomb));

        Assert.Equal(ImageError.ImageTooLarge, error.Error);
        Assert.Contains("100,000 x 100,000 pixels", error.Message, StringComparison.Ordinal);
        var grownMb = (Process.GetCurrentProcess().WorkingSet64 - before) / 1048576.0;
        Assert.True(grownMb < 200, $"working set grew by {grownMb:0} MB");
    }

    [Fact]
    public void Byte_and_pixel_limits_are_configurable()
    {
        using var labeler = TestData.CreateLabeler(new ImageOptions { MaxBytes = 150_000, MaxPixels = 300_000 }, TestData.CreateDetector());

        // dog.jpg: 163,759 bytes.
        var tooManyBytes = Assert.Throws<ImageRejectedException>(() => labeler.Label(TestData.ImageBytes("dog.jpg"), new()));
        Assert.Equal(ImageError.ImageTooLarge, tooManyBytes.Error);
        Assert.Contains("150,000-byte limit", tooManyBytes.Message, StringComparison.Ordinal);

        // eagle.jpg: 141,886 bytes but 773 x 512 = 395,776 pixels.
        var tooManyPixels = Assert.Throws<ImageRejectedException>(() => labeler.Label(TestData.ImageBytes("eagle.jpg"), new()));
        Assert.Equal(ImageError.ImageTooLarge, tooManyPixels.Error);
        Assert.Contains("300,000-pixel limit", tooManyPixels.Message, StringComparison.Ordinal);

        // person.jpg: 113,880 bytes, 640 x 424 = 271,360 pixels: within both.
        Assert.Contains("Person", labeler.Label(TestData.ImageBytes("person.jpg"), new()).Names());
    }

    [Fact]
    public void The_detector_keeps_working_after_bad_inputs()
    {
        foreach (var bad in new[] { Array.Empty<byte>(), "nope"u8.ToArray(), PngDeclaring(50_000, 50_000) })
        {
            Assert.Throws<ImageRejectedException>(() => fixture.Label(bad));
        }

        Assert.Contains("Bird", fixture.Label(TestData.ImageBytes("eagle.jpg")).Names());
    }

    /// <summary>A well-formed PNG header for a huge 8-bit grey canvas, with one compressed row of data.</summary>
    private static byte[] PngDeclaring(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 0; // greyscale
        WriteChunk(png, "IHDR", header);
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(new byte[width + 1]);
        }

        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        stream.Write(typeAndData);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, System.IO.Hashing.Crc32.HashToUInt32(typeAndData));
        stream.Write(crc);
    }
}
