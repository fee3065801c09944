using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.S3.Model;

namespace LabelLens.Tests;

/// <summary>
/// Rekognition's DetectLabels on the AWS JSON 1.1 protocol (POST / on the API port), signed with SigV4 for
/// service "rekognition" with the S3 endpoint's keys, over real HTTP against a real in-process `serve`:
/// request members, filters, limits, and every error with the service's __type and status code.
/// </summary>
public sealed class RekognitionApiTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private static readonly string DogBase64 = Convert.ToBase64String(TestData.ImageBytes("dog.jpg"));

    private async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> CallAsync(
        string json,
        string target = "RekognitionService.DetectLabels",
        string contentType = "application/x-amz-json-1.1",
        string secretKey = S3ServerFixture.SecretKey,
        string accessKey = S3ServerFixture.AccessKey,
        bool sign = true,
        byte[]? rawBody = null)
    {
        var body = rawBody ?? Encoding.UTF8.GetBytes(json);
        var headers = new Dictionary<string, string> { ["content-type"] = contentType };
        if (target.Length > 0)
        {
            headers["x-amz-target"] = target;
        }

        using var request = sign
            ? S3TestSigner.Request(fixture.Server.Client.BaseAddress!, HttpMethod.Post, "/", body, accessKey, secretKey, headers: headers, service: "rekognition")
            : new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Server.Client.BaseAddress!, "/")) { Content = new ByteArrayContent(body) };
        if (!sign)
        {
            request.Content!.Headers.TryAddWithoutValidation("Content-Type", contentType);
            request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        }

        var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject(), response);
    }

    private async Task AssertErrorAsync(string json, HttpStatusCode status, string type, string? messagePart = null, string secretKey = S3ServerFixture.SecretKey, bool sign = true, string target = "RekognitionService.DetectLabels", string contentType = "application/x-amz-json-1.1")
    {
        var (actual, body, response) = await CallAsync(json, target, contentType, secretKey, sign: sign);
        using (response)
        {
            Assert.True(actual == status, $"{(int)actual} {body}");
            Assert.Equal(type, body["__type"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(body["Message"]!.GetValue<string>()));
            Assert.Equal(type, response.Headers.GetValues("x-amzn-ErrorType").Single());
            Assert.NotEmpty(response.Headers.GetValues("x-amzn-RequestId").Single());
            if (messagePart is not null)
            {
                Assert.Contains(messagePart, body["Message"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    private static string Detect(object request) => JsonSerializer.Serialize(request);

    [Fact]
    public async Task Image_bytes_give_labels_in_the_service_shape()
    {
        var (status, body, response) = await CallAsync(Detect(new { Image = new { Bytes = DogBase64 } }));
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("application/x-amz-json-1.1", response.Content.Headers.ContentType!.MediaType);
            Assert.True(Guid.TryParse(response.Headers.GetValues("x-amzn-RequestId").Single(), out _));
        }

        // Exactly the service's members: no LabelLens extras (image facts, timings) in this API.
        Assert.Equal(["Labels", "LabelModelVersion"], body.Select(p => p.Key).ToArray());
        Assert.StartsWith("yolox-nano:", body["LabelModelVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        var labels = body["Labels"]!.AsArray();
        var dog = labels.Single(l => l!["Name"]!.GetValue<string>() == "Dog")!.AsObject();
        Assert.Equal(["Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"], dog.Select(p => p.Key).ToArray());
        Assert.InRange(dog["Confidence"]!.GetValue<double>(), 55, 100);
        var instance = Assert.Single(dog["Instances"]!.AsArray())!.AsObject();
        Assert.Equal(["BoundingBox", "Confidence"], instance.Select(p => p.Key).ToArray());
        Assert.Equal(["Width", "Height", "Left", "Top"], instance["BoundingBox"]!.AsObject().Select(p => p.Key).ToArray());
        Assert.Equal(["Canine", "Pet", "Mammal", "Animal"], dog["Parents"]!.AsArray().Select(p => p!["Name"]!.GetValue<string>()).ToArray());
        Assert.Equal("Animals and Pets", dog["Categories"]![0]!["Name"]!.GetValue<string>());
        // Parents are labels too, without instances, as Rekognition returns them.
        Assert.Empty(labels.Single(l => l!["Name"]!.GetValue<string>() == "Animal")!["Instances"]!.AsArray());
        Assert.All(labels, l => Assert.True(l!["Confidence"]!.GetValue<double>() >= 55));
    }

    [Fact]
    public async Task S3Object_reads_a_labellens_bucket_and_a_missing_object_is_InvalidS3Object()
    {
        await fixture.S3.PutBucketAsync("rekognition-source");
        await fixture.S3.PutObjectAsync(new PutObjectRequest { BucketName = "rekognition-source", Key = "wild/eagle 1.jpg", FilePath = TestData.Image("eagle.jpg") });
        var (status, body, response) = await CallAsync(Detect(new { Image = new { S3Object = new { Bucket = "rekognition-source", Name = "wild/eagle 1.jpg" } }, MaxLabels = 10, MinConfidence = 70 }));
        response.Dispose();
        Assert.Equal(HttpStatusCode.OK, status);
        var names = body["Labels"]!.AsArray().Select(l => l!["Name"]!.GetValue<string>()).ToList();
        Assert.Contains("Bird", names);

        await AssertErrorAsync(Detect(new { Image = new { S3Object = new { Bucket = "rekognition-source", Name = "wild/missing.jpg" } } }), HttpStatusCode.BadRequest, "InvalidS3ObjectException", "Unable to get object");
        await AssertErrorAsync(Detect(new { Image = new { S3Object = new { Bucket = "no-such-bucket", Name = "x.jpg" } } }), HttpStatusCode.BadRequest, "InvalidS3ObjectException");
        await AssertErrorAsync(Detect(new { Image = new { S3Object = new { Bucket = "rekognition-source", Name = "../../catalog.db" } } }), HttpStatusCode.BadRequest, "InvalidS3ObjectException");
        await AssertErrorAsync(Detect(new { Image = new { S3Object = new { Bucket = "rekognition-source", Name = "wild/eagle 1.jpg", Version = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" } } }), HttpStatusCode.BadRequest, "InvalidS3ObjectException", "version");
    }

    [Fact]
    public async Task Features_select_labels_and_image_properties()
    {
        var (_, both, r1) = await CallAsync(Detect(new
        {
            Image = new { Bytes = DogBase64 },
            Features = new[] { "GENERAL_LABELS", "IMAGE_PROPERTIES" },
            Settings = new { ImageProperties = new { MaxDominantColors = 4 } },
        }));
        r1.Dispose();
        var properties = both["ImageProperties"]!.AsObject();
        Assert.Equal(["Quality", "DominantColors", "Foreground", "Background"], properties.Select(p => p.Key).ToArray());
        Assert.Equal(["Brightness", "Sharpness", "Contrast"], properties["Quality"]!.AsObject().Select(p => p.Key).ToArray());
        var colours = properties["DominantColors"]!.AsArray();
        Assert.InRange(colours.Count, 1, 4);
        Assert.Equal(["Red", "Blue", "Green", "HexCode", "CSSColor", "SimplifiedColor", "PixelPercent"], colours[0]!.AsObject().Select(p => p.Key).ToArray());
        Assert.Equal(["Brightness", "Sharpness"], properties["Foreground"]!["Quality"]!.AsObject().Select(p => p.Key).ToArray());
        var dogInstance = both["Labels"]!.AsArray().Single(l => l!["Name"]!.GetValue<string>() == "Dog")!["Instances"]![0]!.AsObject();
        Assert.InRange(dogInstance["DominantColors"]!.AsArray().Count, 1, 4);

        var (_, onlyProperties, r2) = await CallAsync(Detect(new { Image = new { Bytes = DogBase64 }, Features = new[] { "IMAGE_PROPERTIES" } }));
        r2.Dispose();
        Assert.Empty(onlyProperties["Labels"]!.AsArray());
        Assert.Equal(10, onlyProperties["ImageProperties"]!["DominantColors"]!.AsArray().Count);

        var (_, onlyLabels, r3) = await CallAsync(Detect(new { Image = new { Bytes = DogBase64 }, Features = new[] { "GENERAL_LABELS" } }));
        r3.Dispose();
        Assert.Null(onlyLabels["ImageProperties"]);
        Assert.NotEmpty(onlyLabels["Labels"]!.AsArray());
    }

    [Fact]
    public async Task Every_filter_and_the_MaxLabels_and_MinConfidence_edges()
    {
        async Task<List<string>> Names(object request)
        {
            var (status, body, response) = await CallAsync(Detect(request));
            response.Dispose();
            Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
            return body["Labels"]!.AsArray().Select(l => l!["Name"]!.GetValue<string>()).ToList();
        }

        object General(object settings, int? maxLabels = null) => maxLabels is { } m
            ? new { Image = new { Bytes = DogBase64 }, Settings = new { GeneralLabels = settings }, MaxLabels = m }
            : new { Image = new { Bytes = DogBase64 }, Settings = new { GeneralLabels = settings } };

        Assert.Equal(["Dog"], await Names(General(new { LabelInclusionFilters = new[] { "Dog" } })));
        var animals = await Names(General(new { LabelCategoryInclusionFilters = new[] { "Animals and Pets" } }));
        Assert.Contains("Dog", animals);
        Assert.DoesNotContain("Bicycle", animals);
        var noDog = await Names(General(new { LabelExclusionFilters = new[] { "Dog" } }));
        Assert.DoesNotContain("Dog", noDog);
        Assert.Contains("Bicycle", noDog);
        var noVehicles = await Names(General(new { LabelCategoryExclusionFilters = new[] { "Vehicles and Automotive" } }));
        Assert.DoesNotContain("Bicycle", noVehicles);
        Assert.Contains("Dog", noVehicles);
        Assert.Equal(["Dog"], await Names(General(new { LabelCategoryInclusionFilters = new[] { "Animals and Pets" } }, maxLabels: 1)));

        // MaxLabels 0 returns none; MinConfidence 100 returns none; MinConfidence 0 returns more than the default 55.
        Assert.Empty(await Names(new { Image = new { Bytes = DogBase64 }, MaxLabels = 0 }));
        Assert.Empty(await Names(new { Image = new { Bytes = DogBase64 }, MinConfidence = 100 }));
        var all = await Names(new { Image = new { Bytes = DogBase64 }, MinConfidence = 0 });
        var byDefault = await Names(new { Image = new { Bytes = DogBase64 } });
        Assert.True(all.Count > byDefault.Count, $"{all.Count} at 0 vs {byDefault.Count} at 55");
        Assert.Equal(byDefault.Take(2), await Names(new { Image = new { Bytes = DogBase64 }, MaxLabels = 2 }));
    }

    [Fact]
    public async Task Bad_requests_get_the_service_errors()
    {
        var notAnImage = Convert.ToBase64String(Encoding.UTF8.GetBytes("this is a text file, not a photo"));
        await AssertErrorAsync(Detect(new { Image = new { Bytes = notAnImage } }), HttpStatusCode.BadRequest, "InvalidImageFormatException", "invalid image format");
        var truncated = Convert.ToBase64String(TestData.ImageBytes("dog.jpg").AsSpan(0, 20_000).ToArray());
        await AssertErrorAsync(Detect(new { Image = new { Bytes = truncated } }), HttpStatusCode.BadRequest, "InvalidImageFormatException");
        await AssertErrorAsync("""{"Image": {"Bytes": "!!not base64!!"}}""", HttpStatusCode.BadRequest, "InvalidParameterException", "base64");
        await AssertErrorAsync("""{"Image": {}}""", HttpStatusCode.BadRequest, "InvalidParameterException");
        await AssertErrorAsync("""{"MaxLabels": 5}""", HttpStatusCode.BadRequest, "InvalidParameterException", "Image");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 }, MinConfidence = 101 }), HttpStatusCode.BadRequest, "InvalidParameterException", "MinConfidence");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 }, MaxLabels = -1 }), HttpStatusCode.BadRequest, "InvalidParameterException", "MaxLabels");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 }, Features = new[] { "FACES" } }), HttpStatusCode.BadRequest, "InvalidParameterException", "FACES");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 }, Features = new[] { "IMAGE_PROPERTIES" }, Settings = new { ImageProperties = new { MaxDominantColors = 21 } } }), HttpStatusCode.BadRequest, "InvalidParameterException", "MaxDominantColors");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 }, Settings = new { GeneralLabels = new { LabelInclusionFilters = new[] { new string('x', 51) } } } }), HttpStatusCode.BadRequest, "InvalidParameterException", "50");
        await AssertErrorAsync("{not json", HttpStatusCode.BadRequest, "SerializationException");
        // A string that is not UTF-8: a clear 400 (a 500 would make SDKs retry it).
        var (invalidStatus, invalidBody, invalidResponse) = await CallAsync("", rawBody: [.. "{\"Image\":{\"S3Object\":{\"Bucket\":\"b"u8, 0xFF, 0xFE, .. "\",\"Name\":\"k\"}}}"u8]);
        invalidResponse.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, invalidStatus);
        Assert.Equal("SerializationException", invalidBody["__type"]!.GetValue<string>());
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 } }), HttpStatusCode.BadRequest, "UnknownOperationException", target: "RekognitionService.CompareFaces");
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 } }), HttpStatusCode.BadRequest, "SerializationException", contentType: "text/plain");

        // Signatures: wrong secret, unknown key, none at all.
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 } }), HttpStatusCode.BadRequest, "InvalidSignatureException", secretKey: "not-the-secret");
        var (status, body, response) = await CallAsync(Detect(new { Image = new { Bytes = DogBase64 } }), accessKey: "AKIDUNKNOWN0000000000");
        response.Dispose();
        Assert.Equal((HttpStatusCode.BadRequest, "UnrecognizedClientException"), (status, body["__type"]!.GetValue<string>()));
        await AssertErrorAsync(Detect(new { Image = new { Bytes = DogBase64 } }), HttpStatusCode.BadRequest, "AccessDeniedException", sign: false);

        // The server keeps serving after all of that.
        var (ok, _, last) = await CallAsync(Detect(new { Image = new { Bytes = DogBase64 } }));
        last.Dispose();
        Assert.Equal(HttpStatusCode.OK, ok);
    }

    [Fact]
    public async Task Images_over_the_limit_are_ImageTooLarge()
    {
        // 5 MB of decoded bytes is Rekognition's (and the default) limit for Image.Bytes.
        var big = Convert.ToBase64String(new byte[(5 * 1024 * 1024) + 1]);
        await AssertErrorAsync(Detect(new { Image = new { Bytes = big } }), HttpStatusCode.BadRequest, "ImageTooLargeException");
    }
}

