package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"airlock/oauthflow"
)

// Alert kinds and the webhook events they raise.
const (
	AlertNeedsReconnect = "needs_reconnect"
	AlertError          = "error"
	AlertRefreshFailing = "refresh_failing"
	AlertShortTTL       = "short_ttl"
	// AlertRefreshTokenExpiring opens RefreshTokenExpiryNotice before the
	// refresh token dies (refresh_token_expires_in): only a reconnect helps.
	AlertRefreshTokenExpiring = "refresh_token_expiring"
)

// RefreshTokenExpiryNotice is how long before its refresh token dies an
// account's refresh_token_expiring alert opens.
const RefreshTokenExpiryNotice = 7 * 24 * time.Hour

// Alert is an account that needs a person.
type Alert struct {
	ID             int64
	AccountID      string
	AccountName    string
	IntegrationKey string
	Kind           string
	Reason         string
	OpenedAt       time.Time
	ResolvedAt     time.Time
	Resolution     string // recovered, acknowledged, disconnected
	AcknowledgedBy string
}

// WebhookEvent is the JSON body of a webhook delivery.
type WebhookEvent struct {
	Event       string `json:"event"`
	Integration string `json:"integration"`
	AccountID   string `json:"account_id"`
	AccountName string `json:"account_name"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
	At          string `json:"at"`
}

// accountInfo is what alerts and webhook events say about an account.
type accountInfo struct {
	name, key, status string
	tempFailures      int
}

func loadAccountInfo(ctx context.Context, tx *sql.Tx, id string) (accountInfo, error) {
	var a accountInfo
	err := tx.QueryRowContext(ctx, `SELECT a.name, i.key, a.status, a.temporary_failures FROM accounts a
		JOIN integrations i ON i.id = a.integration_id WHERE a.id = ?`, id).Scan(&a.name, &a.key, &a.status, &a.tempFailures)
	if err != nil {
		return a, fmt.Errorf("store: account %s for alerts: %w", id, err)
	}
	return a, nil
}

// openAlert opens an alert unless one of that kind is already open, and
// queues its webhook event in the same transaction.
func (s *Store) openAlert(ctx context.Context, tx *sql.Tx, accountID, kind, reason string) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM alerts WHERE account_id = ? AND kind = ? AND resolved_at = 0", accountID, kind).Scan(&n); err != nil {
		return fmt.Errorf("store: open alert: %w", err)
	}
	if n > 0 {
		return nil
	}
	now := s.now()
	if _, err := tx.ExecContext(ctx, "INSERT INTO alerts (account_id, kind, reason, opened_at) VALUES (?, ?, ?, ?)",
		accountID, kind, truncate(reason, 1000), millis(now)); err != nil {
		return fmt.Errorf("store: open alert: %w", err)
	}
	return s.queueEvent(ctx, tx, "account."+kind, accountID, reason, now)
}

// resolveAlerts closes an account's open alerts of the given kinds and, when
// event is set and any were open, queues that event (account.recovered).
func (s *Store) resolveAlerts(ctx context.Context, tx *sql.Tx, accountID, resolution, event string, kinds ...string) error {
	now := s.now()
	var closed int64
	for _, k := range kinds {
		res, err := tx.ExecContext(ctx, "UPDATE alerts SET resolved_at = ?, resolution = ? WHERE account_id = ? AND kind = ? AND resolved_at = 0",
			millis(now), resolution, accountID, k)
		if err != nil {
			return fmt.Errorf("store: resolve alerts: %w", err)
		}
		n, _ := res.RowsAffected()
		closed += n
	}
	if closed > 0 && event != "" {
		return s.queueEvent(ctx, tx, event, accountID, "the account works again", now)
	}
	return nil
}

// afterSave updates alerts after a token was saved: the account works, so
// failure alerts close (announcing recovery), a refresh token about to die
// opens its alert (one that lives longer closes it), and a short token
// lifetime opens or closes its own alert.
func (s *Store) afterSave(ctx context.Context, tx *sql.Tx, accountID string, warnings []oauthflow.Warning, refreshExpiry time.Time) error {
	if err := s.resolveAlerts(ctx, tx, accountID, "recovered", "account.recovered", AlertNeedsReconnect, AlertError, AlertRefreshFailing); err != nil {
		return err
	}
	if err := s.refreshExpiryAlert(ctx, tx, accountID, refreshExpiry); err != nil {
		return err
	}
	for _, w := range warnings {
		if w.Code == oauthflow.WarnShortTTL {
			return s.openAlert(ctx, tx, accountID, AlertShortTTL, w.Message)
		}
	}
	return s.resolveAlerts(ctx, tx, accountID, "recovered", "", AlertShortTTL)
}

// afterFailure opens the alert a failed refresh calls for.
func (s *Store) afterFailure(ctx context.Context, tx *sql.Tx, accountID string, ev oauthflow.RefreshEvent) error {
	switch ev.Status {
	case oauthflow.StatusNeedsReconnect:
		return s.openAlert(ctx, tx, accountID, AlertNeedsReconnect, ev.Error)
	case oauthflow.StatusError:
		return s.openAlert(ctx, tx, accountID, AlertError, ev.Error)
	}
	if ev.Kind != oauthflow.KindTemporary {
		return nil
	}
	info, err := loadAccountInfo(ctx, tx, accountID)
	if err != nil {
		return err
	}
	if info.tempFailures >= s.failureAlert {
		return s.openAlert(ctx, tx, accountID, AlertRefreshFailing,
			fmt.Sprintf("%d refreshes in a row failed for a temporary reason; the last: %s", info.tempFailures, ev.Error))
	}
	return nil
}

// queueEvent writes a webhook delivery when a webhook URL is configured.
func (s *Store) queueEvent(ctx context.Context, tx *sql.Tx, event, accountID, reason string, at time.Time) error {
	var set bool // sealed, or plaintext from an older version not yet sealed
	err := tx.QueryRowContext(ctx, "SELECT url_sealed IS NOT NULL OR url != '' FROM webhook_config WHERE id = 1").Scan(&set)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !set) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: queue webhook: %w", err)
	}
	info, err := loadAccountInfo(ctx, tx, accountID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(WebhookEvent{Event: event, Integration: info.key, AccountID: accountID, AccountName: info.name,
		Status: info.status, Reason: truncate(reason, 1000), At: at.UTC().Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("store: queue webhook: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries (event, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?)",
		event, string(body), millis(at), millis(at)); err != nil {
		return fmt.Errorf("store: queue webhook: %w", err)
	}
	return nil
}

// ListAlerts returns alerts, open ones only when open is set, newest first.
func (s *Store) ListAlerts(ctx context.Context, accountID string, open bool, limit int) ([]Alert, error) {
	q := `SELECT al.id, al.account_id, a.name, i.key, al.kind, al.reason, al.opened_at, al.resolved_at, al.resolution, al.acknowledged_by
		FROM alerts al JOIN accounts a ON a.id = al.account_id JOIN integrations i ON i.id = a.integration_id WHERE 1 = 1`
	var args []any
	if accountID != "" {
		q, args = q+" AND al.account_id = ?", append(args, accountID)
	}
	if open {
		q += " AND al.resolved_at = 0"
	}
	rows, err := s.read.QueryContext(ctx, q+" ORDER BY al.id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var opened, resolved int64
		if err := rows.Scan(&a.ID, &a.AccountID, &a.AccountName, &a.IntegrationKey, &a.Kind, &a.Reason, &opened, &resolved, &a.Resolution, &a.AcknowledgedBy); err != nil {
			return nil, fmt.Errorf("store: list alerts: %w", err)
		}
		a.OpenedAt, a.ResolvedAt = fromMillis(opened), fromMillis(resolved)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CountOpenAlerts is the number in the navigation.
func (s *Store) CountOpenAlerts(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM alerts WHERE resolved_at = 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count alerts: %w", err)
	}
	return n, nil
}

// AcknowledgeAlert closes an open alert on a person's word.
func (s *Store) AcknowledgeAlert(ctx context.Context, id int64, by string) error {
	res, err := s.write.ExecContext(ctx, "UPDATE alerts SET resolved_at = ?, resolution = 'acknowledged', acknowledged_by = ? WHERE id = ? AND resolved_at = 0",
		millis(s.now()), by, id)
	if err != nil {
		return fmt.Errorf("store: acknowledge alert %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: acknowledge alert %d: %w", id, ErrNotFound)
	}
	return nil
}
