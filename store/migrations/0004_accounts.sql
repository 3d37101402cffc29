-- Connected accounts: parameter values for an integration, and their state.
CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    integration_id       INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    parameters           TEXT NOT NULL DEFAULT '{}',
    status               TEXT NOT NULL,
    last_error           TEXT NOT NULL DEFAULT '',
    warnings             TEXT NOT NULL DEFAULT '[]',
    last_refreshed_at    INTEGER NOT NULL DEFAULT 0,
    temporary_failures   INTEGER NOT NULL DEFAULT 0,
    health               TEXT NOT NULL DEFAULT '',
    health_detail        TEXT NOT NULL DEFAULT '',
    health_checked_at    INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX accounts_integration_name ON accounts (integration_id, name);
CREATE INDEX accounts_status ON accounts (status);

-- An account's tokens, sealed, one row per account. version increases with
-- every save: a save names the version it replaces (compare-and-swap), so a
-- refresh that started from an older token can never overwrite a newer one.
CREATE TABLE tokens (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    access_token  BLOB NOT NULL,
    refresh_token BLOB,
    token_type    TEXT NOT NULL DEFAULT '',
    expires_at    INTEGER NOT NULL DEFAULT 0,
    scopes        TEXT NOT NULL DEFAULT '',
    obtained_at   INTEGER NOT NULL,
    version       INTEGER NOT NULL
);

-- A per-account lease taken (in a short transaction) before calling a token
-- endpoint, so two processes never spend the same rotating refresh token.
CREATE TABLE token_leases (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Pending authorization-code flows, keyed by the SHA-256 of the state and bound
-- to the browser session that started them. Single use, 10-minute expiry.
CREATE TABLE oauth_flows (
    state_hash      TEXT PRIMARY KEY,
    session_hash    TEXT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id  INTEGER NOT NULL,
    verifier        BLOB NOT NULL,
    redirect_uri    TEXT NOT NULL,
    token_url       TEXT NOT NULL,
    realm           TEXT NOT NULL,
    connect_link    TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);

-- Connect links for people who are not console users; only the token's hash is kept.
CREATE TABLE connect_links (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER NOT NULL DEFAULT 0
);

-- What happened to accounts: connections, refreshes, failures, revocations and
-- requests. Never a token, a header value or a body. Rows outlive a deleted
-- account (no foreign key) so the history stays readable.
CREATE TABLE activity (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    account_id      TEXT NOT NULL DEFAULT '',
    account_name    TEXT NOT NULL DEFAULT '',
    integration_key TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    outcome         TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL DEFAULT '',
    url             TEXT NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    refresh_reason  TEXT NOT NULL DEFAULT '',
    actor           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX activity_account ON activity (account_id, id);
CREATE INDEX activity_at ON activity (at);
