-- Sessions: the cookie carries a signed random id; only its SHA-256 is kept here, so a
-- copy of the database cannot be replayed as a cookie. Everything the server remembers
-- about a browser (CSRF token, flash messages, the signed-in user) lives in `data`.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER,
    kind         TEXT NOT NULL DEFAULT 'console',
    data         TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);
