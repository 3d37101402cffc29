-- A connect link is claimed for the length of one code exchange (so two
-- browsers that opened it cannot both exchange), and spent only when an
-- exchange connected the account. claimed_by is the pending flow holding it.
ALTER TABLE connect_links ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connect_links ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';

-- The webhook URL is sealed like a secret: its query (or path) often holds
-- the receiver's token. A plaintext url left by an older version is sealed
-- into url_sealed at start-up, and url is emptied.
ALTER TABLE webhook_config ADD COLUMN url_sealed BLOB;
