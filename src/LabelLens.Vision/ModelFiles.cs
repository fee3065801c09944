using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;

namespace LabelLens.Vision;

/// <summary>What every ONNX analysis does with its model file: open one shared session, hash the file for provenance.</summary>
internal static class ModelFiles
{
    public static InferenceSession OpenSession(string path, int intraOpThreads)
    {
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            // UltraFace exports list their weights as graph inputs: ONNX Runtime warns once per weight at load, which is noise.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Spinning threads burn a core waiting for work that the other labeling worker needs.
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        try
        {
            return new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"{path} is not a loadable ONNX model: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The model alone on an all-zero input of <paramref name="shape"/> (benchmarks: the inference-only limit). The
    /// zeros are allocated once per shape and shared: ONNX Runtime only reads its inputs.
    /// </summary>
    public static void RunOnZeros(InferenceSession session, string[] inputNames, string[] outputNames, long[] shape)
    {
        var zeros = Zeros.GetOrAdd(shape.Aggregate(1L, (a, b) => a * b), n => new float[n]);
        using var input = OrtValue.CreateTensorValueFromMemory(zeros, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputNames, [input], outputNames);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<long, float[]> Zeros = new();

    /// <summary>
    /// The model's one image input, [1, 3, H, W]: its name and size (<paramref name="fallbackSize"/> where the export
    /// leaves a dimension dynamic); <paramref name="kind"/> names the model in the error ("a YOLOX export").
    /// </summary>
    public static (string Name, int Height, int Width) ImageInput(InferenceSession session, string path, string kind, int fallbackSize)
    {
        var input = session.InputMetadata.Single();
        var dimensions = input.Value.Dimensions;
        if (dimensions.Length != 4 || dimensions[1] != 3)
        {
            throw new InvalidDataException($"{path}: input '{input.Key}' has shape [{string.Join(", ", dimensions)}]; {kind} takes [1, 3, H, W].");
        }

        return (input.Key, dimensions[2] > 0 ? dimensions[2] : fallbackSize, dimensions[3] > 0 ? dimensions[3] : fallbackSize);
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
