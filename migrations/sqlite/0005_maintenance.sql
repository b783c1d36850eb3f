-- Running totals the server adds its counters to periodically (`larder
-- stats` reports them as all-time figures; /metrics shows the figures since
-- the process started).
CREATE TABLE counter (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);

-- `larder verify` and prune look blobs up by state.
CREATE INDEX blob_by_state ON blob (state);
