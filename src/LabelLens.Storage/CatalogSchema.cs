namespace LabelLens.Storage;

/// <summary>
/// Versioned schema migrations, applied in order at start inside one transaction each. Never edit a
/// published step: add a new one.
/// </summary>
internal static class CatalogSchema
{
    public static readonly string[] Migrations =
    [
        // 1: images, labels, instances, manual edits, events, jobs.
        """
        CREATE TABLE images (
            id             TEXT PRIMARY KEY,
            bucket         TEXT NOT NULL,
            key            TEXT NOT NULL,
            etag           TEXT NOT NULL,
            sha256         TEXT NOT NULL,
            size           INTEGER NOT NULL,
            content_type   TEXT,
            width          INTEGER,
            height         INTEGER,
            format         TEXT,
            status         TEXT NOT NULL,
            error          TEXT,
            model_version  TEXT,
            min_confidence REAL,
            attempts       INTEGER NOT NULL DEFAULT 0,
            created_at     INTEGER NOT NULL,
            updated_at     INTEGER NOT NULL,
            labeled_at     INTEGER,
            labeling_ms    REAL,
            UNIQUE (bucket, key)
        );
        CREATE INDEX images_updated ON images (updated_at DESC, id DESC);
        CREATE INDEX images_status ON images (status);
        CREATE INDEX images_model ON images (model_version);

        CREATE TABLE labels (
            image_id       TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            name           TEXT NOT NULL COLLATE NOCASE,
            confidence     REAL NOT NULL,
            rank           INTEGER NOT NULL DEFAULT 0,
            parents        TEXT NOT NULL,
            aliases        TEXT NOT NULL,
            categories     TEXT NOT NULL,
            source         TEXT NOT NULL,
            model_version  TEXT,
            min_confidence REAL,
            PRIMARY KEY (image_id, name)
        ) WITHOUT ROWID;
        CREATE INDEX labels_by_name ON labels (name, confidence DESC, image_id);

        CREATE TABLE instances (
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            name       TEXT NOT NULL COLLATE NOCASE,
            confidence REAL NOT NULL,
            box_left   REAL NOT NULL,
            box_top    REAL NOT NULL,
            box_width  REAL NOT NULL,
            box_height REAL NOT NULL
        );
        CREATE INDEX instances_by_image ON instances (image_id, name);

        -- A person's word on a label: 'add' keeps it through relabels, 'remove' keeps the model from bringing it back.
        CREATE TABLE label_edits (
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            name       TEXT NOT NULL COLLATE NOCASE,
            action     TEXT NOT NULL CHECK (action IN ('add', 'remove')),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (image_id, name)
        ) WITHOUT ROWID;

        CREATE TABLE events (
            id         INTEGER PRIMARY KEY,
            type       TEXT NOT NULL,
            image_id   TEXT NOT NULL,
            bucket     TEXT NOT NULL,
            key        TEXT NOT NULL,
            etag       TEXT,
            created_at INTEGER NOT NULL
        );

        CREATE TABLE jobs (
            id          INTEGER PRIMARY KEY,
            image_id    TEXT NOT NULL,
            sha256      TEXT NOT NULL,
            state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'superseded')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            not_before  INTEGER NOT NULL,
            lease_owner TEXT,
            lease_until INTEGER,
            error       TEXT,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL
        );
        CREATE INDEX jobs_due ON jobs (state, not_before, id);
        CREATE INDEX jobs_by_image ON jobs (image_id, state);
        """,

        // 2: search indexes and per-label image counts (SqliteCatalog.Search.cs).
        SearchSchema.Step2,

        // 3: images.source (external stores), S3 event sequencers, backfill cursors, webhook delivery state (ExternalSchema.cs).
        ExternalSchema.Step3,

        // 4: image properties and per-colour shares; instance colours (SqliteCatalog.Properties.cs).
        PropertiesSchema.Step4,

        // 5: videos — media type, job kind and resume point, frame detections, segments (VideoSchema.cs).
        VideoSchema.Step5,

        // 6: results per analysis with their models (SqliteCatalog.Analyses.cs); jobs.analyses.
        AnalysisSchema.Step6,

        // 7: text lines and words read in images, full-text indexed (SqliteCatalog.Text.cs).
        TextSchema.Step7,

        // 8: faces per picture, face count and largest face height on the image row (SqliteCatalog.Faces.cs).
        FaceSchema.Step8,

        // 9: video shots and technical cues, face tracks and face spans (VideoSchema.cs, SqliteCatalog.Video.cs).
        VideoSchema.Step9,

        // 10: label rows carry their image's time and box count, for time-ordered label searches (SqliteCatalog.Search.cs).
        SearchSchema.Step10,
    ];
}
