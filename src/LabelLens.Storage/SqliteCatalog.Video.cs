using System.Text.Json;
using LabelLens.Labels;
using LabelLens.Video;
using Microsoft.Data.Sqlite;

namespace LabelLens.Storage;

/// <summary>
/// Videos: metadata, checkpoints (frame detections and the resume point, committed together), completion
/// (segments and video-level labels, in one transaction with the job), cancellation and reads for the API.
/// Every write for a job checks that the job still counts (<see cref="IsCurrent"/>), as image jobs do.
/// </summary>
public sealed partial class SqliteCatalog
{
    internal static readonly JsonSerializerOptions InstanceJson = new(JsonSerializerDefaults.General);

    /// <summary>Stores ffprobe's findings for the job's bytes; the image row gets the frame size.</summary>
    public async Task<bool> SaveVideoMetadataAsync(ClaimedJob job, VideoMetadata metadata, string probeJson, string format, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(metadata);
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            return false;
        }

        Execute(
            connection,
            transaction,
            """
            INSERT INTO videos (image_id, sha256, codec, format, duration_ms, frame_rate, width, height, color_range, probe)
            VALUES ($id, $sha, $codec, $format, $duration, $rate, $w, $h, $range, $probe)
            ON CONFLICT (image_id) DO UPDATE SET sha256 = excluded.sha256, codec = excluded.codec, format = excluded.format,
                duration_ms = excluded.duration_ms, frame_rate = excluded.frame_rate, width = excluded.width, height = excluded.height,
                color_range = excluded.color_range, probe = excluded.probe
            """,
            ("$id", job.ImageId), ("$sha", job.Sha256), ("$codec", metadata.Codec), ("$format", metadata.Format), ("$duration", metadata.DurationMillis),
            ("$rate", metadata.FrameRate), ("$w", metadata.FrameWidth), ("$h", metadata.FrameHeight), ("$range", metadata.ColorRange), ("$probe", probeJson));
        Execute(connection, transaction, "UPDATE images SET width = $w, height = $h, format = $format WHERE id = $id", ("$id", job.ImageId), ("$w", metadata.FrameWidth), ("$h", metadata.FrameHeight), ("$format", format));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Where a (resumed) video job continues: the last committed frame's time, and frames done so far.</summary>
    public async Task<(long? ProgressMillis, int FramesDone)> GetVideoCheckpointAsync(ClaimedJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var connection = Open();
        await using var command = Command(connection, null, "SELECT progress_ms, frames_done FROM jobs WHERE id = $job", ("$job", job.Id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.IsDBNull(0) ? null : reader.GetInt64(0), reader.GetInt32(1)) : (null, 0);
    }

    /// <summary>
    /// The heartbeat of a long job: extends its lease. False when the job no longer counts (superseded by new
    /// bytes, deleted, cancelled, or taken by another worker): the worker stops.
    /// </summary>
    public async Task<bool> RenewLeaseAsync(ClaimedJob job, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            return false;
        }

        Execute(connection, transaction, "UPDATE jobs SET lease_until = $until WHERE id = $job", ("$job", job.Id), ("$until", Now + (long)lease.TotalMilliseconds));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Commits a batch of frames and the resume point together: after a crash the job continues after
    /// <paramref name="progressMillis"/> with every frame up to it stored exactly once (frames are keyed by
    /// job and time, so a frame written twice replaces itself). Also renews the lease.
    /// </summary>
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
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            return false;
        }

