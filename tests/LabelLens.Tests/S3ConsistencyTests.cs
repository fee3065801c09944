namespace LabelLens.Tests;

/// <summary>
/// What current S3 clients rely on beyond plain GET and PUT (issue 16, items 2-5 and 8), through boto3 against
/// `labellens serve`: conditional writes, ListObjectVersions of an unversioned bucket, unsupported
/// sub-resources refused consistently, and a CompleteMultipartUpload that a retry can repeat.
/// </summary>
public sealed class S3ConsistencyTests(S3ClientServeFixture serve) : IClassFixture<S3ClientServeFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("labellens-s3cond-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>boto3 with a helper that adds request headers botocore of Debian 12 has no parameter for.</summary>
    private const string Prelude = """
        import os, sys, boto3, botocore
        s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
        def with_headers(call, headers, **kwargs):
            def add(request, **_):
                for name, value in headers.items():
                    request.headers[name] = value
            s3.meta.events.register_first("before-sign.s3.*", add)
            try:
                return call(**kwargs)
            finally:
                s3.meta.events.unregister("before-sign.s3.*", add)
        def code(call, headers={}, **kwargs):
            try:
                with_headers(call, headers, **kwargs)
                return "ok"
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"]

        """;

    private Task<string> RunAsync(string script) =>
        Boto3.RunAsync(_work, Prelude + script, new Dictionary<string, string> { ["S3_ENDPOINT"] = serve.S3Endpoint }, serve.LogTail);

    [Fact]
    public async Task Conditional_puts_honour_if_none_match_and_if_match()
    {
        var text = await RunAsync("""
            s3.create_bucket(Bucket="cond-test")
            etag = s3.put_object(Bucket="cond-test", Key="taken", Body=b"first")["ETag"]
            print("none-match on existing", code(s3.put_object, {"If-None-Match": "*"}, Bucket="cond-test", Key="taken", Body=b"second"))
            print("none-match on new", code(s3.put_object, {"If-None-Match": "*"}, Bucket="cond-test", Key="fresh", Body=b"new"))
            print("match wrong", code(s3.put_object, {"If-Match": '"0123456789abcdef0123456789abcdef"'}, Bucket="cond-test", Key="taken", Body=b"third"))
            print("match right", code(s3.put_object, {"If-Match": etag}, Bucket="cond-test", Key="taken", Body=b"fourth"))
            print("match missing", code(s3.put_object, {"If-Match": etag}, Bucket="cond-test", Key="absent", Body=b"x"))
            print("content", s3.get_object(Bucket="cond-test", Key="taken")["Body"].read().decode())
            """);
        Assert.Equal(
            ["none-match on existing PreconditionFailed", "none-match on new ok", "match wrong PreconditionFailed", "match right ok", "match missing NoSuchKey", "content fourth"],
            Lines(text));
    }

    [Fact]
    public async Task List_object_versions_lists_every_object_as_its_null_version_and_versioning_cannot_be_switched_on()
    {
        var text = await RunAsync("""
            s3.create_bucket(Bucket="versions-test")
            for key in ["a.txt", "b/c.txt", "b/d.txt", "e.txt"]:
                s3.put_object(Bucket="versions-test", Key=key, Body=key.encode())
            pages = s3.get_paginator("list_object_versions").paginate(Bucket="versions-test", PaginationConfig={"PageSize": 3})
            for page in pages:
                for v in page.get("Versions", []):
                    print(v["Key"], v["VersionId"], v["IsLatest"], v["Size"])
            grouped = s3.list_object_versions(Bucket="versions-test", Delimiter="/")
            print("prefixes", [p["Prefix"] for p in grouped.get("CommonPrefixes", [])], [v["Key"] for v in grouped["Versions"]])
            print("put versioning", code(s3.put_bucket_versioning, Bucket="versions-test", VersioningConfiguration={"Status": "Enabled"}))
            print("get versioning", s3.get_bucket_versioning(Bucket="versions-test").get("Status", "never enabled"))
            """);
        Assert.Equal(
            ["a.txt null True 5", "b/c.txt null True 7", "b/d.txt null True 7", "e.txt null True 5",
             "prefixes ['b/'] ['a.txt', 'e.txt']", "put versioning NotImplemented", "get versioning never enabled"],
            Lines(text));
    }

    [Fact]
    public async Task A_repeated_complete_multipart_upload_gets_the_same_answer_and_complete_honours_if_none_match()
    {
        var text = await RunAsync("""
            s3.create_bucket(Bucket="complete-test")
            def upload(key, headers={}):
                upload_id = s3.create_multipart_upload(Bucket="complete-test", Key=key)["UploadId"]
                part = s3.upload_part(Bucket="complete-test", Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1000)
                parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
                return upload_id, parts
            upload_id, parts = upload("big.bin")
            first = s3.complete_multipart_upload(Bucket="complete-test", Key="big.bin", UploadId=upload_id, MultipartUpload=parts)["ETag"]
            second = s3.complete_multipart_upload(Bucket="complete-test", Key="big.bin", UploadId=upload_id, MultipartUpload=parts)["ETag"]
            print("repeated", first == second, first.endswith('-1"'))
            print("other key", code(s3.complete_multipart_upload, Bucket="complete-test", Key="other.bin", UploadId=upload_id, MultipartUpload=parts))
            upload_id, parts = upload("big.bin")
            print("none-match", code(s3.complete_multipart_upload, {"If-None-Match": "*"}, Bucket="complete-test", Key="big.bin", UploadId=upload_id, MultipartUpload=parts))
            """);
        Assert.Equal(["repeated True True", "other key NoSuchUpload", "none-match PreconditionFailed"], Lines(text));
    }

    [Fact]
    public async Task Content_encoding_comes_back_as_sent()
    {
        var text = await RunAsync("""
            s3.create_bucket(Bucket="headers-test")
            s3.put_object(Bucket="headers-test", Key="packed.bin", Body=b"x", ContentEncoding="deflate, gzip")
            print("encoding", s3.head_object(Bucket="headers-test", Key="packed.bin")["ContentEncoding"])
            """);
        Assert.Equal(["encoding deflate, gzip"], Lines(text));
    }

    [Fact]
    public async Task Get_and_head_with_part_number_serve_that_part_of_a_multipart_object()
    {
        var text = await RunAsync("""
            s3.create_bucket(Bucket="parts-test")
            upload_id = s3.create_multipart_upload(Bucket="parts-test", Key="two.bin")["UploadId"]
            first = s3.upload_part(Bucket="parts-test", Key="two.bin", UploadId=upload_id, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
            second = s3.upload_part(Bucket="parts-test", Key="two.bin", UploadId=upload_id, PartNumber=2, Body=b"b" * 1000)
            s3.complete_multipart_upload(Bucket="parts-test", Key="two.bin", UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
            head = s3.head_object(Bucket="parts-test", Key="two.bin", PartNumber=2)
            print("head 2", head["ContentLength"], head["PartsCount"])
            body = s3.get_object(Bucket="parts-test", Key="two.bin", PartNumber=2)["Body"].read()
            print("get 2", len(body), set(body) == {ord("b")})
            print("get 1", len(s3.get_object(Bucket="parts-test", Key="two.bin", PartNumber=1)["Body"].read()))
            s3.put_object(Bucket="parts-test", Key="one.bin", Body=b"c" * 10)
            print("single 1", len(s3.get_object(Bucket="parts-test", Key="one.bin", PartNumber=1)["Body"].read()))
            print("single 2", code(s3.get_object, Bucket="parts-test", Key="one.bin", PartNumber=2))
            """);
        Assert.Equal(["head 2 1000 2", "get 2 1000 True", "get 1 5242880", "single 1 10", "single 2 InvalidPartNumber"], Lines(text));
    }

    [Fact]
    public async Task Checksums_an_upload_carried_come_back_on_get_and_head_with_checksum_mode()
    {
        var text = await RunAsync("""
            import base64, hashlib
            s3.create_bucket(Bucket="checksum-test")
            s3.put_object(Bucket="checksum-test", Key="c.bin", Body=b"checked bytes", ChecksumAlgorithm="SHA256")
            expected = base64.b64encode(hashlib.sha256(b"checked bytes").digest()).decode()
            print("head enabled", s3.head_object(Bucket="checksum-test", Key="c.bin", ChecksumMode="ENABLED").get("ChecksumSHA256") == expected)
            print("get enabled", s3.get_object(Bucket="checksum-test", Key="c.bin", ChecksumMode="ENABLED").get("ChecksumSHA256") == expected)
            print("head plain", "ChecksumSHA256" in s3.head_object(Bucket="checksum-test", Key="c.bin"))
            """);
        Assert.Equal(["head enabled True", "get enabled True", "head plain False"], Lines(text));
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
