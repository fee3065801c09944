using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// The real command-line S3 clients Debian 12 ships (awscli 2.9, rclone 1.60, s3cmd 2.3), run as processes
/// against `labellens serve` as a real child process, exactly as a user would point them at it: only the
/// endpoint and the key pair differ from what they would use with AWS. Every upload path must end labeled in
/// the catalog, checked through the REST API. The clients are required: a missing one fails the test with the
/// package to install (.ci/run installs them); these tests never skip.
/// </summary>
public sealed class S3ClientTests(S3ClientServeFixture serve, ITestOutputHelper output) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    /// <summary>The photos beside the checkout, with a label each must get (the same ones the CLI tests see).</summary>
    private static readonly Dictionary<string, string?> Photos = new()
    {
        ["dog.jpg"] = "Dog",
        ["eagle.jpg"] = "Bird",
        ["giraffe.jpg"] = "Giraffe",
        ["horses.jpg"] = null,
        ["kite.jpg"] = null,
        ["person.jpg"] = null,
        ["scream.jpg"] = null,
    };

    /// <summary>20 MB: over the 8 MB multipart threshold configured for aws and s3cmd (3 parts), 4 parts for rclone at 5 MiB.</summary>
    private const int BigFileBytes = 20_000_000;

    private readonly string _work = Directory.CreateTempSubdirectory("labellens-s3cli-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Aws_cli_mb_cp_of_a_photo_labels_it_and_get_object_tagging_shows_label_Dog()
    {
        var aws = await AwsAsync();
        var bucket = NewBucket("aws-photo");

        var mb = await aws.RunAsync("s3", "mb", $"s3://{bucket}");
        Assert.Contains($"make_bucket: {bucket}", mb, StringComparison.Ordinal);
        var cp = await aws.RunAsync("s3", "cp", TestData.Image("dog.jpg"), $"s3://{bucket}/pets/dog.jpg", "--no-progress");
        // aws prints the local path relative to its working directory.
        var upload = Assert.Single(Lines(cp));
        Assert.StartsWith("upload: ", upload, StringComparison.Ordinal);
        Assert.EndsWith($"dog.jpg to s3://{bucket}/pets/dog.jpg", upload, StringComparison.Ordinal);

        var dog = await serve.WaitForLabeledAsync(bucket, "pets/dog.jpg");
        Assert.Contains("Dog", ServerFixture.LabelNames(dog));
        Assert.Equal("image/jpeg", dog.GetProperty("image").GetProperty("contentType").GetString());

        // The labels, as S3 tags: what `aws s3api get-object-tagging` shows a user.
        var tagging = JsonDocument.Parse(await aws.RunAsync("s3api", "get-object-tagging", "--bucket", bucket, "--key", "pets/dog.jpg", "--output", "json")).RootElement;
        var tags = tagging.GetProperty("TagSet").EnumerateArray().ToDictionary(t => t.GetProperty("Key").GetString()!, t => t.GetProperty("Value").GetString()!);
        Assert.True(tags.ContainsKey("label:Dog"), $"no label:Dog among the tags: {tagging}");
        var dogConfidence = double.Parse(tags["label:Dog"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(dogConfidence, 50, 100);
        Assert.Equal(ServerFixture.Label(dog, "Dog").GetProperty("confidence").GetDouble(), dogConfidence, 0.01);
        Assert.InRange(tags.Count, 1, 10);

        // A presigned GET from the same CLI is a plain URL any HTTP client can fetch.
        var url = (await aws.RunAsync("s3", "presign", $"s3://{bucket}/pets/dog.jpg", "--expires-in", "300")).Trim();
        using var http = new HttpClient();
        Assert.Equal(TestData.ImageBytes("dog.jpg"), await http.GetByteArrayAsync(new Uri(url)));
    }

    [Fact]
    public async Task Aws_cli_cp_recursive_with_a_multipart_file_then_ls_sync_and_rm()
    {
        var aws = await AwsAsync();
        var bucket = NewBucket("aws-folder");
        var folder = PhotoFolder("folder", out var big);
        await aws.RunAsync("s3", "mb", $"s3://{bucket}");

        var cp = await aws.RunAsync("s3", "cp", folder, $"s3://{bucket}/trip", "--recursive", "--no-progress");
        foreach (var photo in Photos.Keys)
        {
            Assert.Contains($"s3://{bucket}/trip/{photo}", cp, StringComparison.Ordinal);
        }

        Assert.Contains($"s3://{bucket}/trip/raw/big.bin", cp, StringComparison.Ordinal);

        // The 20 MB file went up in 8 MB parts: S3's multipart ETag, md5 of the parts' MD5s, "-3".
        var head = JsonDocument.Parse(await aws.RunAsync("s3api", "head-object", "--bucket", bucket, "--key", "trip/raw/big.bin", "--output", "json")).RootElement;
        Assert.Equal(MultipartETag(big, 8 * 1024 * 1024), head.GetProperty("ETag").GetString());
        Assert.Equal(BigFileBytes, head.GetProperty("ContentLength").GetInt64());

        await AssertUploadsLabeledAsync(bucket, "trip/");
        var back = Path.Combine(_work, "big.back");
        await aws.RunAsync("s3", "cp", $"s3://{bucket}/trip/raw/big.bin", back, "--no-progress");
        Assert.Equal(big, await File.ReadAllBytesAsync(back));

        // ls: buckets, one level with its common prefix, and everything with sizes.
        Assert.Contains(bucket, Lines(await aws.RunAsync("s3", "ls")).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]));
        var level = Lines(await aws.RunAsync("s3", "ls", $"s3://{bucket}/trip/"));
        Assert.Contains(level, l => l.Trim() == "PRE raw/");
        Assert.Contains(level, l => l.EndsWith($" {new FileInfo(TestData.Image("kite.jpg")).Length} kite.jpg", StringComparison.Ordinal));
        var all = Lines(await aws.RunAsync("s3", "ls", $"s3://{bucket}", "--recursive"));
        Assert.Equal(Photos.Count + 2, all.Count);
        Assert.Contains(all, l => l.EndsWith($" {BigFileBytes} trip/raw/big.bin", StringComparison.Ordinal));

        // sync: everything the first time, nothing the second, only what changed the third; --delete removes.
        var first = await aws.RunAsync("s3", "sync", folder, $"s3://{bucket}/synced", "--no-progress");
        Assert.Equal(Photos.Count + 2, Lines(first).Count(l => l.StartsWith("upload: ", StringComparison.Ordinal)));
        var second = await aws.RunAsync("s3", "sync", folder, $"s3://{bucket}/synced", "--no-progress");
        Assert.DoesNotContain("upload: ", second, StringComparison.Ordinal);
        File.Copy(TestData.Image("giraffe.jpg"), Path.Combine(folder, "zoo", "giraffe 2.jpg"));
        File.Delete(Path.Combine(folder, "person.jpg"));
        var third = await aws.RunAsync("s3", "sync", folder, $"s3://{bucket}/synced", "--delete", "--no-progress");
        var changes = Lines(third);
        Assert.Equal(2, changes.Count);
        Assert.Contains(changes, l => l.StartsWith("upload: ", StringComparison.Ordinal) && l.EndsWith($"giraffe 2.jpg to s3://{bucket}/synced/zoo/giraffe 2.jpg", StringComparison.Ordinal));
        Assert.Contains($"delete: s3://{bucket}/synced/person.jpg", changes);
        var synced = await AssertUploadsLabeledAsync(bucket, "synced/");
        Assert.Contains("Giraffe", ServerFixture.LabelNames(synced["synced/zoo/giraffe 2.jpg"]));
        Assert.False(synced.ContainsKey("synced/person.jpg"));
        await serve.AssertNoImageAsync(bucket, "synced/person.jpg");

        // rm: one object, then a prefix; the REST API and the catalog forget them.
        Assert.Contains($"delete: s3://{bucket}/trip/dog.jpg", await aws.RunAsync("s3", "rm", $"s3://{bucket}/trip/dog.jpg"), StringComparison.Ordinal);
        await serve.AssertNoImageAsync(bucket, "trip/dog.jpg");
        var rm = await aws.RunAsync("s3", "rm", $"s3://{bucket}/synced", "--recursive");
        Assert.Equal(Photos.Count + 2, Lines(rm).Count(l => l.StartsWith("delete: ", StringComparison.Ordinal)));
        Assert.Empty(await serve.ListObjectsAsync(bucket, "synced/"));
        await serve.AssertNoImageAsync(bucket, "synced/zoo/giraffe 2.jpg");
        Assert.Equal(Photos.Count + 1, (await serve.ListObjectsAsync(bucket, "trip/")).Count);
        // As against AWS, `aws s3 ls` of a prefix with nothing under it prints nothing and exits 1.
        Assert.Empty(Lines(await aws.RunAsync(1, "s3", "ls", $"s3://{bucket}/synced/", "--recursive")));
    }

    [Fact]
    public async Task Rclone_copy_of_a_folder_with_a_multipart_file_is_labeled_and_lsf_lists_it()
    {
        var rclone = await RcloneAsync();
        var bucket = NewBucket("rclone");
        var folder = PhotoFolder("folder", out var big);

        // rclone creates the bucket itself; 5 MiB chunks and cutoff make the 20 MB file a 4-part upload.
        await rclone.RunAsync("copy", folder, $"ll:{bucket}/album", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M");
        var listed = Lines(await rclone.RunAsync("lsf", "-R", "--files-only", $"ll:{bucket}/album"));
        Assert.Equal(
            Photos.Keys.Append("raw/big.bin").Append("zoo/giraffe.jpg").Order(StringComparer.Ordinal),
            listed.Order(StringComparer.Ordinal));
        var sizes = Lines(await rclone.RunAsync("lsf", "--format", "ps", "--separator", "|", $"ll:{bucket}/album/raw"));
        Assert.Equal([$"big.bin|{BigFileBytes}"], sizes);
        Assert.Contains($"{bucket}/", Lines(await rclone.RunAsync("lsf", "ll:")));

        // rclone check compares sizes and MD5s (from the ETag, or the md5chksum metadata of multipart objects).
        var check = await rclone.RunWithLogAsync("check", folder, $"ll:{bucket}/album");
        Assert.Contains("0 differences found", check, StringComparison.Ordinal);
        var head = await serve.S3HeadETagAsync(bucket, "album/raw/big.bin");
        Assert.EndsWith("-4\"", head, StringComparison.Ordinal);

        var again = await rclone.RunWithLogAsync("copy", folder, $"ll:{bucket}/album", "-v");
        Assert.DoesNotContain("Copied (new)", again, StringComparison.Ordinal);

        await AssertUploadsLabeledAsync(bucket, "album/");
        Assert.Equal(big, await serve.DownloadAsync(bucket, "album/raw/big.bin"));
    }

    [Fact]
    public async Task S3cmd_put_of_a_photo_and_a_folder_with_a_multipart_file_is_labeled_and_ls_lists_it()
    {
        var s3cmd = await S3cmdAsync();
        var bucket = NewBucket("s3cmd");
        var folder = PhotoFolder("folder", out var big);

        Assert.Contains($"Bucket 's3://{bucket}/' created", await s3cmd.RunAsync("mb", $"s3://{bucket}"), StringComparison.Ordinal);
        var put = await s3cmd.RunAsync("put", TestData.Image("dog.jpg"), $"s3://{bucket}/pets/dog.jpg");
        Assert.Contains($"-> 's3://{bucket}/pets/dog.jpg'", put, StringComparison.Ordinal);
        var dog = await serve.WaitForLabeledAsync(bucket, "pets/dog.jpg");
        Assert.Contains("Dog", ServerFixture.LabelNames(dog));

        // s3cmd wants the trailing slash to copy the folder's content, not the folder.
        var putAll = await s3cmd.RunAsync("put", "--recursive", folder + "/", $"s3://{bucket}/box/");
        Assert.Contains($"-> 's3://{bucket}/box/raw/big.bin'", putAll, StringComparison.Ordinal);
        Assert.Equal(MultipartETag(big, 8 * 1024 * 1024), await serve.S3HeadETagAsync(bucket, "box/raw/big.bin"));

        var buckets = Lines(await s3cmd.RunAsync("ls"));
        Assert.Contains(buckets, l => l.EndsWith($"s3://{bucket}", StringComparison.Ordinal));
        var top = Lines(await s3cmd.RunAsync("ls", $"s3://{bucket}/"));
        Assert.Equal([["DIR", $"s3://{bucket}/box/"], ["DIR", $"s3://{bucket}/pets/"]], top.Select(Fields));
        var all = Lines(await s3cmd.RunAsync("ls", "--recursive", $"s3://{bucket}/"));
        Assert.Equal(Photos.Count + 3, all.Count);
        // date, time, size, URL
        Assert.Contains(all.Select(Fields), f => f.Length == 4 && f[2] == BigFileBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) && f[3] == $"s3://{bucket}/box/raw/big.bin");
        Assert.Contains(all.Select(Fields), f => f.Length == 4 && f[3] == $"s3://{bucket}/box/zoo/giraffe.jpg");

        await AssertUploadsLabeledAsync(bucket, "box/");
        Assert.Equal(big, await serve.DownloadAsync(bucket, "box/raw/big.bin"));
    }

    /// <summary>
    /// A console's "Create folder" (a zero-byte "photos/") and keys nested in other keys ("a/b" and "a/b/c"),
    /// made with the AWS CLI, then listed with a delimiter: S3 shows a key both as an object and as a prefix.
    /// </summary>
    [Fact]
    public async Task Aws_cli_folder_markers_and_keys_inside_keys_are_stored_and_listed_as_s3_lists_them()
    {
        var aws = await AwsAsync();
        var bucket = NewBucket("aws-nest");
        await aws.RunAsync("s3", "mb", $"s3://{bucket}");
        await aws.RunAsync("s3api", "put-object", "--bucket", bucket, "--key", "photos/");
        await aws.RunAsync("s3", "cp", TestData.Image("dog.jpg"), $"s3://{bucket}/photos/dog.jpg", "--no-progress");
        await aws.RunAsync("s3api", "put-object", "--bucket", bucket, "--key", "a/b", "--body", TestData.Image("eagle.jpg"));
        await aws.RunAsync("s3api", "put-object", "--bucket", bucket, "--key", "a/b/c", "--body", TestData.Image("giraffe.jpg"));

        var top = await ListAsync(aws, bucket, "");
        Assert.Equal((string[])[], top.Keys);
        Assert.Equal(["a/", "photos/"], top.Prefixes);
        var photos = await ListAsync(aws, bucket, "photos/");
        Assert.Equal(["photos/", "photos/dog.jpg"], photos.Keys);
        Assert.Equal(0, photos.Sizes[0]);
        var a = await ListAsync(aws, bucket, "a/");
        Assert.Equal(["a/b"], a.Keys);
        Assert.Equal(["a/b/"], a.Prefixes);
        var ls = Lines(await aws.RunAsync("s3", "ls", $"s3://{bucket}/a/"));
        Assert.Contains("PRE b/", ls);
        Assert.Contains(ls, line => line.EndsWith($" {new FileInfo(TestData.Image("eagle.jpg")).Length} b", StringComparison.Ordinal));

        var download = Path.Combine(_work, "c.jpg");
        await aws.RunAsync("s3", "cp", $"s3://{bucket}/a/b/c", download, "--no-progress");
        Assert.Equal(TestData.ImageBytes("giraffe.jpg"), await File.ReadAllBytesAsync(download));
        Assert.Equal(TestData.ImageBytes("eagle.jpg"), await serve.DownloadAsync(bucket, "a/b"));
        Assert.Contains("Giraffe", ServerFixture.LabelNames(await serve.WaitForLabeledAsync(bucket, "a/b/c")));

        // Deleting the outer key leaves the inner one, and the marker goes like any object.
        await aws.RunAsync("s3api", "delete-object", "--bucket", bucket, "--key", "a/b");
        await aws.RunAsync("s3api", "delete-object", "--bucket", bucket, "--key", "photos/");
        Assert.Equal(["a/b/c"], (await ListAsync(aws, bucket, "a/b/")).Keys);
        Assert.Equal(["photos/dog.jpg"], (await ListAsync(aws, bucket, "photos/")).Keys);
    }

    /// <summary>The start of a boto3 script: a client for the server (S3_ENDPOINT) and the bucket argv[1], created.</summary>
    private const string Boto3InNewBucket = """
        import os, sys, json, boto3
        s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
        bucket = sys.argv[1]
        s3.create_bucket(Bucket=bucket)

        """;

    /// <summary>The same with boto3: a marker, a key, a key inside it and a key beside it that is its prefix.</summary>
    [Fact]
    public async Task Boto3_folder_markers_and_keys_inside_keys_are_stored_and_listed_as_s3_lists_them()
    {
        const string script = Boto3InNewBucket + """
            for key in ["docs/", "docs/x", "docs/x/y", "docs/x/y/z.txt", "docs//twice"]:
                s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
            s3.put_object(Bucket=bucket, Key="docs/empty/", Body=b"")
            out = {}
            for prefix in ["docs/", "docs/x/", "docs/x/y/"]:
                page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
                out[prefix] = {"keys": [o["Key"] for o in page.get("Contents", [])], "prefixes": [p["Prefix"] for p in page.get("CommonPrefixes", [])]}
            out["bodies"] = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode() for k in ["docs/", "docs/x", "docs/x/y", "docs//twice"]}
            out["marker_size"] = s3.head_object(Bucket=bucket, Key="docs/empty/")["ContentLength"]
            print(json.dumps(out))
            """;
        var bucket = NewBucket("boto-nest");
        var result = JsonDocument.Parse(await Boto3.RunAsync(_work, script, new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint }, serve.LogTail, bucket)).RootElement;

        string[] Strings(string prefix, string field) => result.GetProperty(prefix).GetProperty(field).EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(["docs/", "docs/x"], Strings("docs/", "keys"));
        Assert.Equal(["docs//", "docs/empty/", "docs/x/"], Strings("docs/", "prefixes"));
        Assert.Equal(["docs/x/y"], Strings("docs/x/", "keys"));
        Assert.Equal(["docs/x/y/"], Strings("docs/x/", "prefixes"));
        Assert.Equal(["docs/x/y/z.txt"], Strings("docs/x/y/", "keys"));
        foreach (var key in new[] { "docs/", "docs/x", "docs/x/y", "docs//twice" })
        {
            Assert.Equal(key, result.GetProperty("bodies").GetProperty(key).GetString());
        }

        Assert.Equal(0, result.GetProperty("marker_size").GetInt32());
    }

    /// <summary>
    /// A multipart upload with SHA-256 checksums from boto3: the composite checksum (SHA-256 of the parts' SHA-256s,
    /// "-2") is accepted on complete and a wrong one refused; HEAD with ChecksumMode and GetObjectAttributes (boto3
    /// and `aws s3api get-object-attributes`) give it back with the parts.
    /// </summary>
    [Fact]
    public async Task Boto3_composite_checksum_on_complete_is_verified_and_get_object_attributes_returns_it()
    {
        const string script = Boto3InNewBucket + """
            import base64, hashlib, botocore
            data = [os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024 + 7)]
            composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(d).digest() for d in data)).digest()).decode() + "-2"
            out = {"composite": composite}
            def upload(key, checksum):
                up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
                parts = []
                for i, d in enumerate(data, 1):
                    r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=d, ChecksumAlgorithm="SHA256")
                    parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
                return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": parts}, ChecksumSHA256=checksum)
            out["complete"] = upload("good.bin", composite).get("ChecksumSHA256")
            try:
                upload("bad.bin", base64.b64encode(b"0" * 32).decode() + "-2")
                out["bad"] = "accepted"
            except botocore.exceptions.ClientError as e:
                out["bad"] = e.response["Error"]["Code"]
            out["head"] = s3.head_object(Bucket=bucket, Key="good.bin", ChecksumMode="ENABLED").get("ChecksumSHA256")
            body = s3.get_object(Bucket=bucket, Key="good.bin", ChecksumMode="ENABLED")["Body"].read()
            out["body_ok"] = body == b"".join(data)
            a = s3.get_object_attributes(Bucket=bucket, Key="good.bin", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
            out["attributes"] = {k: a.get(k) for k in ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]}
            out["part_sha256"] = [base64.b64encode(hashlib.sha256(d).digest()).decode() for d in data]
            print(json.dumps(out, default=str))
            """;
        var bucket = NewBucket("boto-sum");
        var result = JsonDocument.Parse(await Boto3.RunAsync(_work, script, new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint }, serve.LogTail, bucket)).RootElement;
        var composite = result.GetProperty("composite").GetString();
        Assert.EndsWith("-2", composite, StringComparison.Ordinal);
        Assert.Equal(composite, result.GetProperty("complete").GetString());
        Assert.Equal("BadDigest", result.GetProperty("bad").GetString());
        Assert.Equal(composite, result.GetProperty("head").GetString());
        Assert.True(result.GetProperty("body_ok").GetBoolean());
        var attributes = result.GetProperty("attributes");
        Assert.Equal(composite, attributes.GetProperty("Checksum").GetProperty("ChecksumSHA256").GetString());
        Assert.Equal(6 * 1024 * 1024 + 7, attributes.GetProperty("ObjectSize").GetInt64());
        Assert.Equal("STANDARD", attributes.GetProperty("StorageClass").GetString());
        Assert.EndsWith("-2", attributes.GetProperty("ETag").GetString(), StringComparison.Ordinal);
        var parts = attributes.GetProperty("ObjectParts");
        Assert.Equal(2, parts.GetProperty("TotalPartsCount").GetInt32());
        Assert.Equal(
            result.GetProperty("part_sha256").EnumerateArray().Select(p => p.GetString()),
            parts.GetProperty("Parts").EnumerateArray().Select(p => p.GetProperty("ChecksumSHA256").GetString()));
        Assert.Equal([5 * 1024 * 1024, 1024 * 1024 + 7], parts.GetProperty("Parts").EnumerateArray().Select(p => p.GetProperty("Size").GetInt64()));

        // The AWS CLI's view of the same object.
        var aws = await AwsAsync();
        var cli = JsonDocument.Parse(await aws.RunAsync("s3api", "get-object-attributes", "--bucket", bucket, "--key", "good.bin", "--object-attributes", "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize", "--output", "json")).RootElement;
        Assert.Equal(composite, cli.GetProperty("Checksum").GetProperty("ChecksumSHA256").GetString());
        Assert.Equal(6 * 1024 * 1024 + 7, cli.GetProperty("ObjectSize").GetInt64());
        Assert.Equal(2, cli.GetProperty("ObjectParts").GetProperty("TotalPartsCount").GetInt32());
        var size = JsonDocument.Parse(await aws.RunAsync("s3api", "get-object-attributes", "--bucket", bucket, "--key", "good.bin", "--object-attributes", "ObjectSize", "--output", "json")).RootElement;
        Assert.False(size.TryGetProperty("Checksum", out _));
    }

    private static async Task<(string[] Keys, long[] Sizes, string[] Prefixes)> ListAsync(CliTool aws, string bucket, string prefix)
    {
        var page = JsonDocument.Parse(await aws.RunAsync("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--delimiter", "/", "--output", "json")).RootElement;
        var contents = page.TryGetProperty("Contents", out var c) ? c.EnumerateArray().ToList() : [];
        var prefixes = page.TryGetProperty("CommonPrefixes", out var p) ? p.EnumerateArray().Select(e => e.GetProperty("Prefix").GetString()!).ToArray() : [];
        return (contents.Select(e => e.GetProperty("Key").GetString()!).ToArray(), contents.Select(e => e.GetProperty("Size").GetInt64()).ToArray(), prefixes);
    }

    /// <summary>
    /// Waits for every object under the prefix to leave the queue, then checks it through the REST API: every
    /// photo labeled (each known photo with its label), the 20 MB of random bytes failed as not an image.
    /// Returns the images by key.
    /// </summary>
    private async Task<Dictionary<string, JsonElement>> AssertUploadsLabeledAsync(string bucket, string prefix, int? expectedPhotos = null)
    {
        var objects = await serve.ListObjectsAsync(bucket, prefix);
        var images = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var item in objects)
        {
            var key = item.GetProperty("key").GetString()!;
            var image = await serve.WaitForImageAsync(item.GetProperty("imageId").GetString()!);
            images[key] = image;
            var row = image.GetProperty("image");
            var name = key[(key.LastIndexOf('/') + 1)..];
            if (name.EndsWith(".jpg", StringComparison.Ordinal))
            {
                Assert.True(row.GetProperty("status").GetString() == "labeled", $"{bucket}/{key}: {row}");
                if (Photos.GetValueOrDefault(name) is { } label)
                {
                    Assert.Contains(label, ServerFixture.LabelNames(image));
                }
            }
            else
            {
                Assert.True(row.GetProperty("status").GetString() == "failed", $"{bucket}/{key}: {row}");
                Assert.StartsWith("InvalidImageFormat", row.GetProperty("error").GetString(), StringComparison.Ordinal);
            }
        }

        // The seven photos and the second giraffe in zoo/.
        Assert.Equal(expectedPhotos ?? Photos.Count + 1, images.Keys.Count(k => k.EndsWith(".jpg", StringComparison.Ordinal)));
        Assert.Contains(images.Keys, k => k.EndsWith("dog.jpg", StringComparison.Ordinal));
        output.WriteLine($"{bucket}/{prefix}: {images.Count} objects, {images.Values.Count(i => i.GetProperty("image").GetProperty("status").GetString() == "labeled")} labeled");
        return images;
    }

    /// <summary>The seven photos, a second giraffe in a subfolder, and 20 MB of random bytes (not an image) in another.</summary>
    private string PhotoFolder(string name, out byte[] big)
    {
        var folder = Path.Combine(_work, name);
        Directory.CreateDirectory(Path.Combine(folder, "raw"));
        Directory.CreateDirectory(Path.Combine(folder, "zoo"));
        foreach (var photo in Photos.Keys)
        {
            File.Copy(TestData.Image(photo), Path.Combine(folder, photo));
        }

        File.Copy(TestData.Image("giraffe.jpg"), Path.Combine(folder, "zoo", "giraffe.jpg"));
        big = RandomNumberGenerator.GetBytes(BigFileBytes);
        File.WriteAllBytes(Path.Combine(folder, "raw", "big.bin"), big);
        return folder;
    }

    private static string MultipartETag(byte[] content, int partSize)
    {
        using var all = new MemoryStream();
        var parts = 0;
        for (var offset = 0; offset < content.Length; offset += partSize, parts++)
        {
            all.Write(MD5.HashData(content.AsSpan(offset, Math.Min(partSize, content.Length - offset))));
        }

        return $"\"{Convert.ToHexStringLower(MD5.HashData(all.ToArray()))}-{parts}\"";
    }

    private static string NewBucket(string tool) => $"{tool}-{Guid.NewGuid():N}"[..24];

    private static string[] Fields(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static List<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private Task<CliTool> AwsAsync() => CliTool.AwsAsync(serve.S3Endpoint, _work, output, serve);

    /// <summary>rclone with the remote `ll:` from RCLONE_CONFIG_LL_* variables only (no config file).</summary>
    private async Task<CliTool> RcloneAsync()
    {
        var tool = Tool("rclone", "rclone");
        var empty = Path.Combine(_work, "rclone.conf");
        await File.WriteAllTextAsync(empty, "");
        tool.Environment["RCLONE_CONFIG"] = empty;
        tool.Environment["RCLONE_CONFIG_LL_TYPE"] = "s3";
        tool.Environment["RCLONE_CONFIG_LL_PROVIDER"] = "Other";
        tool.Environment["RCLONE_CONFIG_LL_ENDPOINT"] = serve.S3Endpoint;
        tool.Environment["RCLONE_CONFIG_LL_ACCESS_KEY_ID"] = S3ClientServeFixture.AccessKey;
        tool.Environment["RCLONE_CONFIG_LL_SECRET_ACCESS_KEY"] = S3ClientServeFixture.SecretKey;
        tool.Environment["RCLONE_CONFIG_LL_FORCE_PATH_STYLE"] = "true";
        tool.Environment["RCLONE_CONFIG_LL_REGION"] = "us-east-1";
        tool.Prefix.AddRange(["--retries", "1", "--low-level-retries", "1"]);
        output.WriteLine(Lines(await tool.RunRawAsync("version"))[0]);
        return tool;
    }

    /// <summary>s3cmd with a config file of its own: the endpoint as host_base and host_bucket, SigV4, plain HTTP.</summary>
    private async Task<CliTool> S3cmdAsync()
    {
        var tool = Tool("s3cmd", "s3cmd");
        var config = Path.Combine(_work, "s3cfg");
        var endpoint = new Uri(serve.S3Endpoint).Authority;
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = {S3ClientServeFixture.AccessKey}
            secret_key = {S3ClientServeFixture.SecretKey}
            host_base = {endpoint}
            host_bucket = {endpoint}
            use_https = False
            signature_v2 = False
            bucket_location = us-east-1
            multipart_chunk_size_mb = 8
            progress_meter = False

            """);
        tool.Prefix.AddRange(["--config", config]);
        output.WriteLine((await tool.RunRawAsync("--config", config, "--version")).Trim());
        return tool;
    }

    private CliTool Tool(string name, string package) => CliTool.Find(name, package, _work, output, serve);
}

/// <summary>One command-line client: its executable, a clean environment (no AWS_*/RCLONE_* from the runner, HOME in a temp folder) and arguments before every command.</summary>
public sealed class CliTool
{
    private readonly string _path;
    private readonly ITestOutputHelper _output;
    private readonly S3ClientServeFixture _serve;

    public CliTool(string path, string home, ITestOutputHelper output, S3ClientServeFixture serve)
    {
        _path = path;
        _output = output;
        _serve = serve;
        Environment["HOME"] = home;
        Environment["LC_ALL"] = "C.UTF-8";
        Environment["PYTHONIOENCODING"] = "utf-8";
    }

    /// <summary>aws with its own config and credentials files (`aws configure set`, never ~/.aws), path-style, 8 MB parts.</summary>
    public static async Task<CliTool> AwsAsync(string endpoint, string work, ITestOutputHelper output, S3ClientServeFixture serve)
    {
        var tool = Find("aws", "awscli", work, output, serve);
        var config = Path.Combine(work, "aws");
        Directory.CreateDirectory(config);
        tool.Environment["AWS_CONFIG_FILE"] = Path.Combine(config, "config");
        tool.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(config, "credentials");
        tool.Environment["AWS_PAGER"] = "";
        tool.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        tool.Prefix.AddRange(["--endpoint-url", endpoint]);
        foreach (var (name, value) in new[]
        {
            ("aws_access_key_id", S3ClientServeFixture.AccessKey),
            ("aws_secret_access_key", S3ClientServeFixture.SecretKey),
            ("default.region", "us-east-1"),
            ("default.s3.addressing_style", "path"),
            ("default.s3.multipart_threshold", "8MB"),
            ("default.s3.multipart_chunksize", "8MB"),
        })
        {
            await tool.RunRawAsync("configure", "set", name, value);
        }

        output.WriteLine((await tool.RunRawAsync("--version")).Trim());
        return tool;
    }

    /// <summary>
    /// The client from its Debian package (/usr/bin first: a pip or pyenv `aws` earlier on PATH may be another
    /// major version), else from PATH. Missing is a failure, with what to install, locally and in CI alike.
    /// </summary>
    public static CliTool Find(string name, string package, string work, ITestOutputHelper output, S3ClientServeFixture serve)
    {
        var debian = Path.Combine("/usr/bin", name);
        var path = File.Exists(debian)
            ? debian
            : (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
        if (path is null)
        {
            var ci = System.Environment.GetEnvironmentVariable("CI") == "true" ? "CI=true: .ci/run should have installed it" : "these tests do not skip";
            Assert.Fail($"`{name}` is not installed ({ci}). Install the Debian package: apt-get install -y {package}  (.ci/run installs awscli, rclone and s3cmd when one is missing).");
        }

        var home = Path.Combine(work, "home");
        Directory.CreateDirectory(home);
        return new CliTool(path!, home, output, serve);
    }

    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public List<string> Prefix { get; } = [];

    /// <summary>Runs the client with the prefix arguments; a non-zero exit fails the test with both outputs and the server's log.</summary>
    public async Task<string> RunAsync(params string[] args) => (await RunCoreAsync([.. Prefix, .. args])).Stdout;

    /// <summary>As <see cref="RunAsync"/>, for a command whose documented exit code is not 0.</summary>
    public async Task<string> RunAsync(int expectedExit, params string[] args) => (await RunCoreAsync([.. Prefix, .. args], expectedExit)).Stdout;

    /// <summary>As <see cref="RunAsync"/>, with what the client logged on stderr after its stdout (rclone logs there).</summary>
    public async Task<string> RunWithLogAsync(params string[] args)
    {
        var (stdout, stderr) = await RunCoreAsync([.. Prefix, .. args]);
        return stdout + "\n" + stderr;
    }

    public async Task<string> RunRawAsync(params string[] args) => (await RunCoreAsync(args)).Stdout;

    /// <summary>A command that must fail with <paramref name="expectedExit"/>: what the client printed on stderr (the error's name and message).</summary>
    public async Task<string> RunForErrorAsync(int expectedExit, params string[] args) => (await RunCoreAsync([.. Prefix, .. args], expectedExit)).Stderr;

    private async Task<(string Stdout, string Stderr)> RunCoreAsync(string[] args, int expectedExit = 0)
    {
        var start = new ProcessStartInfo(_path) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = Environment["HOME"] };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Nothing from the runner's AWS or rclone setup leaks in: no profile, endpoint, CA bundle (rclone 1.60
        // cannot even start with AWS_CA_BUNDLE set on a plain HTTP endpoint), keys or config file.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal) || k.StartsWith("RCLONE_", StringComparison.Ordinal) || k == "S3CMD_CONFIG").ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }

        var line = $"{Path.GetFileName(_path)} {string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a))}";
        _output.WriteLine("$ " + line);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{line}` did not finish in 3 minutes.\nstdout:\n{await stdout}\nstderr:\n{await stderr}\nserver log (tail):\n{_serve.LogTail()}");
        }

        var (text, errors) = (await stdout, await stderr);
        _output.WriteLine($"  exit {process.ExitCode} in {watch.ElapsedMilliseconds} ms");
        Assert.True(process.ExitCode == expectedExit, $"`{line}` exited with {process.ExitCode}, not {expectedExit}.\nstdout:\n{text}\nstderr:\n{errors}\nserver log (tail):\n{_serve.LogTail()}");
        return (text, errors);
    }
}

/// <summary>
/// `labellens serve` as a real child process (like <see cref="DurabilityTests"/>), with an S3 port and the
/// quick-start key pair from LABELLENS_ACCESS_KEY / LABELLENS_SECRET_KEY, as a user starts it.
/// </summary>
public class S3ClientServeFixture : IAsyncLifetime
{
    public const string AccessKey = "LLCLIACCESSKEY0001";

    /// <summary>With '/' and '+', the characters a signing bug trips on.</summary>
    public const string SecretKey = "cli/secret+key/0123456789abcdefghijKLMNOP";

    private ServeProcess _serve = null!;

    public HttpClient Http => _serve.Client;

    /// <summary>More environment for the server (a subclass's configuration, e.g. the text analysis on).</summary>
    protected virtual IReadOnlyDictionary<string, string?> ExtraEnvironment { get; } = new Dictionary<string, string?>();

    public string S3Endpoint { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var s3Port = ServeProcess.FreePort();
        _serve = new ServeProcess("labellens-s3cli-serve-", s3Port);
        S3Endpoint = $"http://127.0.0.1:{s3Port}";
        var environment = new Dictionary<string, string?>
        {
            ["LABELLENS_MODELS"] = null,
            ["LABELLENS_ACCESS_KEY"] = AccessKey,
            ["LABELLENS_SECRET_KEY"] = SecretKey,
        };
        foreach (var (name, value) in ExtraEnvironment)
        {
            environment[name] = value;
        }

        await _serve.StartAsync(environment);

        // The key pair protects the REST API too.
        _serve.Client.DefaultRequestHeaders.Add("X-Api-Key", SecretKey);

        // The S3 listener answers too (an unsigned request is refused in S3's own XML).
        using var s3 = new HttpClient();
        using var probe = await s3.GetAsync(new Uri(S3Endpoint + "/"));
        Assert.Equal(HttpStatusCode.Forbidden, probe.StatusCode);
        Assert.Contains("<Code>AccessDenied</Code>", await probe.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public Task DisposeAsync()
    {
        _serve.Dispose();
        return Task.CompletedTask;
    }

    public string LogTail() => _serve.LogTail();

    /// <summary>GET /api/v1/buckets/{bucket}/objects, every page.</summary>
    public async Task<List<JsonElement>> ListObjectsAsync(string bucket, string prefix)
    {
        var result = new List<JsonElement>();
        string? token = null;
        do
        {
            var page = await GetJsonAsync($"/api/v1/buckets/{bucket}/objects?prefix={Uri.EscapeDataString(prefix)}" + (token is null ? "" : $"&continuationToken={Uri.EscapeDataString(token)}"));
            result.AddRange(page.GetProperty("objects").EnumerateArray());
            token = page.GetProperty("nextContinuationToken").GetString();
        }
        while (token is not null);
        return result;
    }

    /// <summary>The object through the REST API, then its image once labeling is over; it must be labeled.</summary>
    public async Task<JsonElement> WaitForLabeledAsync(string bucket, string key)
    {
        var objects = await ListObjectsAsync(bucket, key);
        var item = Assert.Single(objects, o => o.GetProperty("key").GetString() == key);
        var image = await WaitForImageAsync(item.GetProperty("imageId").GetString()!);
        Assert.True(image.GetProperty("image").GetProperty("status").GetString() == "labeled", $"{bucket}/{key}: {image}");
        return image;
    }

    public async Task<JsonElement> WaitForImageAsync(string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var image = await GetJsonAsync($"/api/v1/images/{id}");
            var status = image.GetProperty("image").GetProperty("status").GetString();
            if (status is "labeled" or "failed")
            {
                return image;
            }

            Assert.True(DateTime.UtcNow < deadline, $"image {id} still {status} after 90 s");
            await Task.Delay(100);
        }
    }

    /// <summary>Deleted through S3: gone from the object list, and its image (id from bucket/key) is gone from the catalog.</summary>
    public async Task AssertNoImageAsync(string bucket, string key)
    {
        Assert.DoesNotContain(await ListObjectsAsync(bucket, key), o => o.GetProperty("key").GetString() == key);
        using var response = await Http.GetAsync($"/api/v1/images/{ImageId(bucket, key)}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    public async Task<byte[]> DownloadAsync(string bucket, string key) => await Http.GetByteArrayAsync($"/api/v1/buckets/{bucket}/objects/{ServerFixture.Escape(key)}");

    /// <summary>The S3 ETag of an object (multipart ETags live only on the S3 side), by a HEAD signed with the tests' own SigV4 signer.</summary>
    public async Task<string> S3HeadETagAsync(string bucket, string key)
    {
        using var request = S3TestSigner.Request(new Uri(S3Endpoint + "/"), HttpMethod.Head, $"/{bucket}/{S3Escape(key)}", accessKey: AccessKey, secretKey: SecretKey);
        using var http = new HttpClient();
        using var response = await http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"HEAD {bucket}/{key}: {(int)response.StatusCode}");
        return response.Headers.ETag?.ToString() ?? "";
    }

    /// <summary>The documented image id: first 16 bytes of SHA-256 of bucket/key, hex.</summary>
    public static string ImageId(string bucket, string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{bucket}/{key}"))[..16]);

    private static string S3Escape(string key) => string.Join('/', key.Split('/').Select(Uri.EscapeDataString));

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
