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

// RecordSigninFailure counts one failed sign-in against each scope (for example
// "email:a@b.c" and "ip:192.0.2.1") and prunes rows older than an hour.
func (s *Store) RecordSigninFailure(ctx context.Context, scopes ...string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record sign-in failure: %w", err)
	}
	defer tx.Rollback()
	now := s.now()
	for _, sc := range scopes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO signin_failures (scope, at) VALUES (?, ?)", sc, millis(now)); err != nil {
			return fmt.Errorf("store: record sign-in failure: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM signin_failures WHERE at < ?", millis(now.Add(-time.Hour))); err != nil {
		return fmt.Errorf("store: prune sign-in failures: %w", err)
	}
	return commit(tx, "record sign-in failure")
}

// SigninFailures counts a scope's failures since a time and returns the oldest
// of them, from which the caller computes when the window frees up.
func (s *Store) SigninFailures(ctx context.Context, scope string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*), MIN(at) FROM signin_failures WHERE scope = ? AND at > ?",
		scope, millis(since)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: count sign-in failures: %w", err)
	}
	return n, fromMillis(oldest.Int64), nil
}

// ClearSigninFailures forgets a scope's failures (after a successful sign-in).
func (s *Store) ClearSigninFailures(ctx context.Context, scope string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM signin_failures WHERE scope = ?", scope); err != nil {
		return fmt.Errorf("store: clear sign-in failures: %w", err)
	}
	return nil
}
