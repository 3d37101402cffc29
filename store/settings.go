package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Setting names.
const (
	// SettingSetupCode holds the SHA-256 of the current first-run setup code.
	SettingSetupCode = "setup_code_sha256"
)

// GetSetting returns a setting's value, or ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: setting %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %q: %w", name, err)
	}
	return v, nil
}

// SetSetting writes a setting.
func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("store: set setting %q: %w", name, err)
	}
	return nil
}

// DeleteSetting removes a setting (no error when it is absent).
func (s *Store) DeleteSetting(ctx context.Context, name string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM settings WHERE name = ?", name); err != nil {
		return fmt.Errorf("store: delete setting %q: %w", name, err)
	}
	return nil
}

// SigninLimitError refuses a sign-in attempt: Scope already has the maximum
// number of failures in the window, the oldest of them at Oldest.
type SigninLimitError struct {
	Scope  string
	Oldest time.Time
}

func (e *SigninLimitError) Error() string {
	return fmt.Sprintf("store: sign-in limit reached for %s", e.Scope)
}

// SigninReservation is the failure rows one attempt holds while its password
// or setup code is checked.
type SigninReservation struct{ ids []int64 }

// ReserveSigninAttempt takes one attempt of each scope's limit (for example
// "email:a@b.c" and "ip:192.0.2.1") before anything is checked: it counts each
// scope's failures of the last window and, only if every scope has fewer than
// limit, records one failure for each — counting and recording in one write
// transaction, so that n attempts at once cannot all see a count under the
// limit. An attempt that turns out right gives its rows back with
// ReleaseSigninAttempt; a wrong one leaves them as its failures. A scope at
// the limit refuses with *SigninLimitError and records nothing.
//
// On SQLite the transaction holds the database's one write lock from BEGIN
// (_txlock=immediate), which serializes reservations across goroutines and
// processes. On PostgreSQL, READ COMMITTED alone would let two transactions
// both count limit-1: each scope's advisory lock is taken first (lockNames,
// in sorted order), so reservations of one scope run one at a time across
// replicas.
func (s *Store) ReserveSigninAttempt(ctx context.Context, window time.Duration, limit int, scopes ...string) (SigninReservation, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return SigninReservation{}, fmt.Errorf("store: reserve sign-in attempt: %w", err)
	}
	defer tx.Rollback()
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = "signin:" + sc
	}
	if err := s.lockNames(ctx, tx, names...); err != nil {
		return SigninReservation{}, err
	}
	now := s.now()
	for _, sc := range scopes {
		var n int
		var oldest sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT COUNT(*), MIN(at) FROM signin_failures WHERE scope = ? AND at > ?",
			sc, millis(now.Add(-window))).Scan(&n, &oldest)
		if err != nil {
			return SigninReservation{}, fmt.Errorf("store: count sign-in failures: %w", err)
		}
		if n >= limit {
			return SigninReservation{}, &SigninLimitError{Scope: sc, Oldest: fromMillis(oldest.Int64)}
		}
	}
	var r SigninReservation
	for _, sc := range scopes {
		var id int64
		if err := tx.QueryRowContext(ctx, "INSERT INTO signin_failures (scope, at) VALUES (?, ?) RETURNING id", sc, millis(now)).Scan(&id); err != nil {
			return SigninReservation{}, fmt.Errorf("store: reserve sign-in attempt: %w", err)
		}
		r.ids = append(r.ids, id)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE at < ?", millis(now.Add(-time.Hour))); err != nil {
		return SigninReservation{}, fmt.Errorf("store: prune sign-in failures: %w", err)
	}
	return r, commit(tx, "reserve sign-in attempt")
}

// ReleaseSigninAttempt gives back an attempt that was right (or was never
// checked), and forgets every failure of the clear scopes: a right password
// clears its account's count, not its address's.
func (s *Store) ReleaseSigninAttempt(ctx context.Context, r SigninReservation, clear ...string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: release sign-in attempt: %w", err)
	}
	defer tx.Rollback()
	for _, id := range r.ids {
		if _, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE id = ?", id); err != nil {
			return fmt.Errorf("store: release sign-in attempt: %w", err)
		}
	}
	for _, sc := range clear {
		if _, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE scope = ?", sc); err != nil {
			return fmt.Errorf("store: clear sign-in failures: %w", err)
		}
	}
	return commit(tx, "release sign-in attempt")
}
