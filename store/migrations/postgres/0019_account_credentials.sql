-- Issue 17: account credentials (SQLite's 0019): sealed JSON, and the
-- masked hints the console shows.
ALTER TABLE accounts ADD COLUMN credentials BYTEA;
ALTER TABLE accounts ADD COLUMN credential_hints TEXT NOT NULL DEFAULT '{}';
