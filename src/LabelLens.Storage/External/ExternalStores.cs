namespace LabelLens.Storage.External;

/// <summary>
/// The configured external stores (<c>ExternalStores:&lt;name&gt;</c>) and which bucket belongs to which.
/// An image whose catalog <c>source</c> names a store is read from that store when it is labeled.
/// </summary>
public sealed class ExternalStores : IDisposable
{
    private readonly Dictionary<string, S3ObjectStore> _stores = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byBucket = new(StringComparer.Ordinal);

    public ExternalStores(IReadOnlyDictionary<string, ExternalStoreOptions> configured, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(configured);
        foreach (var (name, options) in configured)
        {
            var setting = $"{ExternalStoreOptions.Section}:{name}";
            if (!string.IsNullOrWhiteSpace(options.ServiceUrl) && !Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out _))
            {
                throw new InvalidOperationException($"{setting}:ServiceUrl '{options.ServiceUrl}' is not an absolute URL.");
            }

            if (string.IsNullOrWhiteSpace(options.AccessKey) != string.IsNullOrWhiteSpace(options.SecretKey))
            {
                throw new InvalidOperationException($"{setting}: set both AccessKey and SecretKey, or neither (the AWS default credential chain).");
            }

            if (options.TimeoutSeconds is <= 0 or > 3600)
            {
                throw new InvalidOperationException($"{setting}:TimeoutSeconds must be between 0 and 3600.");
            }

            var buckets = options.Buckets.Count > 0 ? options.Buckets : [name];
            foreach (var bucket in buckets)
            {
                try
                {
                    ObjectNames.ValidateBucket(bucket);
                }
                catch (StorageException ex)
                {
                    throw new InvalidOperationException($"{setting}:Buckets: {ex.Message}", ex);
                }

                if (!_byBucket.TryAdd(bucket, name))
                {
                    throw new InvalidOperationException($"{setting}: bucket '{bucket}' is already mapped to external store '{_byBucket[bucket]}'.");
                }
            }

            _stores[name] = new S3ObjectStore(name, options, time);
        }
    }

    public IReadOnlyCollection<string> Names => _stores.Keys;

    /// <summary>The store named <paramref name="name"/>, or null when none is configured under that name.</summary>
    public S3ObjectStore? Find(string name) => _stores.GetValueOrDefault(name);

    /// <summary>
    /// The store for <paramref name="bucket"/>: the one named <paramref name="storeName"/> when given, else the
    /// one whose Buckets list holds it. Null (with the reason) when there is none.
    /// </summary>
    public S3ObjectStore? Resolve(string bucket, string? storeName, out string? error)
    {
        error = null;
        if (!string.IsNullOrEmpty(storeName))
        {
            if (Find(storeName) is { } named)
            {
                return named;
            }

            error = $"No external store '{storeName}' is configured (ExternalStores:{storeName}).";
            return null;
        }

        if (_byBucket.TryGetValue(bucket, out var name))
        {
            return _stores[name];
        }

        error = _stores.Count == 0
            ? "No external store is configured (ExternalStores:<name>:ServiceUrl, ...)."
            : $"Bucket '{bucket}' belongs to no configured external store (ExternalStores:<name>:Buckets).";
        return null;
    }

    public void Dispose()
    {
        foreach (var store in _stores.Values)
        {
            store.Dispose();
        }
    }
}
