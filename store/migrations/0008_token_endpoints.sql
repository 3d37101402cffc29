-- The token and revocation endpoints a token set was obtained with, expanded
-- (absolute URLs): its refreshes and its revocation go there, never to an
-- endpoint built from the account's current values. '' means not recorded;
-- the server fills them in at start-up for tokens saved before this column
-- (see oauthflow.RecordLegacyEndpoints).
ALTER TABLE tokens ADD COLUMN token_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN revoke_endpoint TEXT NOT NULL DEFAULT '';