        await using (var sample = Command(connection, transaction, "INSERT OR IGNORE INTO video_samples (image_id, job_id, timestamp_ms) VALUES ($id, $job, $t)", ("$id", job.ImageId), ("$job", job.Id), ("$t", 0L)))
        await using (var row = Command(
            connection,
            transaction,
            """
            INSERT OR REPLACE INTO video_frames (image_id, job_id, timestamp_ms, name, confidence, parents, aliases, categories, instances)
            VALUES ($id, $job, $t, $name, $c, $parents, $aliases, $categories, $instances)
            """,
            ("$id", job.ImageId), ("$job", job.Id), ("$t", 0L), ("$name", ""), ("$c", 0.0), ("$parents", ""), ("$aliases", ""), ("$categories", ""), ("$instances", "")))
        {
            foreach (var frame in frames)
            {
                sample.Parameters["$t"].Value = frame.TimestampMillis;
                await sample.ExecuteNonQueryAsync(cancellationToken);
                foreach (var label in frame.Labels)
                {
                    row.Parameters["$t"].Value = frame.TimestampMillis;
                    row.Parameters["$name"].Value = label.Name;
                    row.Parameters["$c"].Value = label.Confidence;
                    row.Parameters["$parents"].Value = JoinNames(label.Parents);
                    row.Parameters["$aliases"].Value = JoinNames(label.Aliases);
                    row.Parameters["$categories"].Value = JoinNames(label.Categories);
                    row.Parameters["$instances"].Value = JsonSerializer.Serialize(label.Instances, InstanceJson);
                    await row.ExecuteNonQueryAsync(cancellationToken);
                }
            }
        }

        Execute(
            connection,
            transaction,
            "UPDATE jobs SET progress_ms = MAX(COALESCE(progress_ms, -1), $progress), frames_done = $frames, lease_until = $until, updated_at = $now WHERE id = $job",
            ("$job", job.Id), ("$progress", progressMillis), ("$frames", framesDone), ("$until", Now + (long)lease.TotalMilliseconds), ("$now", Now));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Finishes a video job in one transaction: reads every frame the job committed, merges them into
    /// segments, stores the segments and the video-level labels (best confidence per label, so search by
    /// label finds the video; labels a person removed stay removed), makes this job's frames the current
    /// result (older jobs' frames go), marks image and job done and records LabelsReady. Dropped, like an
    /// image result, when the job no longer counts.
    /// </summary>
    public async Task<bool> CompleteVideoJobAsync(ClaimedJob job, VideoCompletion completion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(completion);
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Recomputable, cancellationToken);
        var (connection, transaction) = write;
        if (!IsCurrent(connection, transaction, job))
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        var frames = VideoResults.Frames(await ReadFrameLabelsAsync(connection, transaction, job.ImageId, job.Id, byName: false, 0, int.MaxValue, cancellationToken));
        var samples = new List<long>();
        await using (var command = Command(connection, transaction, "SELECT timestamp_ms FROM video_samples WHERE image_id = $id AND job_id = $job ORDER BY timestamp_ms", ("$id", job.ImageId), ("$job", job.Id)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                samples.Add(reader.GetInt64(0));
            }
        }

        var duration = Scalar(connection, transaction, "SELECT duration_ms FROM videos WHERE image_id = $id", ("$id", job.ImageId)) is long d ? d : (long?)null;
        var segments = SegmentBuilder.Build(samples, frames, completion.IntervalMillis, completion.SegmentGapMillis, duration);

        Execute(connection, transaction, "DELETE FROM video_segments WHERE image_id = $id", ("$id", job.ImageId));
        foreach (var segment in segments)
        {
            Execute(
                connection,
                transaction,
                """
                INSERT OR REPLACE INTO video_segments (image_id, name, start_ms, end_ms, confidence, parents, aliases, categories)
                VALUES ($id, $name, $start, $end, $c, $parents, $aliases, $categories)
                """,
                ("$id", job.ImageId), ("$name", segment.Name), ("$start", segment.StartTimestampMillis), ("$end", segment.EndTimestampMillis), ("$c", segment.Confidence),
                ("$parents", JoinNames(segment.Parents)), ("$aliases", JoinNames(segment.Aliases)), ("$categories", JoinNames(segment.Categories)));
        }

        SaveCutsAndFaces(connection, transaction, job.ImageId, completion, completion.FacesAnalysed ? FaceTracks.Build(samples, frames, completion.IntervalMillis, duration) : null);

