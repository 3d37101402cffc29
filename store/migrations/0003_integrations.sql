-- Integrations. The configuration is kept as JSON (every field but the client
-- secret): it is read and written whole, and new optional fields need no schema
-- change. The client secret is sealed on its own column, bound to the row id.
CREATE TABLE integrations (
    id                  INTEGER PRIMARY KEY,
    key                 TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    config              TEXT NOT NULL,
    client_secret       BLOB,
    client_secret_last4 TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX integrations_name ON integrations (name);
