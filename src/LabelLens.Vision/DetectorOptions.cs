using System.ComponentModel.DataAnnotations;

namespace LabelLens.Vision;

/// <summary>How the ONNX model runs. Section "Detector".</summary>
public sealed class DetectorOptions
{
    public const string Section = "Detector";

    /// <summary>
    /// Threads one inference may use. 1 is best for throughput: callers run one inference per core
    /// concurrently on the shared session, which beats one inference spread over all cores.
    /// Raise it only to cut single-image latency on an otherwise idle machine.
    /// </summary>
    [Range(1, 256)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Boxes of one class overlapping more than this (IoU) with a better one are dropped.</summary>
    [Range(0.0, 1.0)]
    public double NmsIou { get; set; } = 0.45;

    /// <summary>At most this many objects per image after NMS.</summary>
    [Range(1, 10_000)]
    public int MaxDetections { get; set; } = 300;
}
