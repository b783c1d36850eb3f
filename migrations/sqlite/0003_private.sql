-- Uploaded (private) files. A filename is taken once: re-uploading it is a
-- conflict, never an overwrite. The blobs are also named in `blob_name`
-- (source 'private'), which is what keeps them from being pruned or freed.
CREATE TABLE private_file (
    filename        TEXT PRIMARY KEY NOT NULL,
    project         TEXT NOT NULL,             -- normalized name
    version         TEXT NOT NULL,             -- as the upload declared it
    sha256          TEXT NOT NULL REFERENCES blob (sha256),
    size            INTEGER NOT NULL,
    requires_python TEXT,
    -- PEP 658: the wheel's METADATA, stored as its own blob.
    metadata_sha256 TEXT REFERENCES blob (sha256),
    yanked          INTEGER NOT NULL DEFAULT 0,
    yanked_reason   TEXT,
    uploaded_at     INTEGER NOT NULL,          -- unix seconds
    uploaded_by     TEXT NOT NULL              -- `token:<name>` or `user:<name>`
);
CREATE INDEX private_file_by_project ON private_file (project);

-- API tokens. Only an argon2 hash of each token is kept; `id` is the public
-- part of the token that finds its row.
CREATE TABLE api_token (
    name       TEXT PRIMARY KEY NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    hash       TEXT NOT NULL,                  -- argon2 PHC string
    scope      TEXT NOT NULL,                  -- 'read' or 'upload'
    created_at INTEGER NOT NULL                -- unix seconds
);
