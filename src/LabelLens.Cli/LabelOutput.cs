using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Labels;

namespace LabelLens.Cli;

/// <summary>One labeled file as `label` prints it: the path, then the Rekognition-shaped fields.</summary>
public sealed record LabeledFile(
    [property: JsonPropertyName("path")] string Path,
    IReadOnlyList<Label> Labels,
    string LabelModelVersion,
    ImageInfo Image,
    StageTimings Timings)
{
    /// <summary>Quality and colours, with --features IMAGE_PROPERTIES.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImageProperties? ImageProperties { get; init; }

    /// <summary>The text read, as DetectText's TextDetections (LINE then WORD), with --features TEXT.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<LabelLens.Analysis.TextDetection>? TextDetections { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TextModelVersion { get; init; }
}

public enum OutputFormat
{
    Jsonl,
    Json,
    Csv,
}

/// <summary>Writes labeled files to stdout in the chosen format, one at a time as they complete.</summary>
public sealed class LabelOutput(TextWriter writer, OutputFormat format)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        // Paths and labels stay readable (unicode, '+', '&') rather than \u-escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = LabelOutputJsonContext.Default,
    };

    private int _written;

    public void Begin()
    {
        switch (format)
        {
            case OutputFormat.Json:
                writer.Write('[');
                break;
            case OutputFormat.Csv:
                writer.WriteLine("path,label,confidence,instances,parents,categories,width,height,format");
                break;
        }
    }

    public void Write(LabeledFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        switch (format)
        {
            case OutputFormat.Jsonl:
                writer.WriteLine(JsonSerializer.Serialize(file, JsonOptions));
                break;
            case OutputFormat.Json:
                writer.Write(_written == 0 ? "\n" : ",\n");
                writer.Write(JsonSerializer.Serialize(file, JsonOptions));
                break;
            case OutputFormat.Csv:
                WriteCsv(file);
                break;
        }

        _written++;
    }

    public void End()
    {
        if (format == OutputFormat.Json)
        {
            writer.WriteLine(_written == 0 ? "]" : "\n]");
        }

        writer.Flush();
    }

    private void WriteCsv(LabeledFile file)
    {
        var image = $"{file.Image.Width},{file.Image.Height},{file.Image.Format}";
        if (file.Labels.Count == 0)
        {
            // A file with no label still gets a row, so every input appears in the output.
            writer.WriteLine($"{Csv(file.Path)},,,0,,,{image}");
            return;
        }

        foreach (var label in file.Labels)
        {
            writer.WriteLine(string.Join(
                ',',
                Csv(file.Path),
                Csv(label.Name),
                label.Confidence.ToString("0.###"),
                label.Instances.Count,
                Csv(string.Join('|', label.Parents.Select(p => p.Name))),
                Csv(string.Join('|', label.Categories.Select(c => c.Name))),
                image));
        }
    }

    /// <summary>RFC 4180 quoting; a leading formula character is neutralised so spreadsheets do not execute it.</summary>
    internal static string Csv(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@')
        {
            value = "'" + value;
        }

        if (value.IndexOfAny([',', '"', '\n', '\r']) < 0)
        {
            return value;
        }

        var builder = new StringBuilder(value.Length + 2).Append('"');
        builder.Append(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        return builder.Append('"').ToString();
    }
}

[JsonSerializable(typeof(LabeledFile))]
internal sealed partial class LabelOutputJsonContext : JsonSerializerContext;
