using LabelLens.Analysis;
using LabelLens.Labels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace LabelLens.Storage;

public sealed partial class SqliteCatalog
{
    /// <summary>
    /// Claims up to <paramref name="max"/> due jobs under a lease: queued jobs whose backoff has passed, and
    /// running jobs whose lease expired (their worker crashed or hung). One transaction for the batch.
    /// Running jobs that already used every attempt are failed instead of claimed again, so an input that
    /// crashes the process cannot loop forever.
    /// </summary>
    /// <param name="kind">Which jobs: <see cref="JobKind.Image"/> (the image workers, the CLI) or <see cref="JobKind.Video"/> (the video worker).</param>
    public async Task<IReadOnlyList<ClaimedJob>> ClaimJobsAsync(string owner, int max, QueueOptions options, CancellationToken cancellationToken, JobKind kind = JobKind.Image)
    {
        ArgumentNullException.ThrowIfNull(options);
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        await FailAbandonedAsync(connection, transaction, options.MaxAttempts, now, cancellationToken);

        var claimed = new List<(long Id, string ImageId, string Sha, int Attempt, string? Analyses)>();
        await using (var command = Command(
            connection,
            transaction,
            """
            UPDATE jobs SET state = 'running', lease_owner = $owner, lease_until = $until, attempts = attempts + 1, updated_at = $now
            WHERE id IN (
                SELECT id FROM jobs WHERE state = 'queued' AND not_before <= $now AND kind = $kind
                UNION ALL
                SELECT id FROM jobs WHERE state = 'running' AND lease_until <= $now AND kind = $kind
                ORDER BY id LIMIT $max)
            RETURNING id, image_id, sha256, attempts, analyses
            """,
            ("$owner", owner), ("$until", now + (long)options.Lease.TotalMilliseconds), ("$now", now), ("$max", max), ("$kind", kind.Stored())))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        var jobs = new List<ClaimedJob>(claimed.Count);
        foreach (var (id, imageId, sha, attempt, analyses) in claimed.OrderBy(c => c.Id))
        {
            var image = await GetImageAsync(connection, transaction, imageId, cancellationToken);
            if (image is null)
            {
                Execute(connection, transaction, "UPDATE jobs SET state = 'superseded', updated_at = $now WHERE id = $job", ("$job", id), ("$now", now));
                continue;
            }

            // A text job reads a labeled image: its status stays 'labeled'.
            if (kind != JobKind.Text)
            {
                Execute(connection, transaction, "UPDATE images SET status = 'labeling', attempts = $attempt WHERE id = $id", ("$id", imageId), ("$attempt", attempt));
            }

            jobs.Add(new ClaimedJob(id, imageId, image.Bucket, image.Key, sha, attempt, owner, analyses is null ? null : AnalysisTasks.ParseList(analyses)));
        }

        await transaction.CommitAsync(cancellationToken);
        return jobs;
    }

