using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Video;
using Npgsql;
using NpgsqlTypes;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// Videos: metadata, checkpoints (frame detections and the resume point, committed together), completion
/// (segments and video-level labels, in one transaction with the job), cancellation and reads for the API.
/// Every write for a job first checks, and locks, the job (<see cref="IsCurrentAsync"/>), as image jobs do: a
/// checkpoint or completion counts only while the job is current and held, exactly once.
/// </summary>
public sealed partial class PostgresCatalog
{
    /// <inheritdoc cref="SqliteCatalog.SaveVideoMetadataAsync"/>
    public async Task<bool> SaveVideoMetadataAsync(ClaimedJob job, VideoMetadata metadata, string probeJson, string format, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(metadata);
        return await WriteForJobAsync(
            job,
            async (connection, transaction) =>
            {
                await ExecuteAsync(
                    connection,
                    transaction,
                    """
                    INSERT INTO videos (image_id, sha256, codec, format, duration_ms, frame_rate, width, height, color_range, probe)
                    VALUES (@id, @sha, @codec, @format, @duration, @rate, @w, @h, @range, @probe)
                    ON CONFLICT (image_id) DO UPDATE SET sha256 = excluded.sha256, codec = excluded.codec, format = excluded.format,
                        duration_ms = excluded.duration_ms, frame_rate = excluded.frame_rate, width = excluded.width, height = excluded.height,
                        color_range = excluded.color_range, probe = excluded.probe;
                    UPDATE images SET width = @w, height = @h, format = @imageFormat WHERE id = @id
                    """,
                    cancellationToken,
                    ("id", job.ImageId), ("sha", job.Sha256), ("codec", metadata.Codec), ("format", metadata.Format), ("duration", metadata.DurationMillis),
                    ("rate", metadata.FrameRate), ("w", metadata.FrameWidth), ("h", metadata.FrameHeight), ("range", metadata.ColorRange), ("probe", probeJson), ("imageFormat", format));
            },
            cancellationToken);
    }

    /// <inheritdoc cref="SqliteCatalog.GetVideoCheckpointAsync"/>
    public async Task<(long? ProgressMillis, int FramesDone)> GetVideoCheckpointAsync(ClaimedJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(
            connection,
            null,
            "SELECT progress_ms, frames_done FROM jobs WHERE id = @job",
            r => (r.IsDBNull(0) ? (long?)null : r.GetInt64(0), r.GetInt32(1)),
            cancellationToken,
            ("job", job.Id));
        return rows.Count > 0 ? rows[0] : (null, 0);
    }

