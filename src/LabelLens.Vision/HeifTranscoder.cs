using System.Diagnostics;

namespace LabelLens.Vision;

/// <summary>
/// HEIC photos (iPhones) are HEVC-coded HEIF. The libvips that NetVips ships reads HEIF with AV1 (AVIF) but has
/// no HEVC decoder, for patent reasons. Debian's libheif does (libde265): its `heif-convert` (package
/// libheif-examples) turns such a photo into a PNG, which libvips then decodes as usual.
/// </summary>
internal static class HeifTranscoder
{
    public const string Tool = "/usr/bin/heif-convert";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The picture as PNG bytes, or null when the tool is missing or cannot read it.</summary>
    public static byte[]? ToPng(byte[] heif, out string? problem)
    {
        problem = null;
        if (!File.Exists(Tool))
        {
            problem = "HEVC-coded HEIF (HEIC) needs Debian's libheif-examples (heif-convert), which is not installed";
            return null;
        }

        var folder = Directory.CreateTempSubdirectory("labellens-heif-").FullName;
        try
        {
            var input = Path.Combine(folder, "in.heic");
            var output = Path.Combine(folder, "out.png");
            File.WriteAllBytes(input, heif);
            var start = new ProcessStartInfo(Tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(input);
            start.ArgumentList.Add(output);
            using var process = Process.Start(start)!;
            var errors = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                problem = "heif-convert took too long";
                return null;
            }

            if (process.ExitCode != 0 || !File.Exists(output))
            {
                problem = $"heif-convert could not read it ({errors.Result.Trim()})";
                return null;
            }

            return File.ReadAllBytes(output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