    /// <summary>
    /// Stores a job's labels and marks image and job done, in one transaction, unless the job was
    /// superseded (new bytes, a delete) or its lease was lost to another worker: then the result is dropped.
    /// Labels a person removed stay removed; labels a person added stay.
    /// </summary>
    /// <returns>True when the labels were stored.</returns>
    public async Task<bool> CompleteJobAsync(ClaimedJob job, LabelsResult result, double minConfidence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(result);
        var now = Now;
        var analyses = SerializeAnalyses(result.Analyses);
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        var removed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var added = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var command = Command(connection, transaction, "SELECT name, action FROM label_edits WHERE image_id = $id", ("$id", job.ImageId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                (reader.GetString(1) == "remove" ? removed : added).Add(reader.GetString(0));
            }
        }

        Execute(connection, transaction, "DELETE FROM labels WHERE image_id = $id AND source = 'model'", ("$id", job.ImageId));
        Execute(connection, transaction, "DELETE FROM instances WHERE image_id = $id", ("$id", job.ImageId));
        using var insertLabel = new SqliteBatch(
            connection,
            transaction,
            """
            INSERT INTO labels (image_id, name, confidence, rank, parents, aliases, categories, source, model_version, min_confidence)
            VALUES ($id, $name, $confidence, $rank, $parents, $aliases, $categories, 'model', $model, $min)
            """,
            "$id", "$name", "$confidence", "$rank", "$parents", "$aliases", "$categories", "$model", "$min");
        using var insertInstance = new SqliteBatch(
            connection,
            transaction,
            "INSERT INTO instances (image_id, name, confidence, box_left, box_top, box_width, box_height, dominant_colors) VALUES ($id, $name, $c, $l, $t, $w, $h, $colors)",
            "$id", "$name", "$c", "$l", "$t", "$w", "$h", "$colors");
        // rank keeps the model's order (a detected label before its equally confident ancestors).
        foreach (var (label, rank) in result.Labels.Select((l, i) => (l, i + 1)).Where(l => !removed.Contains(l.l.Name) && !added.Contains(l.l.Name)))
        {
            insertLabel.Run(
                job.ImageId, label.Name, label.Confidence, rank, JoinNames(label.Parents), JoinNames(label.Aliases), JoinNames(label.Categories),
                result.LabelModelVersion, minConfidence);
            foreach (var instance in label.Instances)
            {
                var box = instance.BoundingBox;
                insertInstance.Run(job.ImageId, label.Name, instance.Confidence, box.Left, box.Top, box.Width, box.Height, InstanceColorsJson(instance));
            }
        }

        Execute(connection, transaction, RefreshLabelSearchKeys, ("$id", job.ImageId));

        // A relabel of some analyses keeps the stored properties unless it computed them again.
        if (job.Analyses is null || result.ImageProperties is not null)
        {
            SaveProperties(connection, transaction, job.ImageId, result.ImageProperties);
        }

        SaveAnalyses(connection, transaction, job.ImageId, analyses, replaceAll: job.Analyses is null, now, keepText: result.TextFollows);
        SaveFaces(connection, transaction, job, result.Faces);
        Execute(
            connection,
            transaction,
            """
            UPDATE images SET status = 'labeled', error = NULL, width = $w, height = $h, format = $format, model_version = $model,
                min_confidence = $min, labeled_at = $now, labeling_ms = $ms
            WHERE id = $id
            """,
            ("$id", job.ImageId), ("$w", result.Image.Width), ("$h", result.Image.Height), ("$format", result.Image.Format),
            ("$model", result.LabelModelVersion), ("$min", minConfidence), ("$now", now), ("$ms", result.Timings.TotalMs));
        Execute(connection, transaction, "UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$now", now));
        AfterLabels(connection, transaction, job, result.TextFollows, now);
        InsertEvent(connection, transaction, CatalogEventType.LabelsReady, job.ImageId, job.Bucket, job.Key, null, now);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Records a failed attempt. A permanent failure (the input is not an image) or the last attempt fails
    /// the job and the image with the error kept; otherwise the job waits out an exponential backoff.
    /// </summary>
    public async Task FailJobAsync(ClaimedJob job, string error, bool permanent, QueueOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(options);
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (IsCurrent(connection, transaction, job) && job.IsTextOnly)
        {
            // Reading the text failed: the labels stand; the image keeps its status, the job its error.
            var state = permanent || job.Attempt >= options.MaxAttempts ? "failed" : "queued";
            var due = now + (long)options.Backoff(job.Attempt).TotalMilliseconds;
            Execute(connection, transaction, "UPDATE jobs SET state = $state, error = $error, not_before = $due, lease_owner = NULL, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$state", state), ("$error", error), ("$due", due), ("$now", now));
        }
        else if (IsCurrent(connection, transaction, job))
        {
            if (permanent || job.Attempt >= options.MaxAttempts)
            {
                Execute(connection, transaction, "UPDATE jobs SET state = 'failed', error = $error, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$error", error), ("$now", now));
                Execute(connection, transaction, "UPDATE images SET status = 'failed', error = $error WHERE id = $id", ("$id", job.ImageId), ("$error", error));
                InsertEvent(connection, transaction, CatalogEventType.LabelingFailed, job.ImageId, job.Bucket, job.Key, null, now);
            }
            else
            {
                var due = now + (long)options.Backoff(job.Attempt).TotalMilliseconds;
                Execute(connection, transaction, "UPDATE jobs SET state = 'queued', error = $error, not_before = $due, lease_owner = NULL, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$error", error), ("$due", due), ("$now", now));
                Execute(connection, transaction, "UPDATE images SET status = 'queued', error = $error WHERE id = $id", ("$id", job.ImageId), ("$error", error));
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Makes the jobs held by owners starting with <paramref name="ownerPrefix"/> claimable at once. Called
    /// by a server at start for its own earlier (now dead) incarnations: it holds the data folder's lock,
    /// so no other server can own them, and waiting for their leases would only delay recovery. A worker loop
    /// also calls it for its own jobs after the catalog failed to take their results (a full disk).
    /// </summary>
    public async Task<int> ReleaseJobsAsync(string ownerPrefix, CancellationToken cancellationToken, bool returnAttempts = false)
    {
        await using var connection = Open();
        var released = Execute(
            connection,
            null,
            $"UPDATE jobs SET lease_until = $now{(returnAttempts ? ", attempts = max(attempts - 1, 0)" : "")} WHERE state = 'running' AND substr(lease_owner, 1, length($prefix)) = $prefix",
            ("$now", Now), ("$prefix", ownerPrefix));
        if (released > 0)
        {
            _logger.LogWarning("{Count} labeling job(s) held by {Owner} (a stopped server, or a batch whose results could not be written) were released; they will run again", released, ownerPrefix);
        }

        return released;
    }

