using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

/// <summary>Conditional writes (If-None-Match, If-Match); CompleteMultipartUpload's idempotence is in <see cref="S3Multipart"/>.</summary>
public sealed partial class S3Handler
{
    /// <summary>
    /// Conditional writes of one key are checked and stored one at a time (keys hash to one of these), so two
    /// `If-None-Match: *` writers of the same key cannot both win. This serialises conditional writers in this
    /// process only.
    /// </summary>
    private readonly SemaphoreSlim[] _conditionalWriteLocks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>
    /// Checks the request's write preconditions against the object as it is now: `If-None-Match: *` needs it
    /// absent, `If-Match: ETAG` needs it present with that ETag (412 PreconditionFailed otherwise; If-Match on a
    /// missing key is 404 NoSuchKey, as in S3). Holds the key's lock until disposed, so the write that follows
    /// is the one the check was for. Null when the request has no preconditions.
    /// </summary>
    private async Task<IDisposable?> WritePreconditionsAsync(HttpRequest request, string bucket, string key, CancellationToken ct)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString().Trim();
        var ifMatch = request.Headers.IfMatch.ToString().Trim();
        if (ifNoneMatch.Length == 0 && ifMatch.Length == 0)
        {
            return null;
        }

        if (ifNoneMatch.Length > 0 && ifNoneMatch != "*")
        {
            throw S3Exception.NotImplemented("If-None-Match with an ETag on a write (only '*' is supported, as in S3)");
        }

        var gate = _conditionalWriteLocks[(int)((uint)StringComparer.Ordinal.GetHashCode($"{bucket}\n{key}") % (uint)_conditionalWriteLocks.Length)];
        await gate.WaitAsync(ct);
        try
        {
            var current = await catalog.GetImageAsync(bucket, key, ct);
            if (ifNoneMatch.Length > 0 && current is not null)
            {
                throw PreconditionFailed("If-None-Match");
            }

            if (ifMatch.Length > 0)
            {
                if (current is null)
                {
                    throw S3Exception.NoSuchKey();
                }

                var etag = (await metadata.GetAsync(bucket, key, current.Sha256, ct))?.ETag ?? current.ETag;
                if (ifMatch != "*" && !EtagMatches(ifMatch, etag))
                {
                    throw PreconditionFailed("If-Match");
                }
            }

            return new Releaser(gate);
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private static S3Exception PreconditionFailed(string condition) =>
        new("PreconditionFailed", 412, $"At least one of the pre-conditions you specified did not hold ({condition}).");

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
