using LabelLens.Labels;

namespace LabelLens.Analysis;

/// <summary>
/// A picture decoded once — a photo, or a video frame ffmpeg sampled — as 8-bit RGB rows at a working size
/// large enough for every configured analysis (<see cref="PictureNeeds"/>). Each analysis takes what it
/// needs from it (its own resize, crop, padding, normalisation); nothing decodes the file a second time.
/// </summary>
public sealed class Picture : IDisposable
{
    private readonly Action<byte[]>? _release;
    private byte[]? _buffer;

    /// <param name="pixels">rgb24, <paramref name="width"/> × <paramref name="height"/>; may be a longer (pooled) buffer.</param>
    /// <param name="sourceWidth">The original picture's width as displayed (EXIF orientation applied): boxes are reported against it.</param>
    /// <param name="release">Returns a pooled buffer when the picture is disposed; null when the buffer is the picture's own.</param>
    public Picture(byte[] pixels, int width, int height, int sourceWidth, int sourceHeight, Action<byte[]>? release = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceHeight);
        Image = new RgbImage(width, height, pixels);
        _buffer = pixels;
        _release = release;
        SourceWidth = sourceWidth;
        SourceHeight = sourceHeight;
    }

    /// <summary>The pixels at the working size.</summary>
    public RgbImage Image { get; }

    public int Width => Image.Width;

    public int Height => Image.Height;

    public int SourceWidth { get; }

    public int SourceHeight { get; }

    /// <summary>The tight rgb24 bytes (<see cref="Width"/> × <see cref="Height"/> × 3).</summary>
    public ReadOnlySpan<byte> Rgb => (_buffer ?? throw new ObjectDisposedException(nameof(Picture))).AsSpan(0, Width * Height * 3);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            _release?.Invoke(buffer);
        }
    }
}

/// <summary>
/// How large a picture an analysis wants before its own preprocessing: fitted inside a box (a detector's
/// letterbox) and/or with at least a given short side (a classifier's resize-then-crop). The decode
/// satisfies every configured analysis at once (a small original is enlarged, as each model's own
/// preprocessing would).
/// </summary>
public readonly record struct PictureNeeds(int FitWidth, int FitHeight, int MinShortSide)
{
    /// <summary>The smallest size that satisfies all <paramref name="needs"/> for a picture of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static (int Width, int Height) WorkingSize(int width, int height, IEnumerable<PictureNeeds> needs)
    {
        ArgumentNullException.ThrowIfNull(needs);
        var scale = 0.0;
        foreach (var need in needs)
        {
            if (need.FitWidth > 0 && need.FitHeight > 0)
            {
                scale = Math.Max(scale, Math.Min(need.FitWidth / (double)width, need.FitHeight / (double)height));
            }

            if (need.MinShortSide > 0)
            {
                scale = Math.Max(scale, need.MinShortSide / (double)Math.Min(width, height));
            }
        }

        if (scale <= 0)
        {
            return (width, height);
        }

        return (Math.Max(1, (int)Math.Round(width * scale)), Math.Max(1, (int)Math.Round(height * scale)));
    }
}
