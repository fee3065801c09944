using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// The labeling queue for many workers on many machines (ILabelingJobs): claims with FOR UPDATE SKIP LOCKED under
/// leases with owner ids; a job whose lease expired is taken over by whichever live worker claims next; a result
/// is stored only while its job is still current and held (the job row is locked while that is checked).
/// </summary>
public sealed partial class PostgresCatalog
{
    public async Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, QueueOptions options, CancellationToken cancellationToken, JobKind kind = JobKind.Image)
    {
        ArgumentNullException.ThrowIfNull(options);
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken, WriteDurability.Recomputable);
        var (connection, transaction) = write;
        await FailAbandonedAsync(connection, transaction, options.MaxAttempts, now, cancellationToken);

        // Two locked picks, each served by its partial index; SKIP LOCKED: jobs another worker is claiming
        // right now are passed over, never waited for.
        var claimed = await QueryAsync(
            connection,
            transaction,
            """
            WITH queued AS (
                SELECT id FROM jobs WHERE state = 'queued' AND kind = @kind AND not_before <= @now ORDER BY id LIMIT @max FOR UPDATE SKIP LOCKED),
            expired AS (
                SELECT id FROM jobs WHERE state = 'running' AND kind = @kind AND lease_until <= @now ORDER BY id LIMIT @max FOR UPDATE SKIP LOCKED),
            picked AS (
                SELECT id FROM (SELECT id FROM queued UNION ALL SELECT id FROM expired) due ORDER BY id LIMIT @max)
            UPDATE jobs j SET state = 'running', lease_owner = @owner, lease_until = @until, attempts = j.attempts + 1, updated_at = @now
            FROM picked WHERE j.id = picked.id
            RETURNING j.id, j.image_id, j.sha256, j.attempts, j.analyses
            """,
            r => (Id: r.GetInt64(0), ImageId: r.GetString(1), Sha: r.GetString(2), Attempt: r.GetInt32(3), Analyses: r.IsDBNull(4) ? null : r.GetString(4)),
            cancellationToken,
            ("owner", owner), ("until", now + (long)options.Lease.TotalMilliseconds), ("now", now), ("max", max), ("kind", kind.Stored()));

        var jobs = new List<ClaimedJob>(claimed.Count);
        foreach (var (id, imageId, sha, attempt, analyses) in claimed.OrderBy(c => c.Id))
        {
            var image = await GetImageAsync(connection, transaction, imageId, cancellationToken);
            if (image is null)
            {
                await ExecuteAsync(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = @now WHERE id = @job", cancellationToken, ("job", id), ("now", now));
                continue;
            }

            // A text job reads a labeled image: its status stays 'labeled'.
            if (kind != JobKind.Text)
            {
                await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'labeling', attempts = @attempt WHERE id = @id", cancellationToken, ("id", imageId), ("attempt", attempt));
            }

            jobs.Add(new ClaimedJob(id, imageId, image.Bucket, image.Key, sha, attempt, owner, analyses is null ? null : AnalysisTasks.ParseList(analyses)));
        }

        await transaction.CommitAsync(cancellationToken);
        return jobs;
    }

    public async Task<bool> CompleteJobAsync(ClaimedJob job, LabelsResult result, double minConfidence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(result);
        var now = Now;
        var analyses = SqliteCatalog.SerializeAnalyses(result.Analyses);
        await using var write = await BeginWriteAsync(cancellationToken, WriteDurability.Recomputable);
        var (connection, transaction) = write;
        if (!await IsCurrentAsync(connection, transaction, job, cancellationToken))
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        var edits = await QueryAsync(connection, transaction, "SELECT name, action FROM label_edits WHERE image_id = @id", r => (Name: r.GetString(0), Action: r.GetString(1)), cancellationToken, ("id", job.ImageId));
        var edited = edits.Select(e => e.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        // rank keeps the model's order (a detected label before its equally confident ancestors). Every label in
        // one statement, every instance in another: arrays, unnested by the server.
        var labels = result.Labels.Select((l, i) => (Label: l, Rank: i + 1)).Where(l => !edited.Contains(l.Label.Name)).ToList();
        await ExecuteAsync(connection, transaction, "DELETE FROM instances WHERE image_id = @id", cancellationToken, ("id", job.ImageId));

        var instances = labels.SelectMany(l => l.Label.Instances.Select(i => (l.Label.Name, Instance: i))).ToList();
        if (instances.Count > 0)
        {
            await ExecuteAsync(
                connection,
                transaction,
                """
                INSERT INTO instances (image_id, name, confidence, box_left, box_top, box_width, box_height, dominant_colors)
                SELECT @id, i.name, i.confidence, i.box_left, i.box_top, i.box_width, i.box_height, i.colors
                FROM unnest(@names::text[], @confidences::float8[], @lefts::float8[], @tops::float8[], @widths::float8[], @heights::float8[], @colors::text[])
                    AS i (name, confidence, box_left, box_top, box_width, box_height, colors)
                """,
                cancellationToken,
                ("id", job.ImageId), ("names", instances.Select(i => i.Name).ToArray()), ("confidences", instances.Select(i => i.Instance.Confidence).ToArray()),
                ("lefts", instances.Select(i => i.Instance.BoundingBox.Left).ToArray()), ("tops", instances.Select(i => i.Instance.BoundingBox.Top).ToArray()),
                ("widths", instances.Select(i => i.Instance.BoundingBox.Width).ToArray()), ("heights", instances.Select(i => i.Instance.BoundingBox.Height).ToArray()),
                ("colors", instances.Select(i => SqliteCatalog.InstanceColorsJson(i.Instance)).ToArray()));
        }

        // A relabel of some analyses keeps the stored properties unless it computed them again.
        if (job.Analyses is null || result.ImageProperties is not null)
        {
            await SavePropertiesAsync(connection, transaction, job.ImageId, result.ImageProperties, cancellationToken);
        }

        await SaveAnalysesAsync(connection, transaction, job.ImageId, analyses, replaceAll: job.Analyses is null, now, cancellationToken, keepText: result.TextFollows);
        await SaveFacesAsync(connection, transaction, job, result.Faces, cancellationToken);
        await ExecuteAsync(connection, transaction, "UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = @now WHERE id = @job", cancellationToken, ("job", job.Id), ("now", now));
        await AfterLabelsAsync(connection, transaction, job, result.TextFollows, now, cancellationToken);
        // Last, just before the commit: the statements whose triggers update label_counts. Its rows (one per label
        // name: Dog, Animal, ...) are shared by every image, so each completing job holds their locks from here to
        // its commit; taken early, they made the other workers' completions queue behind this transaction's
        // remaining round trips (ClusterBench: one worker process kept the cores only half busy).
        await ExecuteAsync(connection, transaction, "DELETE FROM labels WHERE image_id = @id AND source = 'model'", cancellationToken, ("id", job.ImageId));
        await InsertModelLabelsAsync(connection, transaction, job.ImageId, labels, result.LabelModelVersion, minConfidence, cancellationToken);
        // The label rows' search keys in the same round trip as the image row.
        await ExecuteAsync(
            connection,
            transaction,
            $"""
            {RefreshLabelSearchKeys};
            UPDATE images SET status = 'labeled', error = NULL, width = @w, height = @h, format = @format, model_version = @model,
                min_confidence = @min, labeled_at = @now, labeling_ms = @ms
            WHERE id = @id
            """,
            cancellationToken,
            ("id", job.ImageId), ("w", result.Image.Width), ("h", result.Image.Height), ("format", result.Image.Format),
            ("model", result.LabelModelVersion), ("min", minConfidence), ("now", now), ("ms", result.Timings.TotalMs));
        await InsertEventAsync(connection, transaction, CatalogEventType.LabelsReady, job.ImageId, job.Bucket, job.Key, null, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task FailJobAsync(ClaimedJob job, string error, bool permanent, QueueOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(options);
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken, WriteDurability.Recomputable);
        var (connection, transaction) = write;
        if (await IsCurrentAsync(connection, transaction, job, cancellationToken))
        {
            var last = permanent || job.Attempt >= options.MaxAttempts;
            var due = now + (long)options.Backoff(job.Attempt).TotalMilliseconds;
            if (job.IsTextOnly)
            {
                // Reading the text failed: the labels stand; the image keeps its status, the job its error.
                await ExecuteAsync(
                    connection,
                    transaction,
                    "UPDATE jobs SET state = @state, error = @error, not_before = @due, lease_owner = NULL, lease_until = NULL, updated_at = @now WHERE id = @job",
                    cancellationToken,
                    ("job", job.Id), ("state", last ? "failed" : "queued"), ("error", error), ("due", due), ("now", now));
            }
            else if (last)
            {
                await ExecuteAsync(connection, transaction, "UPDATE jobs SET state = 'failed', error = @error, lease_until = NULL, updated_at = @now WHERE id = @job", cancellationToken, ("job", job.Id), ("error", error), ("now", now));
                await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'failed', error = @error WHERE id = @id", cancellationToken, ("id", job.ImageId), ("error", error));
                await InsertEventAsync(connection, transaction, CatalogEventType.LabelingFailed, job.ImageId, job.Bucket, job.Key, null, now, cancellationToken);
            }
            else
            {
                await ExecuteAsync(
                    connection,
                    transaction,
                    "UPDATE jobs SET state = 'queued', error = @error, not_before = @due, lease_owner = NULL, lease_until = NULL, updated_at = @now WHERE id = @job",
                    cancellationToken,
                    ("job", job.Id), ("error", error), ("due", due), ("now", now));
                await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'queued', error = @error WHERE id = @id", cancellationToken, ("id", job.ImageId), ("error", error));
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Makes the running jobs of owners starting with <paramref name="ownerPrefix"/> claimable at once: a worker loop's
    /// own failed batch. (A server does not release "serve:" jobs at start on a shared catalog: other live processes
    /// hold them; a dead process's jobs come back when their leases expire.)
    /// </summary>
    public async Task<int> ReleaseJobsAsync(string ownerPrefix, CancellationToken cancellationToken, bool returnAttempts = false)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(
            connection,
            null,
            $"UPDATE jobs SET lease_until = @now{(returnAttempts ? ", attempts = GREATEST(attempts - 1, 0)" : "")} WHERE state = 'running' AND starts_with(lease_owner, @prefix::text)",
            cancellationToken,
            ("now", Now), ("prefix", ownerPrefix));
    }

    public async Task<bool> RenewLeaseAsync(ClaimedJob job, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(
            connection,
            null,
            "UPDATE jobs SET lease_until = @until, updated_at = @now WHERE id = @job AND state = 'running' AND lease_owner = @owner",
            cancellationToken,
            ("job", job.Id), ("owner", job.Owner), ("until", Now + (long)lease.TotalMilliseconds), ("now", Now)) == 1;
    }

    public async Task<bool> EnqueueRelabelAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        await LockImageAsync(connection, transaction, imageId, cancellationToken);
        var image = await GetImageAsync(connection, transaction, imageId, cancellationToken);
        if (image is null)
        {
            return false;
        }

        await EnqueueJobAsync(connection, transaction, imageId, image.Sha256, Now, cancellationToken);
        await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'queued', attempts = 0 WHERE id = @id", cancellationToken, ("id", imageId));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<string>> EnqueueRelabelAsync(RelabelScope scope, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        var combined = string.Join('+', current.OrderBy(c => c.Key).Select(c => c.Value.Version));
        var where = scope switch
        {
            RelabelScope.Failed => "status = 'failed'",
            RelabelScope.All => "TRUE",
            RelabelScope.ModelOlder => "status = 'labeled' AND media_type = 'video' AND (model_version IS NULL OR model_version <> @model::text)",
            _ => throw new ArgumentOutOfRangeException(nameof(scope)),
        };
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        var images = (await QueryAsync(
            connection,
            transaction,
            $"SELECT id, sha256 FROM images WHERE {where}",
            r => (Id: r.GetString(0), Sha: r.GetString(1), Analyses: (IReadOnlyList<AnalysisTask>?)null),
            cancellationToken,
            scope == RelabelScope.ModelOlder ? [("model", combined)] : [])).ToList();

        if (scope == RelabelScope.ModelOlder)
        {
            var rows = await QueryAsync(
                connection,
                transaction,
                """
                SELECT i.id, i.sha256, r.analysis, r.model_version FROM images i LEFT JOIN analysis_results r ON r.image_id = i.id
                WHERE i.status = 'labeled' AND i.media_type = 'image'
                """,
                r => (Id: r.GetString(0), Sha: r.GetString(1), Analysis: r.IsDBNull(2) ? null : r.GetString(2), Version: r.IsDBNull(3) ? null : r.GetString(3)),
                cancellationToken);
            var shas = rows.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().Sha, StringComparer.Ordinal);
            var stored = rows.GroupBy(r => r.Id).ToDictionary(
                g => g.Key,
                g => (IReadOnlyDictionary<string, string>)g.Where(r => r.Analysis is not null).ToDictionary(r => r.Analysis!, r => r.Version!, StringComparer.Ordinal),
                StringComparer.Ordinal);
            foreach (var (id, tasks) in AnalysisStaleness.StaleAnalyses(stored, current).Where(s => s.Value.Count > 0))
            {
                // Every analysis out of date is a whole relabel; otherwise only the stale ones run.
                images.Add((id, shas[id], tasks.Count == current.Count ? null : tasks));
            }
        }

        foreach (var (id, sha, analyses) in images)
        {
            await LockImageAsync(connection, transaction, id, cancellationToken);
            // Only the text is stale: a text job, and the image stays labeled meanwhile.
            if (analyses is [AnalysisTask.Text])
            {
                await EnqueueJobAsync(connection, transaction, id, sha, now, cancellationToken, analyses, JobKind.Text);
                continue;
            }

            await EnqueueJobAsync(connection, transaction, id, sha, now, cancellationToken, analyses);
            await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'queued', attempts = 0 WHERE id = @id", cancellationToken, ("id", id));
        }

        await transaction.CommitAsync(cancellationToken);
        return images.Select(i => i.Id).ToList();
    }

    public async Task<QueueCounts> GetQueueCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var counts = await CountByAsync(connection, "SELECT state, COUNT(*) FROM jobs GROUP BY state", cancellationToken);
        return new QueueCounts(counts.GetValueOrDefault("queued"), counts.GetValueOrDefault("running"), counts.GetValueOrDefault("done"), counts.GetValueOrDefault("failed"), counts.GetValueOrDefault("superseded"));
    }

    public async Task<long> CountQueuedAsync(long cap, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cap);
        await using var connection = await OpenAsync(cancellationToken);
        // The partial index of queued jobs makes this a scan of at most cap entries.
        return ToLong(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'queued' LIMIT @cap) q", cancellationToken, ("cap", cap)));
    }

    /// <summary>
    /// The job is still the one that counts: running, held by this worker, for the image's current bytes. The job
    /// row stays locked until the transaction ends, so a worker taking over an expired lease waits for (or skips)
    /// it instead of racing the result in.
    /// </summary>
    internal static async Task<bool> IsCurrentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, CancellationToken cancellationToken) =>
        await ScalarAsync(
            connection,
            transaction,
            """
            SELECT 1 FROM jobs j JOIN images i ON i.id = j.image_id
            WHERE j.id = @job AND j.state = 'running' AND j.lease_owner = @owner AND i.sha256 = @sha
            FOR UPDATE OF j
            """,
            cancellationToken,
            ("job", job.Id), ("owner", job.Owner), ("sha", job.Sha256)) is not null;

    /// <summary>
    /// After a full labeling run: with the text analysis configured, a text job is queued for the same bytes (the
    /// stored text stays searchable until it lands); without it, the image's stored text and text row are dropped.
    /// </summary>
    internal static async Task AfterLabelsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, bool textFollows, long now, CancellationToken cancellationToken)
    {
        if (textFollows && (job.Analyses is null || job.Analyses.Contains(AnalysisTask.Text)))
        {
            await EnqueueJobAsync(connection, transaction, job.ImageId, job.Sha256, now, cancellationToken, [AnalysisTask.Text], JobKind.Text);
        }
        else if (!textFollows && job.Analyses is null)
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM text_lines WHERE image_id = @id", cancellationToken, ("id", job.ImageId));
            await ExecuteAsync(connection, transaction, "DELETE FROM analysis_results WHERE image_id = @id AND analysis = 'text'", cancellationToken, ("id", job.ImageId));
        }
    }

    private async Task FailAbandonedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int maxAttempts, long now, CancellationToken cancellationToken)
    {
        var abandoned = await QueryAsync(
            connection,
            transaction,
            """
            UPDATE jobs SET state = 'failed', lease_until = NULL, updated_at = @now,
                error = 'InternalError: labeling did not finish in ' || attempts || ' attempt(s) (the worker crashed or timed out)'
            WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until <= @now AND attempts >= @max FOR UPDATE SKIP LOCKED)
            RETURNING image_id, error
            """,
            r => (ImageId: r.GetString(0), Error: r.GetString(1)),
            cancellationToken,
            ("now", now), ("max", maxAttempts));
        foreach (var (id, error) in abandoned)
        {
            await ExecuteAsync(connection, transaction, "UPDATE images SET status = 'failed', error = @error WHERE id = @id", cancellationToken, ("id", id), ("error", error));
            _logger.LogWarning("Image {Id} failed: its labeling job was abandoned {Max} time(s)", id, maxAttempts);
        }
    }
}
