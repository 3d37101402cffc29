-- Flow traces: each connect, refresh, revoke, client-credentials fetch and
-- health check of an account, step by step, masked before it is written.
-- steps and diagnosis are JSON; times are milliseconds since the epoch.
CREATE TABLE traces (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    steps       TEXT NOT NULL DEFAULT '[]',
    diagnosis   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX traces_account ON traces (account_id, id);
CREATE INDEX traces_started ON traces (started_at);
