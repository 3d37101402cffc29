-- An API key may expire (0: never). Past it the key is refused like a disabled one.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
