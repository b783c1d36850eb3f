-- A link is a (digest, filename) pair: static and private indexes publish the
-- same bytes under several names (one wheel under several platform tags), and
-- every name a page announced must stay fetchable, with its own `.metadata`.
-- Keyed by digest alone, each name replaced the one before it.
CREATE TABLE link_by_name (
    sha256          TEXT NOT NULL,
    project         TEXT NOT NULL,
    filename        TEXT NOT NULL,
    url             TEXT NOT NULL,
    upstream        TEXT NOT NULL,
    size            INTEGER,
    has_metadata    INTEGER NOT NULL,  -- PEP 658: a `.metadata` file exists
    metadata_sha256 TEXT,              -- its digest, when the page gave one
    PRIMARY KEY (sha256, filename)
);
INSERT INTO link_by_name
    (sha256, project, filename, url, upstream, size, has_metadata, metadata_sha256)
    SELECT sha256, project, filename, url, upstream, size, has_metadata, metadata_sha256
    FROM link;
DROP TABLE link;
ALTER TABLE link_by_name RENAME TO link;
CREATE INDEX link_by_project ON link (project);
