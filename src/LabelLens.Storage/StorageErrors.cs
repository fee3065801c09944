namespace LabelLens.Storage;

/// <summary>Why a storage request was refused; names follow S3's error codes so the S3 endpoint can reuse them.</summary>
public enum StorageError
{
    InvalidBucketName,
    InvalidKey,
    NoSuchBucket,
    NoSuchKey,
    EntityTooLarge,
    BucketNotEmpty,

    /// <summary>The server is behind (its labeling backlog is full): try again later.</summary>
    SlowDown,

    /// <summary>The data folder's disk is full (or below Server:MinFreeDiskBytes): nothing was written.</summary>
    DiskFull,
}

/// <summary>A request the store refuses because of what was asked (never an internal failure).</summary>
public sealed class StorageException : Exception
{
    public StorageException(StorageError error, string message)
        : base(message) => Error = error;

    public StorageException()
        : this(StorageError.InvalidKey, "The storage request was refused.")
    {
    }

    public StorageException(string message)
        : this(StorageError.InvalidKey, message)
    {
    }

    public StorageException(string message, Exception inner)
        : base(message, inner) => Error = StorageError.InvalidKey;

    public StorageException(StorageError error, string message, Exception inner)
        : base(message, inner) => Error = error;

    public StorageError Error { get; }
}
