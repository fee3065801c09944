using System.Net;
using System.Text;
using LabelLens.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabelLens.Tests;

/// <summary>
/// The filesystem store on real folders: keys a plain key-as-path layout cannot hold side by side, and the
/// start-up conversion of a data folder written by a version that stored keys as plain paths.
/// </summary>
public sealed class ObjectLayoutTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("labellens-layout-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    private FileSystemObjectStore Open() => new(_data, TimeProvider.System, NullLogger<FileSystemObjectStore>.Instance);

    private static readonly string LongSegment = string.Concat(Enumerable.Repeat("ü-long-", 60)); // 480 bytes: more than one file name holds

    /// <summary>Keys S3 accepts that nest in, or end like, each other.</summary>
    private static readonly string[] Neighbours =
    [
        "a/b", "a/b/c", "a/b/c/d.jpg", "a", "photos/", "photos/dog.jpg", "photos//double.jpg", "photos/=x", "photos/@x", "photos/+x",
        ".hidden", "…/", LongSegment, LongSegment + "/" + LongSegment + ".jpg", LongSegment[..254],
    ];

    [Fact]
    public async Task Every_key_is_stored_beside_every_other_and_reads_back_its_own_bytes()
    {
        var store = Open();
        await store.CreateBucketAsync("keys", default);
        foreach (var key in Neighbours)
        {
            var stored = await store.PutAsync("keys", key, new MemoryStream(Encoding.UTF8.GetBytes("bytes of " + key)), long.MaxValue, default);
            Assert.Equal(Encoding.UTF8.GetByteCount("bytes of " + key), stored.Size);
        }

        foreach (var key in Neighbours)
        {
            Assert.Equal("bytes of " + key, await ReadAsync(store, key));
        }

        // A folder marker is an empty object of its own.
        await store.PutAsync("keys", "empty/", new MemoryStream([]), long.MaxValue, default);
        Assert.Equal("", await ReadAsync(store, "empty/"));
        Assert.Null(await store.OpenReadAsync("keys", "empty", default));

        // The file ffmpeg would be given is the object's own file.
        await using (var local = await store.OpenLocalFileAsync("keys", "a/b/c", default))
        {
            Assert.Equal("bytes of a/b/c", await File.ReadAllTextAsync(local!.Path));
        }

        // Deleting the parent key leaves its children, and deleting everything leaves an empty bucket folder.
        Assert.True(await store.DeleteAsync("keys", "a/b", default));
        Assert.Equal("bytes of a/b/c/d.jpg", await ReadAsync(store, "a/b/c/d.jpg"));
        await Assert.ThrowsAsync<StorageException>(() => store.DeleteBucketAsync("keys", default));
        foreach (var key in Neighbours.Where(k => k != "a/b").Append("empty/"))
        {
            Assert.True(await store.DeleteAsync("keys", key, default), key);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_data, "objects", "keys")));
        await store.DeleteBucketAsync("keys", default);
    }

    [Theory]
    [InlineData("/absolute")]
    [InlineData("a/../b")]
    [InlineData("./a")]
    [InlineData("nul\0byte")]
    public async Task Keys_that_would_escape_a_mirrored_folder_are_refused(string key)
    {
        var store = Open();
        await store.CreateBucketAsync("bad", default);
        var refused = await Assert.ThrowsAsync<StorageException>(() => store.PutAsync("bad", key, new MemoryStream([1]), long.MaxValue, default));
        Assert.Equal(StorageError.InvalidKey, refused.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_data, "objects", "bad")));
    }

    [Fact]
    public void The_layout_is_reversible_and_a_file_never_shares_a_name_with_a_folder()
    {
        foreach (var key in Neighbours)
        {
            var path = ObjectFileLayout.PathOf(key);
            Assert.Equal(key, ObjectFileLayout.KeyOf(path));
            Assert.All(path, component => Assert.True(Encoding.UTF8.GetByteCount(component) <= 255, component));
            Assert.StartsWith("=", path[^1], StringComparison.Ordinal);
            Assert.All(path.SkipLast(1), folder => Assert.False(folder.StartsWith('='), folder));
        }

        Assert.Null(ObjectFileLayout.KeyOf(["@a"]));
        Assert.Null(ObjectFileLayout.KeyOf(["plain.jpg"]));
    }

    [Fact]
    public async Task An_old_layout_folder_is_converted_at_start_and_a_half_done_conversion_resumes()
    {
        // What versions before this one wrote: keys as plain paths, one folder per bucket (one empty).
        var old = Path.Combine(_data, "objects");
        WriteOld(old, "photos", "zoo/giraffe.jpg", "giraffe");
        WriteOld(old, "photos", "dog.jpg", "dog");
        WriteOld(old, "photos", ".hidden", "hidden");
        WriteOld(old, "photos", "@x/=y", "looks new but is old");
        Directory.CreateDirectory(Path.Combine(old, "empty-bucket"));

        // A conversion that crashed part-way: the old folder set aside, one file already moved, no .layout yet.
        Directory.Move(old, old + ".v1");
        Directory.CreateDirectory(Path.Combine(old, "photos"));
        File.Move(Path.Combine(old + ".v1", "photos", "dog.jpg"), Path.Combine(old, "photos", "=dog.jpg"));

        var store = Open();

        Assert.Equal("giraffe", await ReadAsync(store, "zoo/giraffe.jpg", "photos"));
        Assert.Equal("dog", await ReadAsync(store, "dog.jpg", "photos"));
        Assert.Equal("hidden", await ReadAsync(store, ".hidden", "photos"));
        Assert.Equal("looks new but is old", await ReadAsync(store, "@x/=y", "photos"));
        Assert.Equal(["empty-bucket", "photos"], await store.ListBucketsAsync(default));
        Assert.False(Directory.Exists(old + ".v1"));
        Assert.True(File.Exists(Path.Combine(old, ObjectLayoutMigration.LayoutFileName)));

        // Opening again changes nothing: the new-looking names of a converted folder are not converted twice.
        _ = Open();
        Assert.Equal("looks new but is old", await ReadAsync(Open(), "@x/=y", "photos"));
        await Open().PutAsync("photos", "zoo/giraffe.jpg/eye", new MemoryStream([1]), long.MaxValue, default);
        Assert.Equal("giraffe", await ReadAsync(Open(), "zoo/giraffe.jpg", "photos"));
    }

    /// <summary>
    /// The whole server on a data folder in the old layout: the catalog rows it made still find their bytes, and
    /// the keys the old layout refused now go in beside them.
    /// </summary>
    [Fact]
    public async Task Serve_opens_an_old_layout_data_folder_and_then_takes_nested_keys_and_markers()
    {
        using var serve = new ServeProcess("labellens-oldlayout-");
        await serve.StartAsync();
        var dog = TestData.ImageBytes("dog.jpg");
        await PutAsync(serve, "photos/pets/dog.jpg", dog);
        await PutAsync(serve, "photos/eagle.jpg", TestData.ImageBytes("eagle.jpg"));
        serve.Stop();

        // Rewrite the folder as the old version had it: plain paths, no .layout.
        var objects = Path.Combine(serve.DataFolder, "objects");
        var converted = Path.Combine(serve.DataFolder, "converted");
        Directory.Move(objects, converted);
        foreach (var file in Directory.GetFiles(converted, "=*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(converted, file).Split('/');
            var bucket = relative[0];
            var key = ObjectFileLayout.KeyOf(relative[1..])!;
            WriteOld(objects, bucket, key, null);
            File.Move(file, Path.Combine(objects, bucket, key), overwrite: true);
        }

        Directory.Delete(converted, recursive: true);
        Assert.True(File.Exists(Path.Combine(objects, "photos", "photos", "pets", "dog.jpg")));

        await serve.StartAsync();

        Assert.Equal(dog, await serve.Client.GetByteArrayAsync("/api/v1/buckets/photos/objects/photos/pets/dog.jpg"));
        Assert.Contains(serve.Output, line => line.Contains("Converted", StringComparison.Ordinal) && line.Contains("2 object files", StringComparison.Ordinal));
        await PutAsync(serve, "photos/pets/dog.jpg/whiskers.jpg", TestData.ImageBytes("dog.jpg"));
        await PutAsync(serve, "photos/", []);
        Assert.Equal(dog, await serve.Client.GetByteArrayAsync("/api/v1/buckets/photos/objects/photos/pets/dog.jpg"));
        var listed = System.Text.Json.JsonDocument.Parse(await serve.Client.GetStringAsync("/api/v1/buckets/photos/objects?prefix=photos/")).RootElement;
        Assert.Equal(
            ["photos/", "photos/eagle.jpg", "photos/pets/dog.jpg", "photos/pets/dog.jpg/whiskers.jpg"],
            listed.GetProperty("objects").EnumerateArray().Select(o => o.GetProperty("key").GetString()));
    }

    private static async Task PutAsync(ServeProcess serve, string key, byte[] content)
    {
        using var response = await serve.Client.PutAsync($"/api/v1/buckets/photos/objects/{ServerFixture.Escape(key)}", new ByteArrayContent(content));
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static void WriteOld(string objects, string bucket, string key, string? content)
    {
        var path = Path.Combine(objects, bucket, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (content is not null)
        {
            File.WriteAllText(path, content);
        }
    }

    private static async Task<string> ReadAsync(FileSystemObjectStore store, string key, string bucket = "keys")
    {
        await using var stream = await store.OpenReadAsync(bucket, key, default);
        Assert.True(stream is not null, $"{key} is missing");
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
