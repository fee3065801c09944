namespace LabelLens.Storage;

/// <summary>Schema step 5: videos (SqliteCatalog.Video.cs).</summary>
internal static class VideoSchema
{
    /// <summary>
    /// images.media_type says what an object is (decided from its bytes at upload); jobs.kind routes a job to the
    /// image workers or the video worker, and a video job keeps its resume point (progress_ms: the last sampled
    /// frame whose detections are committed) and frames_done. Frame detections are kept per job, so a
    /// superseded or cancelled job's partial frames never mix with the current result (videos.result_job_id).
    /// </summary>
    public const string Step5 =
        """
        ALTER TABLE images ADD COLUMN media_type TEXT NOT NULL DEFAULT 'image';
        ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'image';
        ALTER TABLE jobs ADD COLUMN progress_ms INTEGER;
        ALTER TABLE jobs ADD COLUMN frames_done INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX jobs_kind_due ON jobs (kind, state, not_before, id);

        CREATE TABLE videos (
            image_id      TEXT PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
            sha256        TEXT NOT NULL,
            codec         TEXT NOT NULL,
            format        TEXT NOT NULL,
            duration_ms   INTEGER,
            frame_rate    REAL,
            width         INTEGER NOT NULL,
            height        INTEGER NOT NULL,
            color_range   TEXT,
            probe         TEXT NOT NULL,
            result_job_id INTEGER,
            interval_ms   INTEGER,
            frames        INTEGER,
            model_version TEXT
        ) WITHOUT ROWID;

        -- Every sampled frame's time (also frames where nothing was found: a segment ends at the next one).
        CREATE TABLE video_samples (
            image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            job_id       INTEGER NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            PRIMARY KEY (image_id, job_id, timestamp_ms)
        ) WITHOUT ROWID;

        -- One row per label per sampled frame (ancestors included, as for images); instances as JSON.
        CREATE TABLE video_frames (
            image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            job_id       INTEGER NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            name         TEXT NOT NULL COLLATE NOCASE,
            confidence   REAL NOT NULL,
            parents      TEXT NOT NULL,
            aliases      TEXT NOT NULL,
            categories   TEXT NOT NULL,
            instances    TEXT NOT NULL,
            PRIMARY KEY (image_id, job_id, timestamp_ms, name)
        ) WITHOUT ROWID;

        CREATE TABLE video_segments (
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            name       TEXT NOT NULL COLLATE NOCASE,
            start_ms   INTEGER NOT NULL,
            end_ms     INTEGER NOT NULL,
            confidence REAL NOT NULL,
            parents    TEXT NOT NULL,
            aliases    TEXT NOT NULL,
            categories TEXT NOT NULL,
            PRIMARY KEY (image_id, name, start_ms)
        ) WITHOUT ROWID;
        CREATE INDEX video_segments_by_name ON video_segments (name, image_id);
        """;

    /// <summary>
    /// Shots and technical cues (ffmpeg's cuts and blackdetect, frame numbers at the video's rate), face tracks (runs
    /// of samples with overlapping face boxes) and face spans (stretches with the same face count and shot size, what
    /// video face search matches), all of the video's current result: replaced together at each completed job. Videos
    /// labeled before this step have none until relabeled.
    /// </summary>
    public const string Step9 =
        """
        CREATE TABLE video_shots (
            image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            shot        INTEGER NOT NULL,
            start_ms    INTEGER NOT NULL,
            end_ms      INTEGER NOT NULL,
            start_frame INTEGER NOT NULL,
            end_frame   INTEGER NOT NULL,
            confidence  REAL NOT NULL,
            PRIMARY KEY (image_id, shot)
        ) WITHOUT ROWID;

        CREATE TABLE video_cues (
            image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            cue         INTEGER NOT NULL,
            type        TEXT NOT NULL,
            start_ms    INTEGER NOT NULL,
            end_ms      INTEGER NOT NULL,
            start_frame INTEGER NOT NULL,
            end_frame   INTEGER NOT NULL,
            confidence  REAL NOT NULL,
            PRIMARY KEY (image_id, cue)
        ) WITHOUT ROWID;

        CREATE TABLE video_face_tracks (
            image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            track       INTEGER NOT NULL,
            start_ms    INTEGER NOT NULL,
            end_ms      INTEGER NOT NULL,
            samples     INTEGER NOT NULL,
            confidence  REAL NOT NULL,
            face_height REAL NOT NULL,
            PRIMARY KEY (image_id, track)
        ) WITHOUT ROWID;

        -- Only for videos the face analysis ran on (0-face spans included): no rows means not analysed.
        CREATE TABLE video_face_spans (
            image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            start_ms    INTEGER NOT NULL,
            end_ms      INTEGER NOT NULL,
            faces       INTEGER NOT NULL,
            shot        TEXT,
            face_height REAL,
            PRIMARY KEY (image_id, start_ms)
        ) WITHOUT ROWID;
        CREATE INDEX video_face_spans_by_faces ON video_face_spans (faces, shot, image_id);
        """;
}
