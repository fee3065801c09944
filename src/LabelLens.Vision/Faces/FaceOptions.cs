using System.ComponentModel.DataAnnotations;

namespace LabelLens.Vision.Faces;

/// <summary>How the face analysis decodes UltraFace's output. Section "Faces". The model is Analysis:Models:faces (ultraface-320 or ultraface-640).</summary>
public sealed class FaceOptions
{
    public const string Section = "Faces";

    /// <summary>Faces scoring below this (0-100) are dropped (UltraFace's reference demo keeps score &gt; 0.7).</summary>
    [Range(1.0, 100.0)]
    public double MinConfidence { get; set; } = 70;

    /// <summary>Face boxes overlapping a better one by more than this (IoU) are dropped (the reference demo's 0.3).</summary>
    [Range(0.0, 1.0)]
    public double NmsIou { get; set; } = 0.3;

    /// <summary>At most this many faces per picture (Rekognition's DetectFaces returns up to 100).</summary>
    [Range(1, 1000)]
    public int MaxFaces { get; set; } = 100;
}
