package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookConfig is where alerts are announced.
type WebhookConfig struct {
	URL       string
	Secret    string // opened; only the sender uses it
	SecretSet bool
	UpdatedAt time.Time
}

// Delivery is one webhook event and how its sending went.
type Delivery struct {
	ID            int64
	Event         string
	Payload       string
	Status        string
	Attempts      int
	LastStatus    int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	DeliveredAt   time.Time
}

const webhookSecretAAD = "webhook_config.secret:1"

// GetWebhook returns the webhook configuration with its secret opened; an
// unconfigured webhook is the zero value.
func (s *Store) GetWebhook(ctx context.Context) (WebhookConfig, error) {
	var c WebhookConfig
	var sealed []byte
	var updated int64
	err := s.read.QueryRowContext(ctx, "SELECT url, secret, updated_at FROM webhook_config WHERE id = 1").Scan(&c.URL, &sealed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("store: webhook: %w", err)
	}
	c.UpdatedAt = fromMillis(updated)
	if sealed != nil {
		if s.sealer == nil {
			return c, errors.New("store: no encryption key configured: cannot open the webhook secret")
		}
		plain, err := s.sealer.Open(sealed, webhookSecretAAD)
		if err != nil {
			return c, err
		}
		c.Secret, c.SecretSet = string(plain), true
	}
	return c, nil
}

// SetWebhookURL sets (or, with "", clears) the webhook URL.
func (s *Store) SetWebhookURL(ctx context.Context, url string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO webhook_config (id, url, updated_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at`, url, millis(s.now()))
	if err != nil {
		return fmt.Errorf("store: set webhook url: %w", err)
	}
	return nil
}

// SetWebhookSecret stores a new signing secret, sealed.
func (s *Store) SetWebhookSecret(ctx context.Context, secret string) error {
	if s.sealer == nil {
		return errors.New("store: no encryption key configured: cannot store the webhook secret")
	}
	sealed, err := s.sealer.Seal([]byte(secret), webhookSecretAAD)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO webhook_config (id, secret, updated_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at`, sealed, millis(s.now()))
	if err != nil {
		return fmt.Errorf("store: set webhook secret: %w", err)
	}
	return nil
}

const deliveryColumns = "id, event, payload, status, attempts, last_status, last_error, next_attempt_at, created_at, delivered_at"

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var next, created, delivered int64
	err := row.Scan(&d.ID, &d.Event, &d.Payload, &d.Status, &d.Attempts, &d.LastStatus, &d.LastError, &next, &created, &delivered)
	d.NextAttemptAt, d.CreatedAt, d.DeliveredAt = fromMillis(next), fromMillis(created), fromMillis(delivered)
	return d, err
}

// ClaimDeliveries returns up to limit pending deliveries that are due and
// pushes their next attempt back by lease, so another worker (or process)
// does not send them at the same time.
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]Delivery, error) {
	now := s.now()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: claim deliveries: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
		millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim deliveries: %w", err)
	}
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: claim deliveries: %w", err)
		}
		out = append(out, d)
	}
	rows.Close()
	for _, d := range out {
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?", millis(now.Add(lease)), d.ID); err != nil {
			return nil, fmt.Errorf("store: claim deliveries: %w", err)
		}
	}
	return out, commit(tx, "claim deliveries")
}

// RecordAttempt records one sending attempt: delivered, or retried at next,
// or (next zero) failed for good.
func (s *Store) RecordAttempt(ctx context.Context, id int64, httpStatus int, errText string, delivered bool, next time.Time) error {
	status := DeliveryPending
	var deliveredAt int64
	switch {
	case delivered:
		status, deliveredAt = DeliveryDelivered, millis(s.now())
	case next.IsZero():
		status = DeliveryFailed
	}
	_, err := s.write.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
		next_attempt_at = ?, delivered_at = ? WHERE id = ?`, status, httpStatus, truncate(errText, 500), millis(next), deliveredAt, id)
	if err != nil {
		return fmt.Errorf("store: record delivery attempt: %w", err)
	}
	return nil
}

// ResendDelivery queues a delivery again from scratch.
func (s *Store) ResendDelivery(ctx context.Context, id int64) error {
	res, err := s.write.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, last_error = '', next_attempt_at = ?,
		delivered_at = 0 WHERE id = ?`, millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: resend delivery %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: resend delivery %d: %w", id, ErrNotFound)
	}
	return nil
}

// ListDeliveries returns the latest deliveries.
func (s *Store) ListDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("store: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
