using System.ComponentModel.DataAnnotations;

namespace LabelLens.Models;

/// <summary>Where models live and how they are fetched. Section "Models"; LABELLENS_MODELS sets the folder.</summary>
public sealed class ModelOptions
{
    public const string Section = "Models";

    /// <summary>One subfolder per model (<c>&lt;folder&gt;/yolox-nano/yolox_nano.onnx</c>).</summary>
    [Required]
    public string Folder { get; set; } = DefaultFolder;

    /// <summary>The model used when none is named.</summary>
    [Required]
    public string Default { get; set; } = ModelCatalog.DefaultModel;

    /// <summary>Fetch a catalog model on first use when it is missing.</summary>
    public bool AutoDownload { get; set; } = true;

    /// <summary>A mirror that serves the release files by file name; null uses the official release URLs.</summary>
    public Uri? MirrorUrl { get; set; }

    /// <summary>The per-user data folder: ~/.local/share/labellens/models on Linux.</summary>
    public static string DefaultFolder => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
        "labellens",
        "models");
}
