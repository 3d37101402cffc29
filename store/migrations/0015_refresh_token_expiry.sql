-- Issue 14: when a token set's refresh token dies (refresh_token_expires_in,
-- unix ms; 0: unknown or never), and the refresh endpoint it was obtained
-- with (oauth2.refresh_url, expanded; '': refreshes go to token_endpoint).
ALTER TABLE tokens ADD COLUMN refresh_expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN refresh_endpoint TEXT NOT NULL DEFAULT '';
