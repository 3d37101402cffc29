package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"airlock/oauthflow"
)

// The store satisfies the token manager's interface.
var _ oauthflow.TokenStore = (*Store)(nil)

func accessAAD(accountID string) string  { return "tokens.access_token:" + accountID }
func refreshAAD(accountID string) string { return "tokens.refresh_token:" + accountID }

// LoadToken returns an account's token, unsealed, or oauthflow.ErrNoToken.
func (s *Store) LoadToken(ctx context.Context, accountID string) (oauthflow.Token, error) {
	return s.loadToken(ctx, s.read, accountID)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) loadToken(ctx context.Context, q queryer, accountID string) (oauthflow.Token, error) {
	var t oauthflow.Token
	var access, refresh []byte
	var expires, obtained, refreshExpires, refreshIssued int64
	var scopes string
	err := q.QueryRowContext(ctx, `SELECT access_token, refresh_token, token_type, expires_at, scopes, obtained_at, version,
		token_endpoint, revoke_endpoint, refresh_endpoint, refresh_expires_at, refresh_issued_at, rotations FROM tokens WHERE account_id = ?`,
		accountID).Scan(&access, &refresh, &t.TokenType, &expires, &scopes, &obtained, &t.Version, &t.Endpoints.Token, &t.Endpoints.Revoke,
		&t.Endpoints.Refresh, &refreshExpires, &refreshIssued, &t.Rotations)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("store: token of account %s: %w", accountID, oauthflow.ErrNoToken)
	}
	if err != nil {
		return t, fmt.Errorf("store: token of account %s: %w", accountID, err)
	}
	if s.sealer == nil {
		return t, errors.New("store: no encryption key configured: cannot open tokens")
	}
	plain, err := s.sealer.Open(access, accessAAD(accountID))
	if err != nil {
		return t, err
	}
	t.AccessToken = string(plain)
	if refresh != nil {
		if plain, err = s.sealer.Open(refresh, refreshAAD(accountID)); err != nil {
			return t, err
		}
		t.RefreshToken = string(plain)
	}
	t.Expiry, t.ObtainedAt, t.RefreshExpiry = fromMillis(expires), fromMillis(obtained), fromMillis(refreshExpires)
	t.RefreshIssuedAt = fromMillis(refreshIssued)
	t.Scopes = splitScopes(scopes)
	return t, nil
}

