package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

const (
	webhookSecretAAD = "webhook_config.secret:1"
	webhookURLAAD    = "webhook_config.url:1"
)

// GetWebhook returns the webhook configuration with its URL and secret
// opened; an unconfigured webhook is the zero value.
func (s *Store) GetWebhook(ctx context.Context) (WebhookConfig, error) {
	var c WebhookConfig
	var sealedURL, sealed []byte
	var updated int64
	err := s.read.QueryRowContext(ctx, "SELECT url, url_sealed, secret, updated_at FROM webhook_config WHERE id = 1").Scan(&c.URL, &sealedURL, &sealed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("store: webhook: %w", err)
	}
	c.UpdatedAt = fromMillis(updated)
	if sealedURL != nil { // else a plaintext URL of an older version, not yet sealed (no key)
		u, err := s.open(sealedURL, webhookURLAAD, "the webhook URL")
		if err != nil {
			return c, err
		}
		c.URL = u
	}
	if sealed != nil {
		secret, err := s.open(sealed, webhookSecretAAD, "the webhook secret")
		if err != nil {
			return c, err
		}
		c.Secret, c.SecretSet = secret, true
	}
	return c, nil
}

// open opens one sealed value, naming it when there is no key.
func (s *Store) open(sealed []byte, aad, what string) (string, error) {
	if s.sealer == nil {
		return "", fmt.Errorf("store: no encryption key configured: cannot open %s", what)
	}
	plain, err := s.sealer.Open(sealed, aad)
	return string(plain), err
}

// SetWebhookURL sets (or, with "", clears) the webhook URL, sealed: its
// query or path often holds the receiver's token.
func (s *Store) SetWebhookURL(ctx context.Context, url string) error {
	var sealed []byte
	if url != "" {
		if s.sealer == nil {
			return errors.New("store: no encryption key configured: cannot store the webhook URL")
		}
		var err error
		if sealed, err = s.sealer.Seal([]byte(url), webhookURLAAD); err != nil {
			return err
		}
	}
	change := Changed // the URL often holds the receiver's token: never in the audit log
	if url == "" {
		change = "cleared"
	}
	_, err := s.execAudited(ctx, "set webhook url", auditRow{AuditSetting, "webhook_url", ActionSettingChange, map[string]any{"webhook_url": change}},
		`INSERT INTO webhook_config (id, url, url_sealed, updated_at) VALUES (1, '', ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = '', url_sealed = excluded.url_sealed, updated_at = excluded.updated_at`, sealed, millis(s.now()))
	return err
}

// sealPlainWebhookURL seals a webhook URL that an older version stored in
// plaintext (migration 0010), with secure_delete on so the old bytes are
// overwritten in the page, then checkpoints the WAL away: afterwards the
// URL is in neither file. It runs at Open, before any reader.
func (s *Store) sealPlainWebhookURL(ctx context.Context) error {
	var plain string
	err := s.write.QueryRowContext(ctx, "SELECT url FROM webhook_config WHERE id = 1 AND url != ''").Scan(&plain)
	if errors.Is(err, sql.ErrNoRows) || s.sealer == nil {
		return nil // nothing to seal, or no key yet: GetWebhook reads the plaintext until a start with the key
	}
	if err != nil {
		return fmt.Errorf("store: seal the webhook URL: %w", err)
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: seal the webhook URL: %w", err)
	}
	defer conn.Close()
	sealed, err := s.sealer.Seal([]byte(plain), webhookURLAAD)
	if err != nil {
		return err
	}
	for _, q := range []string{"PRAGMA secure_delete = ON", "UPDATE webhook_config SET url = '', url_sealed = ? WHERE id = 1",
		"PRAGMA secure_delete = OFF", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		var args []any
		if strings.HasPrefix(q, "UPDATE") {
			args = append(args, sealed)
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: seal the webhook URL: %w", err)
		}
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
	_, err = s.execAudited(ctx, "set webhook secret", auditRow{AuditSetting, "webhook_secret", ActionSettingChange, map[string]any{"webhook_secret": Changed}},
		`INSERT INTO webhook_config (id, secret, updated_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at`, sealed, millis(s.now()))
	return err
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
	// SKIP LOCKED on PostgreSQL: deliveries another replica is claiming
	// right now are left to it, so none is sent twice.
	rows, err := tx.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?"+
		s.skipLocked(), millis(now), limit)
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

// EventTest is the event of a test delivery sent from Settings.
const EventTest = "account.test"

// ErrNoWebhook is returned when a test event is asked for with no webhook URL set.
var ErrNoWebhook = errors.New("no webhook URL is set")

// QueueTestEvent queues an account.test delivery through the same outbox
// as alerts, so it is signed, retried and listed like any delivery. Its
// body has the alert events' shape with the account fields empty; reason
// says who sent it.
func (s *Store) QueueTestEvent(ctx context.Context, reason string) (Delivery, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return Delivery{}, fmt.Errorf("store: queue test event: %w", err)
	}
	defer tx.Rollback()
	var set bool
	err = tx.QueryRowContext(ctx, "SELECT url_sealed IS NOT NULL OR url != '' FROM webhook_config WHERE id = 1").Scan(&set)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !set) {
		return Delivery{}, ErrNoWebhook
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("store: queue test event: %w", err)
	}
	at := s.now()
	body, err := json.Marshal(WebhookEvent{Event: EventTest, Reason: truncate(reason, 1000), At: at.UTC().Format(time.RFC3339)})
	if err != nil {
		return Delivery{}, fmt.Errorf("store: queue test event: %w", err)
	}
	d, err := scanDelivery(tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (event, payload, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?) RETURNING `+deliveryColumns, EventTest, string(body), millis(at), millis(at)))
	if err != nil {
		return Delivery{}, fmt.Errorf("store: queue test event: %w", err)
	}
	return d, commit(tx, "queue test event")
}
