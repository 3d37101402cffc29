-- Console sign-in through the organisation's identity provider (OpenID Connect).
--
-- A user who signs in with single sign-on is found by the provider's issuer and
-- subject, never by email (an email can be reassigned or left unverified at the
-- provider), so the users table is rebuilt: the email stays unique among
-- password users only, and a single sign-on user may share an email with a
-- password user (they are two users, each shown with how it signs in).
-- AUTOINCREMENT because users can now be deleted: an id is never given again.
CREATE TABLE users_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    email                TEXT NOT NULL,
    password_hash        TEXT NOT NULL DEFAULT '',
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'builder', 'viewer')),
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled_at          INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- Set for single sign-on users (then password_hash is empty).
    oidc_issuer          TEXT NOT NULL DEFAULT '',
    oidc_subject         TEXT NOT NULL DEFAULT '',
    -- A break-glass user (airlock user create --local): signs in with its
    -- password even when AIRLOCK_PASSWORD_SIGNIN=false.
    local                INTEGER NOT NULL DEFAULT 0,
    last_signin_at       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_new (id, email, password_hash, role, must_change_password, disabled_at, created_at, updated_at)
    SELECT id, email, password_hash, role, must_change_password, disabled_at, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_password_email ON users (email) WHERE oidc_subject = '';
CREATE UNIQUE INDEX users_oidc_identity ON users (oidc_issuer, oidc_subject) WHERE oidc_subject != '';

-- Single sign-on flows between the redirect to the identity provider and its
-- callback: like oauth_flows, the state is kept only as its hash, bound to the
-- browser session that started it, single use, 10 minutes. The nonce is kept
-- as its hash too (the ID token carries it back); the PKCE verifier is sealed.
CREATE TABLE oidc_flows (
    state_hash   TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    nonce_hash   TEXT NOT NULL,
    verifier     BLOB NOT NULL,
    next_path    TEXT NOT NULL DEFAULT '/',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oidc_flows_expires_at ON oidc_flows (expires_at);