    /// <summary>Queues a relabel of one image; its current labels stay searchable until the new ones land.</summary>
    public async Task<bool> EnqueueRelabelAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var image = await GetImageAsync(connection, transaction, imageId, cancellationToken);
        if (image is null)
        {
            return false;
        }

        EnqueueJob(connection, transaction, imageId, image.Sha256, Now);
        Execute(connection, transaction, "UPDATE images SET status = 'queued', attempts = 0 WHERE id = $id", ("$id", imageId));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Queues relabels in bulk; returns the ids queued. <see cref="RelabelScope.ModelOlder"/> compares each
    /// analysis's stored model with <paramref name="current"/>: an image whose detector result is current but
    /// that has no classifier result gets a job for the classifier alone. Videos are relabeled whole.
    /// </summary>
    public async Task<IReadOnlyList<string>> EnqueueRelabelAsync(RelabelScope scope, IReadOnlyDictionary<AnalysisTask, ModelIdentity> current, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        var combined = string.Join('+', current.OrderBy(c => c.Key).Select(c => c.Value.Version));
        var where = scope switch
        {
            RelabelScope.Failed => "status = 'failed'",
            RelabelScope.All => "1 = 1",
            RelabelScope.ModelOlder => "status = 'labeled' AND media_type = 'video' AND (model_version IS NULL OR model_version <> $model)",
            _ => throw new ArgumentOutOfRangeException(nameof(scope)),
        };
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var images = new List<(string Id, string Sha, IReadOnlyList<AnalysisTask>? Analyses)>();
        await using (var command = Command(connection, transaction, $"SELECT id, sha256 FROM images WHERE {where}", ("$model", combined)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                images.Add((reader.GetString(0), reader.GetString(1), null));
            }
        }

        if (scope == RelabelScope.ModelOlder)
        {
            var stale = await StaleAnalysesAsync(connection, transaction, current, cancellationToken);
            var shas = new Dictionary<string, string>(StringComparer.Ordinal);
            await using (var command = Command(connection, transaction, "SELECT id, sha256 FROM images WHERE status = 'labeled' AND media_type = 'image'"))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    shas[reader.GetString(0)] = reader.GetString(1);
                }
            }