/// <summary>Throttling: with one labeling slot and no queue, a burst gets ThrottlingException (HTTP 500) and the server stays up.</summary>
public sealed class RekognitionThrottlingTests : IAsyncLifetime
{
    private readonly ServerFixture _server = new(new Dictionary<string, string?>
    {
        ["Rekognition:MaxConcurrent"] = "1",
        ["Rekognition:MaxQueued"] = "0",
    });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task A_burst_over_the_slots_is_throttled_and_the_rest_succeed()
    {
        // No keys are configured on this server, so signatures are not checked (as API keys, verification is opt-in).
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { Image = new { Bytes = Convert.ToBase64String(TestData.ImageBytes("horses.jpg")) }, Features = new[] { "GENERAL_LABELS", "IMAGE_PROPERTIES" } }));
        const int Burst = 12;
        var sent = 0;
        var allSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<(HttpStatusCode, string)> Call(bool gated)
        {
            // A gated body stops one byte short until the whole burst is that far, so the server gets every
            // request at the same moment instead of one after another (a slow CI machine serialised them).
            using var content = new GatedContent(body, gated ? async () =>
            {
                if (Interlocked.Increment(ref sent) == Burst)
                {
                    allSent.SetResult();
                }

                await release.Task;
            } : null);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.1");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = content };
            request.Headers.Add("X-Amz-Target", "RekognitionService.DetectLabels");
            using var response = await _server.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, response.IsSuccessStatusCode ? "" : JsonNode.Parse(text)!["__type"]!.GetValue<string>());
        }

        // The model loaded and the path warm first: "still loading" is a throttle too, but not the one under test,
        // and the first requests of a process (JIT) were seen to trickle in one after another.
        await _server.WaitForReadyAsync();
        Assert.Equal(HttpStatusCode.OK, (await Call(gated: false)).Item1);
        var calls = Enumerable.Range(0, Burst).Select(_ => Task.Run(() => Call(gated: true))).ToList();
        await allSent.Task.WaitAsync(TimeSpan.FromSeconds(60));
        release.SetResult();
        var results = await Task.WhenAll(calls);
        Assert.Contains(results, r => r.Item1 == HttpStatusCode.OK);
        Assert.Contains(results, r => r == (HttpStatusCode.InternalServerError, "ThrottlingException"));
        Assert.All(results, r => Assert.True(r.Item1 == HttpStatusCode.OK || r.Item2 == "ThrottlingException", r.ToString()));
        Assert.Equal(HttpStatusCode.OK, (await Call(gated: false)).Item1);
    }

    /// <summary>A fixed-length body whose last byte waits for <c>beforeLastByte</c>.</summary>
    private sealed class GatedContent(byte[] bytes, Func<Task>? beforeLastByte) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length - 1));
            await stream.FlushAsync();
            if (beforeLastByte is not null)
            {
                await beforeLastByte();
            }

            await stream.WriteAsync(bytes.AsMemory(bytes.Length - 1));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}

