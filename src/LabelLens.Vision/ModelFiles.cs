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

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