        var edited = new List<string>();
        await using (var command = Command(connection, transaction, "SELECT name FROM label_edits WHERE image_id = $id", ("$id", job.ImageId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                edited.Add(reader.GetString(0));
            }
        }

        Execute(connection, transaction, "DELETE FROM labels WHERE image_id = $id AND source = 'model'", ("$id", job.ImageId));
        Execute(connection, transaction, "DELETE FROM instances WHERE image_id = $id", ("$id", job.ImageId));
        foreach (var (label, rank) in VideoResults.Labels(frames, edited))
        {
            Execute(
                connection,
                transaction,
                """
                INSERT INTO labels (image_id, name, confidence, rank, parents, aliases, categories, source, model_version, min_confidence)
                VALUES ($id, $name, $confidence, $rank, $parents, $aliases, $categories, 'model', $model, $min)
                """,
                ("$id", job.ImageId), ("$name", label.Name), ("$confidence", label.Confidence), ("$rank", rank), ("$parents", JoinNames(label.Parents)),
                ("$aliases", JoinNames(label.Aliases)), ("$categories", JoinNames(label.Categories)), ("$model", completion.ModelVersion), ("$min", completion.MinConfidence));
        }

        Execute(connection, transaction, RefreshLabelSearchKeys, ("$id", job.ImageId));

        Execute(connection, transaction, "DELETE FROM video_frames WHERE image_id = $id AND job_id <> $job", ("$id", job.ImageId), ("$job", job.Id));
        Execute(connection, transaction, "DELETE FROM video_samples WHERE image_id = $id AND job_id <> $job", ("$id", job.ImageId), ("$job", job.Id));
        Execute(
            connection,
            transaction,
            "UPDATE videos SET result_job_id = $job, interval_ms = $interval, frames = $frames, model_version = $model WHERE image_id = $id",
            ("$id", job.ImageId), ("$job", job.Id), ("$interval", completion.IntervalMillis), ("$frames", samples.Count), ("$model", completion.ModelVersion));
        Execute(
            connection,
            transaction,
            """
            UPDATE images SET status = 'labeled', error = NULL, format = $format, model_version = $model, min_confidence = $min, labeled_at = $now, labeling_ms = $ms
            WHERE id = $id
            """,
            ("$id", job.ImageId), ("$format", completion.Format), ("$model", completion.ModelVersion), ("$min", completion.MinConfidence), ("$now", now), ("$ms", completion.LabelingMs));
        Execute(connection, transaction, "UPDATE jobs SET state = 'done', error = NULL, lease_until = NULL, updated_at = $now WHERE id = $job", ("$job", job.Id), ("$now", now));
        AfterLabels(connection, transaction, job, completion.TextFollows, now);
        InsertEvent(connection, transaction, CatalogEventType.LabelsReady, job.ImageId, job.Bucket, job.Key, null, now);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Cancels a video's queued or running job: failed with "cancelled" (the image too), its partial frames
    /// dropped. A worker running it finds the job no longer current at its next heartbeat or checkpoint.
    /// </summary>
    /// <returns>Null when there is no such video; false when it had no job to cancel.</returns>
    public async Task<bool?> CancelVideoAsync(string imageId, CancellationToken cancellationToken)
    {
        var now = Now;
        await using var write = await BeginWriteAsync(WriteDurability.Full, cancellationToken);
        var (connection, transaction) = write;
        var image = await GetImageAsync(connection, transaction, imageId, cancellationToken);
        if (image is null || !IsVideo(connection, transaction, imageId))
        {
            return null;
        }

        var jobs = new List<long>();
        await using (var command = Command(
            connection,
            transaction,
            "UPDATE jobs SET state = 'failed', error = 'cancelled', lease_until = NULL, updated_at = $now WHERE image_id = $id AND state IN ('queued', 'running') RETURNING id",
            ("$id", imageId), ("$now", now)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                jobs.Add(reader.GetInt64(0));
            }
        }

        if (jobs.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        foreach (var job in jobs)
        {
            Execute(connection, transaction, "DELETE FROM video_frames WHERE image_id = $id AND job_id = $job", ("$id", imageId), ("$job", job));
            Execute(connection, transaction, "DELETE FROM video_samples WHERE image_id = $id AND job_id = $job", ("$id", imageId), ("$job", job));
        }

        Execute(connection, transaction, "UPDATE images SET status = 'failed', error = 'cancelled' WHERE id = $id", ("$id", imageId));
        InsertEvent(connection, transaction, CatalogEventType.LabelingFailed, imageId, image.Bucket, image.Key, null, now);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The video with its metadata and latest job; null when the id is not a video.</summary>
    public async Task<VideoRecord?> GetVideoAsync(string imageId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return (await ReadVideosAsync(connection, [imageId], cancellationToken)).GetValueOrDefault(imageId);
    }

    /// <summary>The videos among <paramref name="ids"/> (search results, details), keyed by id.</summary>
    public async Task<Dictionary<string, VideoRecord>> GetVideosAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await ReadVideosAsync(connection, ids, cancellationToken);
    }

    /// <summary>Per-frame labels of a video's current result, by time (then name) or by name (then time).</summary>
    public async Task<IReadOnlyList<VideoFrameLabel>> GetVideoFrameLabelsAsync(string imageId, long resultJobId, bool byName, int offset, int limit, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await ReadFrameLabelsAsync(connection, null, imageId, resultJobId, byName, offset, limit, cancellationToken);
    }

    /// <summary>A video's segments, by start time (then name) or by name (then start); optionally only some labels, and only those at least <paramref name="minConfidence"/> (the segment's best).</summary>
    public async Task<IReadOnlyList<LabelSegment>> GetVideoSegmentsAsync(string imageId, IReadOnlyCollection<string>? names, bool byName, int offset, int limit, CancellationToken cancellationToken, double minConfidence = 0)
    {
        await using var connection = Open();
        var parameters = new List<(string, object?)> { ("$id", imageId), ("$offset", offset), ("$limit", limit) };
        var filter = "";
        if (minConfidence > 0)
        {
            filter = " AND confidence >= $min";
            parameters.Add(("$min", minConfidence));
        }

        if (names is { Count: > 0 })
        {
            filter += " AND name IN (" + string.Join(", ", names.Select((n, i) =>
            {
                parameters.Add(($"$n{i}", n));
                return $"$n{i}";
            })) + ")";
        }

        await using var command = Command(
            connection,
            null,
            $"""
            SELECT {VideoResults.SegmentColumns} FROM video_segments WHERE image_id = $id{filter}
            ORDER BY {(byName ? "name, start_ms" : "start_ms, name")} LIMIT $limit OFFSET $offset
            """,
            [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var segments = new List<LabelSegment>();
        while (await reader.ReadAsync(cancellationToken))
        {
            segments.Add(VideoResults.ReadSegment(reader, 0));
        }

        return segments;
    }

    /// <summary>Queued and running video jobs with their progress, oldest first.</summary>
    public async Task<IReadOnlyList<VideoQueueEntry>> GetVideoQueueAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = Command(
            connection,
            null,
            """
            SELECT j.image_id, i.bucket, i.key, j.state, j.progress_ms, v.duration_ms, j.frames_done
            FROM jobs j JOIN images i ON i.id = j.image_id LEFT JOIN videos v ON v.image_id = j.image_id AND v.sha256 = j.sha256
            WHERE j.kind = 'video' AND j.state IN ('queued', 'running') ORDER BY j.id LIMIT 100
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<VideoQueueEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            long? done = reader.IsDBNull(4) ? null : reader.GetInt64(4);
            long? duration = reader.IsDBNull(5) ? null : reader.GetInt64(5);
            entries.Add(new VideoQueueEntry(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetString(2),
                JobStates.Parse(reader.GetString(3)),
                done,
                duration,
                reader.GetInt32(6),
                done is { } p && duration is > 0 ? Math.Round(Math.Clamp(100.0 * p / duration.Value, 0, 100), 1) : null));
        }

        return entries;
    }

    public async Task<Dictionary<string, VideoCuts>> GetVideoCutsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var shots = new Dictionary<string, List<VideoShot>>(StringComparer.Ordinal);
        var cues = new Dictionary<string, List<TechnicalCue>>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = Open();
        var (list, parameters) = IdList(ids);
        await using (var command = Command(connection, null, $"SELECT image_id, shot, start_ms, end_ms, start_frame, end_frame, confidence FROM video_shots WHERE image_id IN ({list}) ORDER BY image_id, shot", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                RowsOf(shots, reader.GetString(0)).Add(new VideoShot(reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetDouble(6)));
            }
        }

        await using (var command = Command(connection, null, $"SELECT image_id, type, start_ms, end_ms, start_frame, end_frame, confidence FROM video_cues WHERE image_id IN ({list}) ORDER BY image_id, cue", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                RowsOf(cues, reader.GetString(0)).Add(new TechnicalCue(reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetDouble(6)));
            }
        }

        // A video's cues are stored with its shots: one without shots has not been through shot detection.
        return shots.ToDictionary(s => s.Key, s => new VideoCuts(s.Value, cues.GetValueOrDefault(s.Key) ?? []), StringComparer.Ordinal);
    }

    public async Task<Dictionary<string, VideoFaces>> GetVideoFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tracks = new Dictionary<string, List<FaceTrack>>(StringComparer.Ordinal);
        var spans = new Dictionary<string, List<FaceSpan>>(StringComparer.Ordinal);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = Open();
        var (list, parameters) = IdList(ids);
        await using (var command = Command(connection, null, $"SELECT image_id, track, start_ms, end_ms, samples, confidence, face_height FROM video_face_tracks WHERE image_id IN ({list}) ORDER BY image_id, track", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                RowsOf(tracks, reader.GetString(0)).Add(new FaceTrack(reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt32(4), reader.GetDouble(5), reader.GetDouble(6)));
            }
        }

        await using (var command = Command(connection, null, $"SELECT image_id, start_ms, end_ms, faces, shot, face_height FROM video_face_spans WHERE image_id IN ({list}) ORDER BY image_id, start_ms", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                RowsOf(spans, reader.GetString(0)).Add(new FaceSpan(
                    reader.GetInt64(1), reader.GetInt64(2), reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetDouble(5)));
            }
        }

        // Spans cover the whole analysed timeline (0-face stretches too): a video without spans was not analysed.
        return spans.ToDictionary(s => s.Key, s => new VideoFaces(tracks.GetValueOrDefault(s.Key) ?? [], s.Value), StringComparer.Ordinal);
    }

    /// <summary>
    /// Replaces the video's shots, cues, face tracks and spans with a completed job's (<paramref name="faces"/> null: the
    /// face analysis did not run, so the video has no face tracks or spans).
    /// </summary>
    private static void SaveCutsAndFaces(SqliteConnection connection, SqliteTransaction transaction, string imageId, VideoCompletion completion, VideoFaces? faces)
    {
        foreach (var table in new[] { "video_shots", "video_cues", "video_face_tracks", "video_face_spans" })
        {
            Execute(connection, transaction, $"DELETE FROM {table} WHERE image_id = $id", ("$id", imageId));
        }

        using (var insert = new SqliteBatch(
            connection,
            transaction,
            "INSERT INTO video_shots (image_id, shot, start_ms, end_ms, start_frame, end_frame, confidence) VALUES ($id, $n, $start, $end, $sf, $ef, $c)",
            "$id", "$n", "$start", "$end", "$sf", "$ef", "$c"))
        {
            foreach (var shot in completion.Cuts.Shots)
            {
                insert.Run(imageId, shot.Index, shot.StartTimestampMillis, shot.EndTimestampMillis, shot.StartFrameNumber, shot.EndFrameNumber, shot.Confidence);
            }
        }

        using (var insert = new SqliteBatch(
            connection,
            transaction,
            "INSERT INTO video_cues (image_id, cue, type, start_ms, end_ms, start_frame, end_frame, confidence) VALUES ($id, $n, $type, $start, $end, $sf, $ef, $c)",
            "$id", "$n", "$type", "$start", "$end", "$sf", "$ef", "$c"))
        {
            foreach (var (cue, index) in completion.Cuts.TechnicalCues.Select((c, i) => (c, i)))
            {
                insert.Run(imageId, index, cue.Type, cue.StartTimestampMillis, cue.EndTimestampMillis, cue.StartFrameNumber, cue.EndFrameNumber, cue.Confidence);
            }
        }

        if (faces is null)
        {
            return;
        }

        using (var insert = new SqliteBatch(
            connection,
            transaction,
            "INSERT INTO video_face_tracks (image_id, track, start_ms, end_ms, samples, confidence, face_height) VALUES ($id, $n, $start, $end, $samples, $c, $h)",
            "$id", "$n", "$start", "$end", "$samples", "$c", "$h"))
        {
            foreach (var track in faces.Tracks)
            {
                insert.Run(imageId, track.Index, track.StartTimestampMillis, track.EndTimestampMillis, track.Samples, track.Confidence, track.MaxFaceHeight);
            }
        }

        using (var insert = new SqliteBatch(
            connection,
            transaction,
            "INSERT OR REPLACE INTO video_face_spans (image_id, start_ms, end_ms, faces, shot, face_height) VALUES ($id, $start, $end, $faces, $shot, $h)",
            "$id", "$start", "$end", "$faces", "$shot", "$h"))
        {
            foreach (var span in faces.Spans)
            {
                insert.Run(imageId, span.StartTimestampMillis, span.EndTimestampMillis, span.Faces, span.ShotSize, span.MaxFaceHeight);
            }
        }
    }

    private static List<T> RowsOf<T>(Dictionary<string, List<T>> rows, string id)
    {
        if (!rows.TryGetValue(id, out var list))
        {
            rows[id] = list = [];
        }

        return list;
    }

    private static (string List, (string, object?)[] Parameters) IdList(IReadOnlyCollection<string> ids)
    {
        var parameters = ids.Select((id, i) => ($"$i{i.ToString(System.Globalization.CultureInfo.InvariantCulture)}", (object?)id)).ToArray();
        return (string.Join(", ", parameters.Select(p => p.Item1)), parameters);
    }

    private static bool IsVideo(SqliteConnection connection, SqliteTransaction? transaction, string imageId) =>
        Scalar(connection, transaction, "SELECT media_type FROM images WHERE id = $id", ("$id", imageId)) is MediaTypes.Video;

    private static async Task<Dictionary<string, VideoRecord>> ReadVideosAsync(SqliteConnection connection, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, VideoRecord>();
        if (ids.Count == 0)
        {
            return result;
        }

        var (set, parameter) = IdSet(ids);
        await using var command = Command(
            connection,
            null,
            $"""
            SELECT {VideoResults.VideoColumns}
            FROM images i
            LEFT JOIN videos v ON v.image_id = i.id
            LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE image_id = i.id)
            WHERE i.media_type = 'video' AND i.id IN {set}
            """,
            parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var video = VideoResults.ReadVideo(reader);
            result[video.ImageId] = video;
        }

        return result;
    }

    private static async Task<List<VideoFrameLabel>> ReadFrameLabelsAsync(
        SqliteConnection connection,
        SqliteTransaction? transaction,
        string imageId,
        long jobId,
        bool byName,
        int offset,
        int limit,
        CancellationToken cancellationToken)
    {
        await using var command = Command(
            connection,
            transaction,
            $"""
            SELECT {VideoResults.FrameColumns} FROM video_frames
            WHERE image_id = $id AND job_id = $job
            ORDER BY {(byName ? "name, timestamp_ms" : "timestamp_ms, confidence DESC, name")} LIMIT $limit OFFSET $offset
            """,
            ("$id", imageId), ("$job", jobId), ("$limit", limit), ("$offset", offset));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var labels = new List<VideoFrameLabel>();
        while (await reader.ReadAsync(cancellationToken))
        {
            labels.Add(VideoResults.ReadFrameLabel(reader));
        }

        return labels;
    }
}
