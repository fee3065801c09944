namespace LabelLens.Detection;

/// <summary>Why an input was refused. Names follow Rekognition's exception types so API errors can reuse them.</summary>
public enum ImageError
{
    /// <summary>Not an image, an unsupported format, or a corrupt/truncated file.</summary>
    InvalidImageFormat,

    /// <summary>Over the configured byte or pixel limit.</summary>
    ImageTooLarge,
}

/// <summary>Thrown when an input cannot be labeled because of the input itself (never for internal failures).</summary>
public sealed class ImageRejectedException : Exception
{
    public ImageRejectedException(ImageError error, string message, Exception? inner = null)
        : base(message, inner) => Error = error;

    public ImageRejectedException()
        : this(ImageError.InvalidImageFormat, "The image was rejected.")
    {
    }

    public ImageRejectedException(string message)
        : this(ImageError.InvalidImageFormat, message)
    {
    }

    public ImageRejectedException(string message, Exception inner)
        : this(ImageError.InvalidImageFormat, message, inner)
    {
    }

    public ImageError Error { get; }

    /// <summary>"InvalidImageFormat: not an image" — the form the CLI prints and the API will return.</summary>
    public override string ToString() => $"{Error}: {Message}";
}