func splitScopes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// SaveToken stores a token, with the endpoints it was obtained at, by
// compare-and-swap on its version, marks the account connected (clearing its
// error and failure count, setting warnings and the last refresh time) and
// records the activity, in one transaction.
// The version is the account's token_version, which a disconnect also moves
// on, so it never repeats. A negative prevVersion saves unconditionally: a
// new grant (a connection) replaces whatever the account held.
func (s *Store) SaveToken(ctx context.Context, accountID string, prevVersion int64, t oauthflow.Token, ev oauthflow.RefreshEvent) (_ oauthflow.Token, err error) {
	defer func() { s.NoteUnavailable(err) }()
	if s.sealer == nil {
		return t, errors.New("store: no encryption key configured: cannot store tokens")
	}
	access, err := s.sealer.Seal([]byte(t.AccessToken), accessAAD(accountID))
	if err != nil {
		return t, err
	}
	var refresh []byte
	if t.RefreshToken != "" {
		if refresh, err = s.sealer.Seal([]byte(t.RefreshToken), refreshAAD(accountID)); err != nil {
			return t, err
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return t, fmt.Errorf("store: save token: %w", err)
	}
	defer tx.Rollback()
	var cur int64
	err = tx.QueryRowContext(ctx, "SELECT token_version FROM accounts WHERE id = ?"+s.forUpdate(), accountID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("store: save token: account %s: %w", accountID, oauthflow.ErrTokenConflict)
	}
	if err != nil {
		return t, fmt.Errorf("store: save token: %w", err)
	}
	if prevVersion >= 0 && cur != prevVersion {
		return t, fmt.Errorf("store: save token of account %s: stored version %d, expected %d: %w", accountID, cur, prevVersion, oauthflow.ErrTokenConflict)
	}
	t.Version = cur + 1
	now := s.now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (account_id, access_token, refresh_token, token_type, expires_at, scopes, obtained_at, version,
		token_endpoint, revoke_endpoint, refresh_endpoint, refresh_expires_at, refresh_issued_at, rotations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
			token_type = excluded.token_type, expires_at = excluded.expires_at, scopes = excluded.scopes,
			obtained_at = excluded.obtained_at, version = excluded.version,
			token_endpoint = excluded.token_endpoint, revoke_endpoint = excluded.revoke_endpoint,
			refresh_endpoint = excluded.refresh_endpoint, refresh_expires_at = excluded.refresh_expires_at,
			refresh_issued_at = excluded.refresh_issued_at, rotations = excluded.rotations`,
		accountID, access, refresh, t.TokenType, millis(t.Expiry), strings.Join(t.Scopes, " "), millis(t.ObtainedAt), t.Version,
		t.Endpoints.Token, t.Endpoints.Revoke, t.Endpoints.Refresh, millis(t.RefreshExpiry), millis(t.RefreshIssuedAt), t.Rotations); err != nil {
		return t, fmt.Errorf("store: save token: %w", err)
	}
	warnings, _ := json.Marshal(nonNilWarnings(ev.Warnings))
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET status = ?, last_error = '', warnings = ?, last_refreshed_at = ?,
		temporary_failures = 0, token_version = ?, updated_at = ?,
		health = CASE WHEN ? THEN '' ELSE health END, health_detail = CASE WHEN ? THEN '' ELSE health_detail END,
		health_checked_at = CASE WHEN ? THEN 0 ELSE health_checked_at END WHERE id = ?`,
		oauthflow.StatusConnected, string(warnings), millis(now), t.Version, millis(now), ev.Reason == oauthflow.ReasonConnect,
		ev.Reason == oauthflow.ReasonConnect, ev.Reason == oauthflow.ReasonConnect, accountID)
	if err != nil {
		return t, fmt.Errorf("store: save token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, fmt.Errorf("store: save token: account %s: %w", accountID, oauthflow.ErrTokenConflict)
	}
	kind, detail := "refreshed", ev.Note
	if ev.Reason == oauthflow.ReasonConnect {
		kind = "connected"
	}
	if err := insertActivity(ctx, tx, Activity{At: now, AccountID: accountID, Kind: kind, Outcome: "ok", Detail: detail,
		RefreshReason: ev.Reason, DurationMS: ev.Duration.Milliseconds(), Actor: ev.Actor}); err != nil {
		return t, err
	}
	if err := endStreak(ctx, tx, accountID); err != nil {
		return t, err
	}
	if err := saveFacts(ctx, tx, accountID, ev.Captured, ev.Identity); err != nil {
		return t, err
	}
	if err := s.afterSave(ctx, tx, accountID, ev.Warnings, t.RefreshExpiry); err != nil {
		return t, err
	}
	if err := s.notify(ctx, tx, Change{AccountID: accountID}); err != nil {
		return t, err
	}
	if err := s.auditConnect(ctx, tx, accountID, ev.Reason, t.Scopes); err != nil {
		return t, err
	}
	return t, commit(tx, "save token")
}

func nonNilWarnings(ws []oauthflow.Warning) []oauthflow.Warning {
	if ws == nil {
		return []oauthflow.Warning{}
	}
	return ws
}

// RecordRefreshFailure records a failed refresh: the error on the account, the
// new status when ev.Status is set, a temporary-failure count, and activity —
// for a failure in a streak (ev.Backoff), the streak beside the lease and one
// activity row for the whole streak.
func (s *Store) RecordRefreshFailure(ctx context.Context, accountID string, ev oauthflow.RefreshEvent) (err error) {
	defer func() { s.NoteUnavailable(err) }()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record refresh failure: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	temp := 0
	if ev.Kind == oauthflow.KindTemporary {
		temp = 1
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET status = CASE WHEN ? = '' THEN status ELSE ? END, last_error = ?,
		health = CASE WHEN ? = '' THEN health ELSE '' END,
		temporary_failures = CASE WHEN ? = 1 THEN temporary_failures + 1 ELSE 0 END, updated_at = ? WHERE id = ?`,
		ev.Status, ev.Status, truncate(ev.Error, 1000), ev.Status, temp, millis(now), accountID); err != nil {
		return fmt.Errorf("store: record refresh failure: %w", err)
	}
	if ev.Backoff.Failures > 0 {
		if err := s.recordStreak(ctx, tx, accountID, ev, now); err != nil {
			return err
		}
	} else {
		if err := insertActivity(ctx, tx, Activity{At: now, AccountID: accountID, Kind: "refresh_failed", Outcome: ev.Kind.String(),
			Detail: truncate(ev.Error, 1000), RefreshReason: ev.Reason, DurationMS: ev.Duration.Milliseconds(), Actor: ev.Actor}); err != nil {
			return err
		}
		if err := endStreak(ctx, tx, accountID); err != nil {
			return err
		}
	}
	if err := s.afterFailure(ctx, tx, accountID, ev); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: accountID}); err != nil {
		return err
	}
	return commit(tx, "record refresh failure")
}

// AcquireLease takes the account's refresh lease unless another holder's is
// still valid. One statement, so it is atomic in SQLite and PostgreSQL alike.
func (s *Store) AcquireLease(ctx context.Context, accountID, holder string, ttl time.Duration) (_ bool, err error) {
	defer func() { s.NoteUnavailable(err) }()
	now := s.now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO token_leases (account_id, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE token_leases.expires_at <= ? OR token_leases.holder = excluded.holder`,
		accountID, holder, millis(now.Add(ttl)), millis(now))
	if err != nil {
		if isForeignKeyViolation(err) {
			return false, fmt.Errorf("store: lease account %s: %w", accountID, ErrNotFound)
		}
		return false, fmt.Errorf("store: lease account %s: %w", accountID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClearLeases drops every refresh lease and says how many there were; the
// accounts' failure streaks stay, so a restart does not restart a storm. Only
// a process that knows no other one can hold a lease may call it: the server
// at start-up, holding the data dir's lock, so that the leases of a
// predecessor killed mid-refresh do not hold up those accounts' refreshes
// until they expire. (Several servers on one shared database must rely on
// expiry.)
func (s *Store) ClearLeases(ctx context.Context) (int64, error) {
	res, err := s.write.ExecContext(ctx, "UPDATE token_leases SET holder = '', expires_at = 0 WHERE holder != ''")
	if err != nil {
		return 0, fmt.Errorf("store: clear leases: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ReleaseLease gives the lease back if holder still has it (the row, with the
// account's failure streak, stays).
func (s *Store) ReleaseLease(ctx context.Context, accountID, holder string) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE token_leases SET holder = '', expires_at = 0 WHERE account_id = ? AND holder = ?", accountID, holder); err != nil {
		return fmt.Errorf("store: release lease of account %s: %w", accountID, err)
	}
	return nil
}

// DisconnectAccount deletes an account's tokens whatever the revocation's
// outcome, sets it disconnected and records the outcome.
func (s *Store) DisconnectAccount(ctx context.Context, accountID string, revoked bool, detail, actor string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: disconnect account %s: %w", accountID, err)
	}
	defer tx.Rollback()
	now := s.now()
	var was string
	if err := tx.QueryRowContext(ctx, "SELECT status FROM accounts WHERE id = ?", accountID).Scan(&was); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: disconnect account %s: %w", accountID, err)
	}
	// The account's row first, then its token: the order SaveToken locks them in.
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET status = ?, last_error = '', warnings = '[]', temporary_failures = 0,
		token_version = token_version + 1, health = '', health_detail = '', health_checked_at = 0, updated_at = ? WHERE id = ?`, oauthflow.StatusDisconnected, millis(now), accountID)
	if err != nil {
		return fmt.Errorf("store: disconnect account %s: %w", accountID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: disconnect account %s: %w", accountID, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE account_id = ?", accountID); err != nil {
		return fmt.Errorf("store: disconnect account %s: %w", accountID, err)
	}
	outcome := "not_revoked"
	if revoked {
		outcome = "revoked"
	}
	if err := insertActivity(ctx, tx, Activity{At: now, AccountID: accountID, Kind: "disconnected", Outcome: outcome, Detail: truncate(detail, 1000), Actor: actor}); err != nil {
		return err
	}
	if err := s.resolveAlerts(ctx, tx, accountID, "disconnected", "", AlertNeedsReconnect, AlertError, AlertRefreshFailing, AlertShortTTL, AlertRefreshTokenExpiring); err != nil {
		return err
	}
	if err := endStreak(ctx, tx, accountID); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, Change{AccountID: accountID}); err != nil {
		return err
	}
	if was != oauthflow.StatusDisconnected { // a delete disconnects first: a disconnected account changes in nothing
		if err := s.audit(ctx, tx, AuditAccount, accountID, ActionAccountDisconnect, map[string]any{"revoked": revoked}); err != nil {
			return err
		}
	}
	return commit(tx, "disconnect account")
}

func truncate(s string, n int) string {
	s = cleanText(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // never cut a character in two
		n--
	}
	return s[:n] + "…"
}

// cleanText makes text from outside (a provider's error, a URL's path)
// storable in both databases: PostgreSQL refuses a NUL byte and invalid
// UTF-8 in a TEXT column, so they are dropped and replaced, on SQLite too,
// for the same rows on both.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