            foreach (var (id, tasks) in stale.Where(s => s.Value.Count > 0))
            {
                // Every analysis out of date is a whole relabel; otherwise only the stale ones run.
                images.Add((id, shas[id], tasks.Count == current.Count ? null : tasks));
            }
        }

        foreach (var (id, sha, analyses) in images)
        {
            // Only the text is stale: a text job, and the image stays labeled meanwhile.
            if (analyses is [AnalysisTask.Text])
            {
                EnqueueJob(connection, transaction, id, sha, now, analyses, JobKind.Text);
                continue;
            }

            EnqueueJob(connection, transaction, id, sha, now, analyses);
            Execute(connection, transaction, "UPDATE images SET status = 'queued', attempts = 0 WHERE id = $id", ("$id", id));
        }

        await transaction.CommitAsync(cancellationToken);
        return images.Select(i => i.Id).ToList();
    }

    /// <summary>Adds a label by hand (confidence 100); it survives every relabel.</summary>
    public async Task<bool> AddManualLabelAsync(string imageId, string name, IReadOnlyList<NamedItem> parents, IReadOnlyList<NamedItem> categories, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        if (await GetImageAsync(connection, transaction, imageId, cancellationToken) is null)
        {
            return false;
        }

        Execute(connection, transaction, "DELETE FROM labels WHERE image_id = $id AND name = $name", ("$id", imageId), ("$name", name));
        Execute(
            connection,
            transaction,
            "INSERT INTO labels (image_id, name, confidence, parents, aliases, categories, source) VALUES ($id, $name, 100, $parents, '', $categories, 'manual')",
            ("$id", imageId), ("$name", name), ("$parents", JoinNames(parents)), ("$categories", JoinNames(categories)));
        Execute(connection, transaction, RefreshLabelSearchKeys, ("$id", imageId));
        Execute(connection, transaction, "INSERT OR REPLACE INTO label_edits (image_id, name, action, created_at) VALUES ($id, $name, 'add', $now)", ("$id", imageId), ("$name", name), ("$now", Now));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Removes a label by hand; a relabel will not bring it back.</summary>
    public async Task<bool> RemoveManualLabelAsync(string imageId, string name, CancellationToken cancellationToken)
    {
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        if (await GetImageAsync(connection, transaction, imageId, cancellationToken) is null)
        {
            return false;
        }

        Execute(connection, transaction, "DELETE FROM labels WHERE image_id = $id AND name = $name", ("$id", imageId), ("$name", name));
        Execute(connection, transaction, "DELETE FROM instances WHERE image_id = $id AND name = $name", ("$id", imageId), ("$name", name));
        Execute(connection, transaction, RefreshLabelSearchKeys, ("$id", imageId));
        Execute(connection, transaction, "INSERT OR REPLACE INTO label_edits (image_id, name, action, created_at) VALUES ($id, $name, 'remove', $now)", ("$id", imageId), ("$name", name), ("$now", Now));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The job is still the one that counts: running, held by this worker, for the image's current bytes.</summary>
    private static bool IsCurrent(SqliteConnection connection, SqliteTransaction transaction, ClaimedJob job) =>
        Convert.ToInt64(Scalar(
            connection,
            transaction,
            """
            SELECT COUNT(*) FROM jobs j JOIN images i ON i.id = j.image_id
            WHERE j.id = $job AND j.state = 'running' AND j.lease_owner = $owner AND i.sha256 = $sha
            """,
            ("$job", job.Id), ("$owner", job.Owner), ("$sha", job.Sha256))) == 1;

    private async Task FailAbandonedAsync(SqliteConnection connection, SqliteTransaction transaction, int maxAttempts, long now, CancellationToken cancellationToken)
    {
        var abandoned = new List<string>();
        await using (var command = Command(
            connection,
            transaction,
            """
            UPDATE jobs SET state = 'failed', lease_until = NULL, updated_at = $now,
                error = 'InternalError: labeling did not finish in ' || attempts || ' attempt(s) (the worker crashed or timed out)'
            WHERE state = 'running' AND lease_until <= $now AND attempts >= $max
            RETURNING image_id
            """,
            ("$now", now), ("$max", maxAttempts)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                abandoned.Add(reader.GetString(0));
            }
        }

        foreach (var id in abandoned)
        {
            Execute(connection, transaction, "UPDATE images SET status = 'failed', error = (SELECT error FROM jobs WHERE image_id = $id ORDER BY id DESC LIMIT 1) WHERE id = $id", ("$id", id));
            _logger.LogWarning("Image {Id} failed: its labeling job was abandoned {Max} time(s)", id, maxAttempts);
        }
    }
}
