namespace LabelLens.Storage;

/// <summary>Catalog schema for external stores, S3 event ordering, backfill cursors and the webhook outbox (SqliteCatalog.External.cs).</summary>
internal static class ExternalSchema
{
    public const string Step3 =
        """
        -- Where an image's bytes live: NULL = the local object store, else the name of an ExternalStores entry.
        ALTER TABLE images ADD COLUMN source TEXT;

        -- The last S3 event applied per external key: its sequencer (hex, greater = later) and ETag; deleted = a tombstone,
        -- so an older ObjectCreated arriving after an ObjectRemoved cannot bring the image back.
        CREATE TABLE external_objects (
            bucket     TEXT NOT NULL,
            key        TEXT NOT NULL,
            source     TEXT NOT NULL,
            sequencer  TEXT,
            etag       TEXT,
            deleted    INTEGER NOT NULL DEFAULT 0,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (bucket, key)
        ) WITHOUT ROWID;

        -- Where an interrupted backfill resumes: the last key whose page was recorded.
        CREATE TABLE backfill_cursors (
            source     TEXT NOT NULL,
            bucket     TEXT NOT NULL,
            prefix     TEXT NOT NULL,
            after_key  TEXT NOT NULL,
            listed     INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (source, bucket, prefix)
        ) WITHOUT ROWID;

        -- Outbound webhooks read the events table as their outbox; this is each webhook's delivery position.
        CREATE TABLE webhook_cursors (
            webhook         TEXT PRIMARY KEY,
            last_event_id   INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            delivered       INTEGER NOT NULL DEFAULT 0,
            given_up        INTEGER NOT NULL DEFAULT 0,
            updated_at      INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- Deliveries given up after the last attempt (the cursor moved past them).
        CREATE TABLE webhook_failures (
            webhook   TEXT NOT NULL,
            event_id  INTEGER NOT NULL,
            attempts  INTEGER NOT NULL,
            error     TEXT,
            failed_at INTEGER NOT NULL,
            PRIMARY KEY (webhook, event_id)
        ) WITHOUT ROWID;
        """;
}
