-- Blobs: content-addressed files in the store, one row per SHA-256.
CREATE TABLE blob (
    sha256         TEXT PRIMARY KEY NOT NULL,
    size           INTEGER NOT NULL,
    -- 'stored' once committed; 'deleting' while prune removes it.
    state          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,  -- unix seconds
    last_access_at INTEGER NOT NULL   -- unix seconds, updated in batches
);

-- What each blob is known as: a URL it was fetched from, a file name, a source
-- (an upstream's name, `download`, `private`, `import`, a mirror's name).
CREATE TABLE blob_name (
    sha256   TEXT NOT NULL REFERENCES blob (sha256) ON DELETE CASCADE,
    source   TEXT NOT NULL,
    filename TEXT NOT NULL,
    url      TEXT NOT NULL DEFAULT '',
    project  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sha256, source, filename, url)
);
CREATE INDEX blob_name_by_project ON blob_name (project, filename);
CREATE INDEX blob_last_access ON blob (last_access_at);