    /// <inheritdoc cref="SqliteCatalog.SaveVideoCheckpointAsync"/>
    public async Task<bool> SaveVideoCheckpointAsync(
        ClaimedJob job,
        IReadOnlyList<FrameLabels> frames,
        long progressMillis,
        int framesDone,
        TimeSpan lease,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(frames);
        // The last detection of a frame and label wins, as SQLite's INSERT OR REPLACE row by row; one statement
        // may not update the same row twice, so repeats are dropped here first (names are case-insensitive keys).
        var rows = frames
            .SelectMany(f => f.Labels.Select(l => (Time: f.TimestampMillis, Label: l)))
            .GroupBy(r => (r.Time, Name: r.Label.Name.ToUpperInvariant()))
            .Select(g => g.Last())
            .ToList();
        return await WriteForJobAsync(
            job,
            async (connection, transaction) =>
            {
                // Every sample, then every label row, each in one statement (arrays unnested by the server).
                await ExecuteAsync(
                    connection,
                    transaction,
                    "INSERT INTO video_samples (image_id, job_id, timestamp_ms) SELECT @id, @job, t FROM unnest(@times::bigint[]) AS t ON CONFLICT DO NOTHING",
                    cancellationToken,
                    ("id", job.ImageId), ("job", job.Id), ("times", frames.Select(f => f.TimestampMillis).Distinct().ToArray()));
                if (rows.Count > 0)
                {
                    await ExecuteAsync(
                        connection,
                        transaction,
                        """
                        INSERT INTO video_frames (image_id, job_id, timestamp_ms, name, confidence, parents, aliases, categories, instances)
                        SELECT @id, @job, f.t, f.name, f.confidence, f.parents, f.aliases, f.categories, f.instances
                        FROM unnest(@times::bigint[], @names::text[], @confidences::float8[], @parents::text[], @aliases::text[], @categories::text[], @instances::text[])
                            AS f (t, name, confidence, parents, aliases, categories, instances)
                        ON CONFLICT (image_id, job_id, timestamp_ms, name) DO UPDATE SET name = excluded.name, confidence = excluded.confidence,
                            parents = excluded.parents, aliases = excluded.aliases, categories = excluded.categories, instances = excluded.instances
                        """,
                        cancellationToken,
                        ("id", job.ImageId), ("job", job.Id), ("times", rows.Select(r => r.Time).ToArray()), ("names", rows.Select(r => r.Label.Name).ToArray()),
                        ("confidences", rows.Select(r => r.Label.Confidence).ToArray()), ("parents", rows.Select(r => SqliteCatalog.JoinNames(r.Label.Parents)).ToArray()),
                        ("aliases", rows.Select(r => SqliteCatalog.JoinNames(r.Label.Aliases)).ToArray()), ("categories", rows.Select(r => SqliteCatalog.JoinNames(r.Label.Categories)).ToArray()),
                        ("instances", rows.Select(r => JsonSerializer.Serialize(r.Label.Instances, SqliteCatalog.InstanceJson)).ToArray()));
                }

                var now = Now;
                await ExecuteAsync(
                    connection,
                    transaction,
                    "UPDATE jobs SET progress_ms = GREATEST(COALESCE(progress_ms, -1), @progress), frames_done = @frames, lease_until = @until, updated_at = @now WHERE id = @job",
                    cancellationToken,
                    ("job", job.Id), ("progress", progressMillis), ("frames", framesDone), ("until", now + (long)lease.TotalMilliseconds), ("now", now));
            },
            cancellationToken);
    }

