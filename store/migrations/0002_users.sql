-- People who sign in to the console. Emails are stored lower-cased so uniqueness
-- does not depend on a collation (portable to PostgreSQL).
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'builder', 'viewer')),
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled_at          INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- API keys for the organization's services. Only the SHA-256 of the key is kept
-- (keys carry 256 random bits, so a slow hash adds nothing), plus its last four
-- characters for recognition.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'builder', 'viewer')),
    key_hash     TEXT NOT NULL UNIQUE,
    last4        TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    disabled_at  INTEGER NOT NULL DEFAULT 0
);

-- Failed sign-ins, one row each, counted over a sliding window per scope
-- ("email:<address>" or "ip:<address>"). In the database rather than in memory
-- so that several Airlock processes share one limit.
CREATE TABLE signin_failures (
    id    INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX signin_failures_scope_at ON signin_failures (scope, at);

-- Small deployment-wide values: the first-run setup code's hash, webhook settings.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
