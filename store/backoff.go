package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"airlock/oauthflow"
)

// LoadBackoff returns the account's refresh failure streak as any process
// left it; the zero Backoff when there is none.
func (s *Store) LoadBackoff(ctx context.Context, accountID string) (oauthflow.Backoff, error) {
	var b oauthflow.Backoff
	var next int64
	err := s.read.QueryRowContext(ctx, `SELECT failures, next_attempt_at, last_error, lost_version FROM token_leases WHERE account_id = ?`,
		accountID).Scan(&b.Failures, &next, &b.LastError, &b.LostVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthflow.Backoff{}, nil
	}
	if err != nil {
		return b, fmt.Errorf("store: backoff of account %s: %w", accountID, err)
	}
	b.Next = fromMillis(next)
	return b, nil
}

// recordStreak keeps a failed refresh's streak beside the lease and tells
// the streak in one activity row: the first failure inserts it, the later
// ones update its count, last error and time (a row pruned meanwhile is
// inserted again), so an outage costs one row per account, not one per try.
func (s *Store) recordStreak(ctx context.Context, tx *sql.Tx, accountID string, ev oauthflow.RefreshEvent, now time.Time) error {
	b := ev.Backoff
	var rowID int64
	err := tx.QueryRowContext(ctx, "SELECT streak_activity_id FROM token_leases WHERE account_id = ?", accountID).Scan(&rowID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: record refresh failure: %w", err)
	}
	updated := false
	if b.Failures > 1 && rowID > 0 {
		res, err := tx.ExecContext(ctx, `UPDATE activity SET count = ?, outcome = ?, detail = ?, last_at = ?, duration_ms = ?, refresh_reason = ?
			WHERE id = ? AND account_id = ? AND kind = 'refresh_failed'`, b.Failures, ev.Kind.String(), truncate(ev.Error, 1000), millis(now),
			ev.Duration.Milliseconds(), ev.Reason, rowID, accountID)
		if err != nil {
			return fmt.Errorf("store: record refresh failure: %w", err)
		}
		n, _ := res.RowsAffected()
		updated = n == 1
	}
	if !updated {
		err := tx.QueryRowContext(ctx, insertActivitySQL+" RETURNING id", activityArgs(Activity{At: now, AccountID: accountID, Kind: "refresh_failed",
			Outcome: ev.Kind.String(), Detail: truncate(ev.Error, 1000), RefreshReason: ev.Reason, DurationMS: ev.Duration.Milliseconds(),
			Actor: ev.Actor, Count: max(1, b.Failures), LastAt: now})...).Scan(&rowID)
		if err != nil {
			return fmt.Errorf("store: record activity: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO token_leases (account_id, holder, expires_at, failures, next_attempt_at, last_error, lost_version, streak_activity_id)
		VALUES (?, '', 0, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET failures = excluded.failures, next_attempt_at = excluded.next_attempt_at,
			last_error = excluded.last_error, lost_version = excluded.lost_version, streak_activity_id = excluded.streak_activity_id`,
		accountID, b.Failures, millis(b.Next), truncate(b.LastError, 1000), b.LostVersion, rowID); err != nil {
		return fmt.Errorf("store: record refresh failure: %w", err)
	}
	return nil
}

// endStreak clears an account's failure streak (a token was saved, the
// grant died, the account was disconnected).
func endStreak(ctx context.Context, ex execer, accountID string) error {
	if _, err := ex.ExecContext(ctx, `UPDATE token_leases SET failures = 0, next_attempt_at = 0, last_error = '', lost_version = 0,
		streak_activity_id = 0 WHERE account_id = ? AND (failures > 0 OR lost_version != 0)`, accountID); err != nil {
		return fmt.Errorf("store: end failure streak: %w", err)
	}
	return nil
}
