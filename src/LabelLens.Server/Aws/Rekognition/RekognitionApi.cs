using System.Text.Json;
using System.Text.Json.Serialization;
using LabelLens.Detection;
using LabelLens.Labels;
using LabelLens.Server.Aws.S3;
using LabelLens.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server.Aws.Rekognition;

/// <summary>DetectLabels' answer, exactly the service's shape (PascalCase members; absent members left out).</summary>
public sealed record DetectLabelsResponse(
    IReadOnlyList<Label> Labels,
    string LabelModelVersion,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ImageProperties? ImageProperties);

/// <summary>
/// Amazon Rekognition's DetectLabels on the AWS JSON 1.1 protocol, at POST / of the API listener, so code written
/// for Rekognition (the AWS CLI, boto3, the AWS SDK for .NET) works by changing only its endpoint URL. Labels are
/// computed here by the local model, synchronously, as the service does. Requests are SigV4-signed for service
/// "rekognition" with the S3 endpoint's keys; verification is on whenever keys are configured.
/// </summary>
public sealed partial class RekognitionApi : IDisposable
{
    public const string DetectLabelsTarget = "RekognitionService.DetectLabels";

    private static readonly JsonSerializerOptions ResponseJson = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private static readonly string[] FeatureNames = ["GENERAL_LABELS", "IMAGE_PROPERTIES"];

    private readonly LabelerHolder _holder;
    private readonly IObjectStore _store;
    private readonly ICatalog _catalog;
    private readonly RekognitionOptions _options;
    private readonly LabelLens.Vision.Ocr.TextOptions _textOptions;
    private readonly S3SigV4 _signatures;
    private readonly ILogger<RekognitionApi> _logger;
    private readonly IReadOnlyList<string> _apiKeys;
    private readonly SemaphoreSlim _slots;
    private readonly int _maxInFlight;
    private int _inFlight;

