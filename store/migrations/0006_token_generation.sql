-- Token versions survive a disconnect: the version lives on the account and
-- only ever grows, so a refresh that began before a disconnect cannot save
-- its answer over the connection made after it.
ALTER TABLE accounts ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET token_version = COALESCE((SELECT version FROM tokens WHERE tokens.account_id = accounts.id), 0);

-- Keep-alive remembers when it last tried an account, so accounts that keep
-- failing do not take every turn from the ones that work.
ALTER TABLE accounts ADD COLUMN keepalive_attempt_at INTEGER NOT NULL DEFAULT 0;
