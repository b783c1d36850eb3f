-- Cached upstream project pages, as larder's own PEP 691 JSON with upstream
-- URLs, with the validators used to revalidate them.
CREATE TABLE page (
    project       TEXT PRIMARY KEY NOT NULL,  -- normalized name
    upstream      TEXT NOT NULL,              -- the upstream that served it
    body          TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    fetched_at    INTEGER NOT NULL            -- unix seconds of the last (re)validation
);

-- Files an upstream page announced, by digest: the only URLs a client can make
-- larder fetch.
CREATE TABLE link (
    sha256          TEXT PRIMARY KEY NOT NULL,
    project         TEXT NOT NULL,
    filename        TEXT NOT NULL,
    url             TEXT NOT NULL,
    upstream        TEXT NOT NULL,
    size            INTEGER,
    has_metadata    INTEGER NOT NULL,  -- PEP 658: a `.metadata` file exists
    metadata_sha256 TEXT               -- its digest, when the page gave one
);
CREATE INDEX link_by_project ON link (project);
CREATE INDEX blob_name_by_url ON blob_name (url);
