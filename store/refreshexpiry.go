package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"airlock/oauthflow"
)

// refreshExpiryAlert opens the account's refresh_token_expiring alert when
// its refresh token dies within RefreshTokenExpiryNotice, and closes it when
// the token saved has none so close (a reconnect gave a new one).
func (s *Store) refreshExpiryAlert(ctx context.Context, tx *sql.Tx, accountID string, refreshExpiry time.Time) error {
	if !refreshExpiry.IsZero() && refreshExpiry.Sub(s.now()) <= RefreshTokenExpiryNotice {
		return s.openAlert(ctx, tx, accountID, AlertRefreshTokenExpiring, refreshExpiryMessage(refreshExpiry, s.now()))
	}
	return s.resolveAlerts(ctx, tx, accountID, "recovered", "", AlertRefreshTokenExpiring)
}

// refreshExpiryMessage is the alert's reason.
func refreshExpiryMessage(at, now time.Time) string {
	left := at.Sub(now)
	when := "has expired"
	if left > 0 {
		when = fmt.Sprintf("expires at %s (in %s)", at.UTC().Format(time.RFC3339), roundDays(left))
	}
	return "The refresh token " + when + ": refreshing does not extend it, only a reconnect does. Reconnect the account before then."
}

func roundDays(d time.Duration) string {
	if d < 24*time.Hour {
		return fmt.Sprintf("%d h", int(d.Hours()+0.5))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24+0.5))
}

// OpenRefreshTokenExpiryAlerts opens the refresh_token_expiring alert of
// every connected account whose refresh token dies within
// RefreshTokenExpiryNotice and has none open yet, each with its webhook
// event, and says how many it opened. Housekeeping calls it every few
// minutes: a token saved long ago comes into the notice period without any
// save.
func (s *Store) OpenRefreshTokenExpiryAlerts(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.read.QueryContext(ctx, `SELECT t.account_id, t.refresh_expires_at FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.refresh_expires_at > 0 AND t.refresh_expires_at <= ? AND a.status = ? AND t.refresh_token IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.account_id = t.account_id AND al.kind = ? AND al.resolved_at = 0)`,
		millis(now.Add(RefreshTokenExpiryNotice)), oauthflow.StatusConnected, AlertRefreshTokenExpiring)
	if err != nil {
		return 0, fmt.Errorf("store: refresh tokens expiring: %w", err)
	}
	type due struct {
		id string
		at int64
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: refresh tokens expiring: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: refresh tokens expiring: %w", err)
	}
	for _, d := range list {
		if err := s.openExpiryAlert(ctx, d.id, fromMillis(d.at)); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}

func (s *Store) openExpiryAlert(ctx context.Context, accountID string, at time.Time) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: open refresh expiry alert: %w", err)
	}
	defer tx.Rollback()
	if err := s.openAlert(ctx, tx, accountID, AlertRefreshTokenExpiring, refreshExpiryMessage(at, s.now())); err != nil {
		return err
	}
	return commit(tx, "open refresh expiry alert")
}
