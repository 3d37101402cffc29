package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// OIDCFlow is a console sign-in through the identity provider between the
// redirect to the provider and its callback. The state and the nonce are
// stored only as their hashes; the PKCE verifier is sealed.
type OIDCFlow struct {
	SessionHash string // the browser session that started it (IDHash)
	NonceHash   string
	Verifier    string
	Next        string // where to go after signing in (a path on this site)
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// NonceMatches reports whether an ID token's nonce is the one this flow sent.
func (f OIDCFlow) NonceMatches(nonce string) bool {
	return nonce != "" && subtle.ConstantTimeCompare([]byte(hashID(nonce)), []byte(f.NonceHash)) == 1
}

func oidcVerifierAAD(stateHash string) string { return "oidc_flows.verifier:" + stateHash }

// CreateOIDCFlow stores a pending sign-in for the given state and nonce.
func (s *Store) CreateOIDCFlow(ctx context.Context, state, nonce string, f OIDCFlow) error {
	if s.sealer == nil {
		return errors.New("store: no encryption key configured: cannot store a sign-in")
	}
	h := hashID(state)
	sealed, err := s.sealer.Seal([]byte(f.Verifier), oidcVerifierAAD(h))
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO oidc_flows (state_hash, session_hash, nonce_hash, verifier, next_path, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, h, f.SessionHash, hashID(nonce), sealed, f.Next, millis(f.CreatedAt), millis(f.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create sign-in flow: %w", err)
	}
	return nil
}

// TakeOIDCFlow looks up the sign-in of a state and marks it used in the same
// transaction, so a state works once. Its errors are TakeFlow's:
// ErrNotFound, ErrFlowOtherSession (left untouched, so whoever got hold of
// the callback URL cannot spend its owner's sign-in), ErrFlowUsed,
// ErrFlowExpired.
func (s *Store) TakeOIDCFlow(ctx context.Context, state, sessionHash string) (OIDCFlow, error) {
	h := hashID(state)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return OIDCFlow{}, fmt.Errorf("store: take sign-in flow: %w", err)
	}
	defer tx.Rollback()
	var f OIDCFlow
	var sealed []byte
	var created, expires, used int64
	err = tx.QueryRowContext(ctx, `SELECT session_hash, nonce_hash, verifier, next_path, created_at, expires_at, used_at
		FROM oidc_flows WHERE state_hash = ?`+s.forUpdate(), h).Scan(&f.SessionHash, &f.NonceHash, &sealed, &f.Next, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCFlow{}, fmt.Errorf("store: take sign-in flow: %w", ErrNotFound)
	}
	if err != nil {
		return OIDCFlow{}, fmt.Errorf("store: take sign-in flow: %w", err)
	}
	f.CreatedAt, f.ExpiresAt = fromMillis(created), fromMillis(expires)
	if sessionHash == "" || subtle.ConstantTimeCompare([]byte(f.SessionHash), []byte(sessionHash)) != 1 {
		return OIDCFlow{}, ErrFlowOtherSession
	}
	if used != 0 {
		return OIDCFlow{}, ErrFlowUsed
	}
	if _, err := tx.ExecContext(ctx, "UPDATE oidc_flows SET used_at = ? WHERE state_hash = ?", millis(s.now()), h); err != nil {
		return OIDCFlow{}, fmt.Errorf("store: take sign-in flow: %w", err)
	}
	if err := commit(tx, "take sign-in flow"); err != nil {
		return OIDCFlow{}, err
	}
	if !s.now().Before(f.ExpiresAt) {
		return OIDCFlow{}, ErrFlowExpired
	}
	plain, err := s.sealer.Open(sealed, oidcVerifierAAD(h))
	if err != nil {
		return OIDCFlow{}, err
	}
	f.Verifier = string(plain)
	return f, nil
}

// SweepOIDCFlows deletes sign-ins that expired more than a day ago (kept a
// while so that a late callback is told "expired" rather than "unknown").
func (s *Store) SweepOIDCFlows(ctx context.Context) (int64, error) {
	n, err := s.exclusive(ctx, "sweep-oidc-flows", "DELETE FROM oidc_flows WHERE expires_at < ?", millis(s.now().Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("store: sweep sign-in flows: %w", err)
	}
	return n, nil
}

// OIDCIdentity is who the identity provider says signed in, and the role
// their groups give them.
type OIDCIdentity struct {
	Issuer  string
	Subject string
	Email   string
	Role    string
}

// SignInOIDCUser finds the user of an identity by the provider's issuer and
// subject, or creates it at the first sign-in (which also ends first-run
// setup). A found user gets the identity's email and role, and the sign-in
// is recorded; a disabled user is returned as it is, changed in nothing, for
// the caller to refuse. created reports a new user.
func (s *Store) SignInOIDCUser(ctx context.Context, id OIDCIdentity) (u User, created bool, err error) {
	if id.Issuer == "" || id.Subject == "" || !ValidRole(id.Role) {
		return User{}, false, fmt.Errorf("store: single sign-on user: issuer, subject and a role are required")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return User{}, false, fmt.Errorf("store: single sign-on user: %w", err)
	}
	defer tx.Rollback()
	now := millis(s.now())
	email := NormalizeEmail(id.Email)
	// Two first sign-ins of one identity at once create one user.
	if err := s.lockNames(ctx, tx, "users:oidc:"+id.Issuer+"\x00"+id.Subject, "users:first"); err != nil {
		return User{}, false, err
	}
	u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE oidc_issuer = ? AND oidc_subject = ?", id.Issuer, id.Subject))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var uid int64
		err := tx.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, role, created_at, updated_at, oidc_issuer, oidc_subject, last_signin_at)
			VALUES (?, '', ?, ?, ?, ?, ?, ?) RETURNING id`, email, id.Role, now, now, id.Issuer, id.Subject, now).Scan(&uid)
		if err != nil {
			return User{}, false, fmt.Errorf("store: create single sign-on user: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE name = ?", SettingSetupCode); err != nil {
			return User{}, false, fmt.Errorf("store: spend setup code: %w", err)
		}
		u = User{ID: uid, Email: email, Role: id.Role, CreatedAt: fromMillis(now), UpdatedAt: fromMillis(now),
			OIDCIssuer: id.Issuer, OIDCSubject: id.Subject, LastSignInAt: fromMillis(now)}
		if err := s.audit(signingIn(ctx, u), tx, AuditUser, strconv.FormatInt(uid, 10), ActionUserCreate,
			map[string]any{"email": email, "role": id.Role, "single_sign_on": true}); err != nil {
			return User{}, false, err
		}
		return u, true, commit(tx, "create single sign-on user")
	case err != nil:
		return User{}, false, fmt.Errorf("store: single sign-on user: %w", err)
	case u.Disabled():
		return u, false, nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE users SET email = ?, role = ?, last_signin_at = ?, updated_at = ? WHERE id = ?",
		email, id.Role, now, now, u.ID); err != nil {
		return User{}, false, fmt.Errorf("store: single sign-on user %d: %w", u.ID, err)
	}
	if changed := fieldDiff(map[string]any{"email": u.Email, "role": u.Role}, map[string]any{"email": email, "role": id.Role}, nil); len(changed) > 0 {
		// The provider's groups moved the user: whose change it was is the
		// provider's, but the audit log still shows it happened, at this sign-in.
		if err := s.audit(signingIn(ctx, u), tx, AuditUser, strconv.FormatInt(u.ID, 10), ActionUserUpdate,
			map[string]any{"changed": changed, "single_sign_on": true}); err != nil {
			return User{}, false, err
		}
	}
	u.Email, u.Role, u.LastSignInAt, u.UpdatedAt = email, id.Role, fromMillis(now), fromMillis(now)
	return u, false, commit(tx, "single sign-on user")
}