    public RekognitionApi(
        LabelerHolder holder,
        IObjectStore store,
        ICatalog catalog,
        IOptions<RekognitionOptions> options,
        IOptions<ServerOptions> serverOptions,
        IOptions<LabelLens.Vision.Ocr.TextOptions> textOptions,
        TimeProvider time,
        ILogger<RekognitionApi> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(textOptions);
        _textOptions = textOptions.Value;
        ArgumentNullException.ThrowIfNull(serverOptions);
        _holder = holder;
        _store = store;
        _catalog = catalog;
        _options = options.Value;
        _signatures = new S3SigV4(S3Setup.Secrets(serverOptions.Value), allowAnonymous: false, time);
        _logger = logger;
        _apiKeys = serverOptions.Value.ApiKeys;
        var concurrent = _options.MaxConcurrent > 0 ? _options.MaxConcurrent : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(concurrent, concurrent);
        _maxInFlight = concurrent + _options.MaxQueued;
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>Whether requests must be signed (keys are configured).</summary>
    public bool VerifiesSignatures => _signatures.HasCredentials;

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var requestId = Guid.NewGuid().ToString();
        context.Response.Headers["x-amzn-RequestId"] = requestId;
        try
        {
            var target = context.Request.Headers["X-Amz-Target"].ToString();
            if (target.Length == 0)
            {
                throw new RekognitionException("UnknownOperationException", 400, "POST / needs an X-Amz-Target header (AWS JSON 1.1 protocol), e.g. RekognitionService.DetectLabels.");
            }

            var body = await ReadBodyAsync(context.Request, context.RequestAborted);
            if (AwsJsonProtocol.Authenticate(_signatures, _apiKeys, context, "rekognition", body) is { } refused)
            {
                throw new RekognitionException(refused.Type, StatusCodes.Status400BadRequest, refused.Message);
            }

            if (!Operations.Contains(target, StringComparer.Ordinal))
            {
                throw new RekognitionException("UnknownOperationException", 400, $"Operation '{Printable(target)}' is not supported here; LabelLens implements {string.Join(", ", Operations)}.");
            }

            var contentType = context.Request.ContentType ?? "";
            if (!contentType.StartsWith("application/x-amz-json-1.1", StringComparison.OrdinalIgnoreCase)
                && !contentType.StartsWith("application/x-amz-json-1.0", StringComparison.OrdinalIgnoreCase)
                && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            {
                throw new RekognitionException("SerializationException", 400, "Content-Type must be application/x-amz-json-1.1.");
            }

            object response;
            using (var document = ParseJson(body))
            {
                var root = document.RootElement;
                var ct = context.RequestAborted;
                response = target switch
                {
                    DetectTextTarget => await DetectTextAsync(root, ct),
                    DetectFacesTarget => await DetectFacesAsync(root, ct),
                    StartLabelDetectionTarget => await StartVideoJobAsync(root, LabelsJob, ct),
                    StartTextDetectionTarget => await StartVideoJobAsync(root, TextJob, ct),
                    StartFaceDetectionTarget => await StartVideoJobAsync(root, FacesJob, ct),
                    GetFaceDetectionTarget => await GetFaceDetectionAsync(root, ct),
                    StartSegmentDetectionTarget => await StartSegmentDetectionAsync(root, ct),
                    GetSegmentDetectionTarget => await GetSegmentDetectionAsync(root, ct),
                    GetLabelDetectionTarget => await GetLabelDetectionAsync(root, ct),
                    GetTextDetectionTarget => await GetTextDetectionAsync(root, ct),
                    _ => await DetectLabelsAsync(root, ct),
                };
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/x-amz-json-1.1";
            await JsonSerializer.SerializeAsync(context.Response.Body, response, response.GetType(), ResponseJson, context.RequestAborted);
        }
        catch (RekognitionException ex)
        {
            _logger.LogInformation("{Operation} {RequestId} refused: {Type} {Message}", OperationName(context), requestId, ex.Type, ex.Message);
            await WriteErrorAsync(context, ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            _logger.LogError(ex, "{Operation} {RequestId} failed", OperationName(context), requestId);
            await WriteErrorAsync(context, new RekognitionException());
        }
    }

    private async Task<DetectLabelsResponse> DetectLabelsAsync(JsonElement root, CancellationToken cancellationToken)
    {
        var (image, request) = Parse(root);
        var result = await RunAsync(image, () => _holder.Labeler, (labeler, bytes, ct) => labeler.Label(bytes, request, ct), cancellationToken);
        return new DetectLabelsResponse(result.Labels, result.LabelModelVersion, result.ImageProperties);
    }

    /// <summary>
    /// Runs a model on the request's image (its bytes, or an object of a LabelLens bucket), as the service does:
    /// synchronously, off the request thread, one slot per core, a bounded queue, image errors as Rekognition's.
    /// </summary>
    private async Task<T> RunAsync<T>(ImageSource image, Func<Task<ImageLabeler>> labelerSource, Func<ImageLabeler, byte[], CancellationToken, T> work, CancellationToken cancellationToken)
    {
        var bytes = image.Bytes ?? await ReadS3ObjectAsync(image, cancellationToken);
        if (Interlocked.Increment(ref _inFlight) > _maxInFlight)
        {
            Interlocked.Decrement(ref _inFlight);
            throw RekognitionException.Throttling("Rate exceeded: every labeling slot and queue place is taken. Retry with backoff.");
        }

        try
        {
            if (!_holder.IsReady)
            {
                throw _holder.LoadError is { } error
                    ? new RekognitionException("InternalServerError", 500, $"No model is loaded: {error}")
                    : RekognitionException.Throttling("The model is still loading. Retry shortly.");
            }

            ImageLabeler labeler;
            try
            {
                labeler = await labelerSource();
            }
            catch (LabelLens.Models.ModelMissingException ex)
            {
                // The text model is loaded on first use; say what is missing rather than "service issue".
                throw new RekognitionException("InternalServerError", 500, $"The model for this operation is not available: {ex.Message}");
            }

            await _slots.WaitAsync(cancellationToken);
            try
            {
                // The model is CPU-bound work: off the request thread, one slot per core.
                return await Task.Run(() => work(labeler, bytes, cancellationToken), cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (ImageRejectedException ex)
        {
            throw ex.Error == ImageError.ImageTooLarge
                ? RekognitionException.ImageTooLarge($"Image size is too large: {ex.Message}.")
                : RekognitionException.InvalidImageFormat($"Request has invalid image format: {ex.Message}.");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task<byte[]> ReadS3ObjectAsync(ImageSource image, CancellationToken cancellationToken)
    {
        var (bucket, key) = (image.Bucket!, image.Key!);
        const string Unreadable = "Unable to get object metadata from S3. Check object key, region and/or access permissions.";
        if (image.Version is { Length: > 0 } version && !string.Equals(version, "null", StringComparison.Ordinal))
        {
            throw RekognitionException.InvalidS3Object($"{Unreadable} (LabelLens buckets are not versioned; version '{Printable(version)}' does not exist.)");
        }

        Stream? stream;
        try
        {
            ObjectNames.ValidateBucket(bucket);
            ObjectNames.ValidateKey(key);
            stream = await _store.OpenReadAsync(bucket, key, cancellationToken);
        }
        catch (StorageException ex)
        {
            throw RekognitionException.InvalidS3Object($"{Unreadable} ({ex.Message})");
        }

        if (stream is null)
        {
            throw RekognitionException.InvalidS3Object($"{Unreadable} (no object '{Printable(key)}' in bucket '{Printable(bucket)}'.)");
        }

        await using (stream)
        {
            if (stream.Length > _options.MaxS3ObjectBytes)
            {
                throw RekognitionException.ImageTooLarge($"Image size is too large: the S3 object is {stream.Length:N0} bytes, over the {_options.MaxS3ObjectBytes:N0}-byte limit.");
            }

            var bytes = new byte[stream.Length];
            await stream.ReadExactlyAsync(bytes, cancellationToken);
            return bytes;
        }
    }

    private async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // Base64 grows the image by a third; the rest of a request is small.
        var limit = (_options.MaxImageBytes / 3 * 4) + (1 << 20);
        return await AwsJsonProtocol.ReadBodyAsync(request, limit, cancellationToken)
            ?? throw RekognitionException.ImageTooLarge($"Image size is too large: the request is over {limit:N0} bytes, more than the base64 of an image at the {_options.MaxImageBytes:N0}-byte limit needs.");
    }

    private static JsonDocument ParseJson(byte[] body)
    {
        // JsonDocument checks a string's UTF-8 only when it is read, as an InvalidOperationException (a 500 that
        // SDKs retry): a body that is not UTF-8 is refused whole, as Rekognition does.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            throw new RekognitionException("SerializationException", 400, "The request body is not valid UTF-8.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new RekognitionException("SerializationException", 400, $"The request body is not valid JSON: {ex.Message}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new RekognitionException("SerializationException", 400, "The request body must be a JSON object.");
        }

        return document;
    }

    private (ImageSource Image, LabelRequest Request) Parse(JsonElement root)
    {
        var image = ParseImage(root);
        var features = root.TryGetProperty("Features", out var list) && list.ValueKind != JsonValueKind.Null ? StringList(list, "Features") : [];
        foreach (var feature in features.Where(f => !FeatureNames.Contains(f, StringComparer.Ordinal)))
        {
            throw RekognitionException.InvalidParameter($"Features: '{Printable(feature)}' is not one of GENERAL_LABELS, IMAGE_PROPERTIES.");
        }

        var general = Member(root, "Settings") is { } settings ? Member(settings, "GeneralLabels") : null;
        var propertiesSettings = Member(root, "Settings") is { } s ? Member(s, "ImageProperties") : null;
        var maxColors = propertiesSettings is { } p && Member(p, "MaxDominantColors") is { } m ? Integer(m, "Settings.ImageProperties.MaxDominantColors") : LabelLens.Properties.ImagePropertiesAnalyzer.DefaultMaxDominantColors;
        if (maxColors is < 0 or > LabelLens.Properties.ImagePropertiesAnalyzer.MaxDominantColorsLimit)
        {
            throw RekognitionException.InvalidParameter($"Settings.ImageProperties.MaxDominantColors must be between 0 and {LabelLens.Properties.ImagePropertiesAnalyzer.MaxDominantColorsLimit}.");
        }

        var maxLabels = Member(root, "MaxLabels") is { } max ? Integer(max, "MaxLabels") : (int?)null;
        if (maxLabels is < 0)
        {
            throw RekognitionException.InvalidParameter("MaxLabels must be 0 or more.");
        }

        var minConfidence = Member(root, "MinConfidence") is { } min ? Number(min, "MinConfidence") : LabelRequest.DefaultMinConfidence;
        if (double.IsNaN(minConfidence) || minConfidence is < 0 or > 100)
        {
            throw RekognitionException.InvalidParameter("MinConfidence must be between 0 and 100.");
        }

        var request = new LabelRequest
        {
            MinConfidence = minConfidence,
            // Rekognition's default and upper limit is 1000 labels.
            MaxLabels = Math.Min(maxLabels ?? 1000, 1000),
            GeneralLabels = features.Count == 0 || features.Contains("GENERAL_LABELS"),
            ImageProperties = features.Contains("IMAGE_PROPERTIES"),
            MaxDominantColors = maxColors,
            LabelInclusionFilters = Filters(general, "LabelInclusionFilters"),
            LabelExclusionFilters = Filters(general, "LabelExclusionFilters"),
            LabelCategoryInclusionFilters = Filters(general, "LabelCategoryInclusionFilters"),
            LabelCategoryExclusionFilters = Filters(general, "LabelCategoryExclusionFilters"),
        };
        try
        {
            request.Validate();
        }
        catch (ArgumentException ex)
        {
            throw RekognitionException.InvalidParameter(ex.Message);
        }

        return (image, request);
    }

    private ImageSource ParseImage(JsonElement root)
    {
        if (Member(root, "Image") is not { ValueKind: JsonValueKind.Object } image)
        {
            throw RekognitionException.InvalidParameter("Image is required: give Image.Bytes (base64) or Image.S3Object.");
        }

        var bytes = Member(image, "Bytes");
        var s3 = Member(image, "S3Object");
        if ((bytes is null) == (s3 is null))
        {
            throw RekognitionException.InvalidParameter("Image needs exactly one of Bytes and S3Object.");
        }

        if (bytes is { } encoded)
        {
            if (encoded.ValueKind != JsonValueKind.String)
            {
                throw RekognitionException.InvalidParameter("Image.Bytes must be a base64 string.");
            }

            var text = encoded.GetString()!;
            var decoded = new byte[text.Length / 4 * 3 + 3];
            if (!Convert.TryFromBase64String(text, decoded, out var length))
            {
                throw RekognitionException.InvalidParameter("Image.Bytes is not valid base64.");
            }

            if (length == 0)
            {
                throw RekognitionException.InvalidParameter("Image.Bytes is empty.");
            }

            if (length > _options.MaxImageBytes)
            {
                throw RekognitionException.ImageTooLarge($"Image size is too large: {length:N0} bytes is over the {_options.MaxImageBytes:N0}-byte limit for Image.Bytes.");
            }

            return new ImageSource(decoded.AsSpan(0, length).ToArray(), null, null, null);
        }

        var s3Object = s3!.Value;
        if (s3Object.ValueKind != JsonValueKind.Object
            || Member(s3Object, "Bucket") is not { ValueKind: JsonValueKind.String } bucket
            || Member(s3Object, "Name") is not { ValueKind: JsonValueKind.String } name)
        {
            throw RekognitionException.InvalidParameter("Image.S3Object needs Bucket and Name strings.");
        }

        var version = Member(s3Object, "Version") is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;
        return new ImageSource(null, bucket.GetString(), name.GetString(), version);
    }

    private static JsonElement? Member(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static int Integer(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value)
            ? value
            : throw RekognitionException.InvalidParameter($"{name} must be a whole number.");

    private static double Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number ? element.GetDouble() : throw RekognitionException.InvalidParameter($"{name} must be a number.");

    private static List<string> StringList(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw RekognitionException.InvalidParameter($"{name} must be a list of strings.");
        }

        return element.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw RekognitionException.InvalidParameter($"{name} must be a list of strings.")).ToList();
    }

    private static List<string> Filters(JsonElement? general, string name) =>
        general is { } settings && Member(settings, name) is { } list ? StringList(list, $"Settings.GeneralLabels.{name}") : [];

    private static string Printable(string value) => ObjectNames.Printable(value.Length > 200 ? value[..200] : value);

    private static async Task WriteErrorAsync(HttpContext context, RekognitionException error)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/x-amz-json-1.1";
        context.Response.Headers["x-amzn-ErrorType"] = error.Type;
        await JsonSerializer.SerializeAsync(context.Response.Body, new Dictionary<string, string> { ["__type"] = error.Type, ["Message"] = error.Message }, cancellationToken: CancellationToken.None);
    }

    private sealed record ImageSource(byte[]? Bytes, string? Bucket, string? Key, string? Version);
}

public static class RekognitionSetup
{
    public static void AddRekognition(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RekognitionOptions>().Bind(configuration.GetSection(RekognitionOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<RekognitionApi>();
    }

    /// <summary>
    /// POST / with X-Amz-Target, as the AWS JSON protocol addresses a service: every target other services mapped
    /// before (DynamoDB's) did not take, so an unknown one gets Rekognition's UnknownOperationException.
    /// </summary>
    public static void MapRekognition(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (!app.Services.GetRequiredService<IOptions<RekognitionOptions>>().Value.Enabled)
        {
            return;
        }

        app.MapAwsJson(_ => true, app.Services.GetRequiredService<RekognitionApi>().HandleAsync);
    }
}
