using System.ComponentModel.DataAnnotations;

namespace LabelLens.Vision.Ocr;

/// <summary>How the text analysis (PP-OCRv4) reads a picture. Section "Text".</summary>
public sealed class TextOptions
{
    public const string Section = "Text";

    /// <summary>
    /// The detector's input: the picture is decoded to fit this many pixels on its longer side (rounded to a
    /// multiple of 32). Larger finds smaller type and costs more; bench/README.md has the measurements.
    /// </summary>
    [Range(320, 2560)]
    public int InputSize { get; set; } = 640;

    /// <summary>
    /// The picture the recogniser reads each line from: decoded to fit this (at least <see cref="InputSize"/>), so a
    /// small detector input still reads small type from sharp pixels. 0 reads from the detector's size.
    /// </summary>
    [Range(0, 4096)]
    public int ReadSize { get; set; } = 1280;

    /// <summary>Detector pixels above this probability are text (PaddleOCR's det_db_thresh).</summary>
    [Range(0.01, 0.99)]
    public double PixelThreshold { get; set; } = 0.3;

    /// <summary>A text region whose mean probability is below this is dropped (det_db_box_thresh).</summary>
    [Range(0.01, 0.99)]
    public double BoxThreshold { get; set; } = 0.6;

    /// <summary>How far a region's box grows past the detector's shrunk text core (det_db_unclip_ratio).</summary>
    [Range(0.5, 4.0)]
    public double UnclipRatio { get; set; } = 1.5;

    /// <summary>Lines read with less confidence (0-100) are dropped, with their words; what is stored and searched.</summary>
    [Range(0.0, 100.0)]
    public double MinConfidence { get; set; } = 80;

    /// <summary>Turn upside-down lines the right way up with the angle classifier (when its file is there).</summary>
    public bool AngleClassifier { get; set; } = true;

    /// <summary>
    /// Text workers of `serve`: they read the text of images whose labels are stored, beside the labeling workers
    /// (which never wait for text). One keeps text from taking more than its share of the cores.
    /// </summary>
    [Range(1, 64)]
    public int Workers { get; set; } = 1;

    /// <summary>At most this many lines per picture (the largest-scoring regions of a page of small print).</summary>
    [Range(1, 10_000)]
    public int MaxLines { get; set; } = 200;
}