    /// <inheritdoc cref="SqliteCatalog.CompleteVideoJobAsync"/>
    public async Task<bool> CompleteVideoJobAsync(ClaimedJob job, VideoCompletion completion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(completion);
        var now = Now;
        return await WriteForJobAsync(
            job,
            async (connection, transaction) =>
            {
                var frames = VideoResults.Frames(await ReadFrameLabelsAsync(connection, transaction, job.ImageId, job.Id, byName: false, 0, int.MaxValue, cancellationToken));
                var samples = await QueryAsync(
                    connection,
                    transaction,
                    "SELECT timestamp_ms FROM video_samples WHERE image_id = @id AND job_id = @job ORDER BY timestamp_ms",
                    r => r.GetInt64(0),
                    cancellationToken,
                    ("id", job.ImageId), ("job", job.Id));
                var duration = await ScalarAsync(connection, transaction, "SELECT duration_ms FROM videos WHERE image_id = @id", cancellationToken, ("id", job.ImageId)) as long?;
                // The last segment of a label and start wins, as SQLite's INSERT OR REPLACE does; COPY takes no duplicates.
                var segments = SegmentBuilder.Build(samples, frames, completion.IntervalMillis, completion.SegmentGapMillis, duration)
                    .GroupBy(s => (Name: s.Name.ToUpperInvariant(), s.StartTimestampMillis))
                    .Select(g => g.Last())
                    .ToList();

                await ExecuteAsync(connection, transaction, "DELETE FROM video_segments WHERE image_id = @id", cancellationToken, ("id", job.ImageId));
                if (segments.Count > 0)
                {
                    await using var copy = await connection.BeginBinaryImportAsync(
                        "COPY video_segments (image_id, name, start_ms, end_ms, confidence, parents, aliases, categories) FROM STDIN (FORMAT BINARY)", cancellationToken);
                    foreach (var segment in segments)
                    {
                        await copy.StartRowAsync(cancellationToken);
                        await copy.WriteAsync(job.ImageId, NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(segment.Name, NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(segment.StartTimestampMillis, NpgsqlDbType.Bigint, cancellationToken);
                        await copy.WriteAsync(segment.EndTimestampMillis, NpgsqlDbType.Bigint, cancellationToken);
                        await copy.WriteAsync(segment.Confidence, NpgsqlDbType.Double, cancellationToken);
                        await copy.WriteAsync(SqliteCatalog.JoinNames(segment.Parents), NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(SqliteCatalog.JoinNames(segment.Aliases), NpgsqlDbType.Text, cancellationToken);
                        await copy.WriteAsync(SqliteCatalog.JoinNames(segment.Categories), NpgsqlDbType.Text, cancellationToken);
                    }

                    await copy.CompleteAsync(cancellationToken);
                }

                await SaveCutsAndFacesAsync(connection, transaction, job.ImageId, completion, completion.FacesAnalysed ? FaceTracks.Build(samples, frames, completion.IntervalMillis, duration) : null, cancellationToken);
                var edited = await QueryAsync(connection, transaction, "SELECT name FROM label_edits WHERE image_id = @id", r => r.GetString(0), cancellationToken, ("id", job.ImageId));
                await ExecuteAsync(connection, transaction, "DELETE FROM labels WHERE image_id = @id AND source = 'model'; DELETE FROM instances WHERE image_id = @id", cancellationToken, ("id", job.ImageId));
                await InsertModelLabelsAsync(connection, transaction, job.ImageId, VideoResults.Labels(frames, edited), completion.ModelVersion, completion.MinConfidence, cancellationToken);
                await ExecuteAsync(connection, transaction, RefreshLabelSearchKeys, cancellationToken, ("id", job.ImageId));

                await ExecuteAsync(
                    connection,
                    transaction,
                    """
                    DELETE FROM video_frames WHERE image_id = @id AND job_id <> @job;
                    DELETE FROM video_samples WHERE image_id = @id AND job_id <> @job;
                    UPDATE videos SET result_job_id = @job, interval_ms = @interval, frames = @frames, model_version = @model WHERE image_id = @id;
                    UPDATE images SET status = 'labeled', error = NULL, format = @format, model_version = @model, min_confidence = @min, labeled_at = @now, labeling_ms = @ms
                    WHERE id = @id;
                    UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = @now WHERE id = @job
                    """,
                    cancellationToken,
                    ("id", job.ImageId), ("job", job.Id), ("interval", (long)completion.IntervalMillis), ("frames", samples.Count), ("model", completion.ModelVersion),
                    ("format", completion.Format), ("min", completion.MinConfidence), ("now", now), ("ms", completion.LabelingMs));
                await AfterLabelsAsync(connection, transaction, job, completion.TextFollows, now, cancellationToken);
                await InsertEventAsync(connection, transaction, CatalogEventType.LabelsReady, job.ImageId, job.Bucket, job.Key, null, now, cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc cref="SqliteCatalog.CancelVideoAsync"/>
    public async Task<bool?> CancelVideoAsync(string imageId, CancellationToken cancellationToken)
    {
        var now = Now;
        await using var write = await BeginWriteAsync(cancellationToken);
        var (connection, transaction) = write;
        var image = await GetImageAsync(connection, transaction, imageId, cancellationToken, forUpdate: true);
        if (image is null || await ScalarAsync(connection, transaction, "SELECT media_type FROM images WHERE id = @id", cancellationToken, ("id", imageId)) is not MediaTypes.Video)
        {
            return null;
        }

        var jobs = await QueryAsync(
            connection,
            transaction,
            "UPDATE jobs SET state = 'failed', error = 'cancelled', lease_until = NULL, updated_at = @now WHERE image_id = @id AND state IN ('queued', 'running') RETURNING id",
            r => r.GetInt64(0),
            cancellationToken,
            ("id", imageId), ("now", now));
        if (jobs.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        await ExecuteAsync(
            connection,
            transaction,
            """
            DELETE FROM video_frames WHERE image_id = @id AND job_id = ANY(@jobs);
            DELETE FROM video_samples WHERE image_id = @id AND job_id = ANY(@jobs);
            UPDATE images SET status = 'failed', error = 'cancelled' WHERE id = @id
            """,
            cancellationToken,
            ("id", imageId), ("jobs", jobs.ToArray()));
        await InsertEventAsync(connection, transaction, CatalogEventType.LabelingFailed, imageId, image.Bucket, image.Key, null, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <inheritdoc cref="SqliteCatalog.GetVideoAsync"/>
    public async Task<VideoRecord?> GetVideoAsync(string imageId, CancellationToken cancellationToken) =>
        (await GetVideosAsync([imageId], cancellationToken)).GetValueOrDefault(imageId);

    /// <inheritdoc cref="SqliteCatalog.GetVideosAsync"/>
    public async Task<Dictionary<string, VideoRecord>> GetVideosAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken);
        var videos = await QueryAsync(
            connection,
            null,
            $"""
            SELECT {VideoResults.VideoColumns}
            FROM images i
            LEFT JOIN videos v ON v.image_id = i.id
            LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE image_id = i.id)
            WHERE i.media_type = 'video' AND i.id = ANY(@ids)
            """,
            VideoResults.ReadVideo,
            cancellationToken,
            IdArray("ids", ids));
        return videos.ToDictionary(v => v.ImageId);
    }

    /// <inheritdoc cref="SqliteCatalog.GetVideoFrameLabelsAsync"/>
    public async Task<IReadOnlyList<VideoFrameLabel>> GetVideoFrameLabelsAsync(string imageId, long resultJobId, bool byName, int offset, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadFrameLabelsAsync(connection, null, imageId, resultJobId, byName, offset, limit, cancellationToken);
    }

    /// <inheritdoc cref="SqliteCatalog.GetVideoSegmentsAsync"/>
    public async Task<IReadOnlyList<LabelSegment>> GetVideoSegmentsAsync(string imageId, IReadOnlyCollection<string>? names, bool byName, int offset, int limit, CancellationToken cancellationToken, double minConfidence = 0)
    {
        var sql = new SqlParameters('@');
        var where = $"image_id = {sql.Add(imageId)}";
        if (minConfidence > 0)
        {
            where += $" AND confidence >= {sql.Add(minConfidence)}";
        }

        if (names is { Count: > 0 })
        {
            // One parameter per name, typed by the CITEXT column: the names match case-insensitively.
            where += $" AND name IN ({sql.List(names)})";
        }

        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(
            connection,
            null,
            $"SELECT {VideoResults.SegmentColumns} FROM video_segments WHERE {where} ORDER BY {(byName ? "name, start_ms" : "start_ms, name")} LIMIT {sql.Add(limit)} OFFSET {sql.Add(offset)}",
            r => VideoResults.ReadSegment(r, 0),
            cancellationToken,
            sql.ToArray());
    }

    /// <inheritdoc cref="SqliteCatalog.GetVideoQueueAsync"/>
    public async Task<IReadOnlyList<VideoQueueEntry>> GetVideoQueueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(
            connection,
            null,
            """
            SELECT j.image_id, i.bucket, i.key, j.state, j.progress_ms, v.duration_ms, j.frames_done
            FROM jobs j JOIN images i ON i.id = j.image_id LEFT JOIN videos v ON v.image_id = j.image_id AND v.sha256 = j.sha256
            WHERE j.kind = 'video' AND j.state IN ('queued', 'running') ORDER BY j.id LIMIT 100
            """,
            r =>
            {
                long? done = r.IsDBNull(4) ? null : r.GetInt64(4);
                long? duration = r.IsDBNull(5) ? null : r.GetInt64(5);
                return new VideoQueueEntry(
                    r.GetString(0),
                    r.GetString(1),
                    r.GetString(2),
                    JobStates.Parse(r.GetString(3)),
                    done,
                    duration,
                    r.GetInt32(6),
                    done is { } p && duration is > 0 ? Math.Round(Math.Clamp(100.0 * p / duration.Value, 0, 100), 1) : null);
            },
            cancellationToken);
    }

    /// <summary>
    /// Writes a job's result in one transaction, first checking the job and locking its row till the end
    /// (<see cref="IsCurrentAsync"/>), so a result counts exactly once; false, with nothing written, when the job
    /// no longer counts (superseded, cancelled, deleted, or taken over by another worker).
    /// </summary>
    private async Task<bool> WriteForJobAsync(ClaimedJob job, Func<NpgsqlConnection, NpgsqlTransaction, Task> write, CancellationToken cancellationToken)
    {
        // A job's result is recomputed if a database crash loses it (the job is still leased): no WAL flush wait.
        await using var transaction = await BeginWriteAsync(cancellationToken, WriteDurability.Recomputable);
        if (!await IsCurrentAsync(transaction.Connection, transaction.Transaction, job, cancellationToken))
        {
            return false;
        }

        await write(transaction.Connection, transaction.Transaction);
        await transaction.Transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Model labels in one statement (arrays, unnested by the server); rank keeps the model's order. Rows go in by
    /// name: each row's trigger locks that name's label_counts row, and transactions that take shared rows in one
    /// order wait for each other instead of deadlocking.
    /// </summary>
    internal static async Task InsertModelLabelsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, IReadOnlyList<(Label Label, int Rank)> labels, string? model, double minConfidence, CancellationToken cancellationToken)
    {
        if (labels.Count == 0)
        {
            return;
        }

        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO labels (image_id, name, confidence, rank, parents, aliases, categories, source, model_version, min_confidence)
            SELECT @id, l.name, l.confidence, l.rank, l.parents, l.aliases, l.categories, 'model', @model, @min
            FROM unnest(@names::text[], @confidences::float8[], @ranks::int[], @parents::text[], @aliases::text[], @categories::text[])
                AS l (name, confidence, rank, parents, aliases, categories)
            ORDER BY l.name
            """,
            cancellationToken,
            ("id", imageId), ("model", model), ("min", minConfidence),
            ("names", labels.Select(l => l.Label.Name).ToArray()), ("confidences", labels.Select(l => l.Label.Confidence).ToArray()),
            ("ranks", labels.Select(l => l.Rank).ToArray()), ("parents", labels.Select(l => SqliteCatalog.JoinNames(l.Label.Parents)).ToArray()),
            ("aliases", labels.Select(l => SqliteCatalog.JoinNames(l.Label.Aliases)).ToArray()), ("categories", labels.Select(l => SqliteCatalog.JoinNames(l.Label.Categories)).ToArray()));
    }

    private static async Task<List<VideoFrameLabel>> ReadFrameLabelsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction? transaction,
        string imageId,
        long jobId,
        bool byName,
        int offset,
        int limit,
        CancellationToken cancellationToken) =>
        await QueryAsync(
            connection,
            transaction,
            $"""
            SELECT {VideoResults.FrameColumns} FROM video_frames
            WHERE image_id = @id AND job_id = @job
            ORDER BY {(byName ? "name, timestamp_ms" : "timestamp_ms, confidence DESC, name")} LIMIT @limit OFFSET @offset
            """,
            VideoResults.ReadFrameLabel,
            cancellationToken,
            ("id", imageId), ("job", jobId), ("limit", limit), ("offset", offset));
}
