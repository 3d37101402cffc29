-- Issue 17: api_token, basic and custom_token accounts supply credentials.
-- credentials is the sealed JSON object of field name to value (AAD
-- accounts.credentials:<id>); credential_hints is what the console shows of
-- them (a secret field's last 4 characters, a plain field's value).
ALTER TABLE accounts ADD COLUMN credentials BLOB;
ALTER TABLE accounts ADD COLUMN credential_hints TEXT NOT NULL DEFAULT '{}';
