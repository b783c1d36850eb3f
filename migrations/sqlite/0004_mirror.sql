-- Files of generic mirrors by path, with the validators used to revalidate
-- them (mirrors with a `revalidate` policy).
CREATE TABLE mirror_entry (
    mirror        TEXT NOT NULL,
    path          TEXT NOT NULL,   -- normalized, relative, query included if allowed
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    source        TEXT NOT NULL,   -- the URL it came from
    etag          TEXT,
    last_modified TEXT,
    fetched_at    INTEGER NOT NULL, -- unix seconds of the last fetch or revalidation
    PRIMARY KEY (mirror, path)
);