/// <summary>
/// Server:ApiKeys without S3 credentials: POST / reads bucket objects and runs the model, so it needs an API key
/// as every /api call does; before, an unsigned request could label any stored object.
/// </summary>
public sealed class RekognitionApiKeyTests : IAsyncLifetime
{
    private const string Key = "rekognition-key";
    private readonly ServerFixture _server = new(new() { ["Server:ApiKeys:0"] = Key });

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonObject Body)> DetectAsync(string json, string? apiKey)
    {
        using var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.1");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = content };
        request.Headers.Add("X-Amz-Target", "RekognitionService.DetectLabels");
        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }

        using var response = await _server.Client.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task Without_S3_keys_the_api_keys_guard_DetectLabels_too()
    {
        using (var upload = new HttpRequestMessage(HttpMethod.Put, "/api/v1/buckets/private/objects/dog.jpg") { Content = new ByteArrayContent(TestData.ImageBytes("dog.jpg")) })
        {
            upload.Headers.Add("X-Api-Key", Key);
            using var uploaded = await _server.Client.SendAsync(upload);
            Assert.True(uploaded.IsSuccessStatusCode, uploaded.StatusCode.ToString());
        }

        var s3Object = JsonSerializer.Serialize(new { Image = new { S3Object = new { Bucket = "private", Name = "dog.jpg" } } });
        var bytes = JsonSerializer.Serialize(new { Image = new { Bytes = Convert.ToBase64String(TestData.ImageBytes("dog.jpg")) } });
        foreach (var json in new[] { s3Object, bytes })
        {
            var (status, body) = await DetectAsync(json, apiKey: null);
            Assert.Equal((HttpStatusCode.BadRequest, "AccessDeniedException"), (status, body["__type"]!.GetValue<string>()));
            (status, body) = await DetectAsync(json, apiKey: "wrong");
            Assert.Equal((HttpStatusCode.BadRequest, "AccessDeniedException"), (status, body["__type"]!.GetValue<string>()));
        }

        var (ok, labels) = await DetectAsync(s3Object, Key);
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Contains(labels["Labels"]!.AsArray(), l => l!["Name"]!.GetValue<string>() == "Dog");
    }
}
