package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"airlock/oauthflow"
)

// ErrKeyInUse is returned when an integration's key would change while
// accounts use it.
var ErrKeyInUse = oauthflow.ErrKeyInUse

// IntegrationSummary is a row of the integrations list.
type IntegrationSummary struct {
	Integration oauthflow.Integration
	Accounts    int
}

func secretAAD(id int64) string { return fmt.Sprintf("integrations.client_secret:%d", id) }

// integrationConfig is the JSON stored in the config column: the integration
// without its secret and without what has a column of its own.
func integrationConfig(in oauthflow.Integration) (string, error) {
	in.OAuth2.ClientSecret = ""
	in.OAuth2.ClientSecretSet = false
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("store: encode integration %q: %w", in.Key, err)
	}
	return string(b), nil
}

const integrationColumns = "i.id, i.key, i.name, i.config, i.client_secret IS NOT NULL, i.client_secret_last4, i.created_at, i.updated_at"

func scanIntegration(row interface{ Scan(...any) error }, extra ...any) (oauthflow.Integration, error) {
	var in oauthflow.Integration
	var id, created, updated int64
	var key, name, config, last4 string
	var secretSet bool
	if err := row.Scan(append([]any{&id, &key, &name, &config, &secretSet, &last4, &created, &updated}, extra...)...); err != nil {
		return in, err
	}
	if err := json.Unmarshal([]byte(config), &in); err != nil {
		return in, fmt.Errorf("decode integration %q: %w", key, err)
	}
	in.ID, in.Key, in.Name = id, key, name
	if in.AuthType == "" { // stored before issue 17: OAuth 2.0
		in.AuthType = oauthflow.AuthOAuth2
	}
	in.OAuth2.ClientSecret = ""
	in.OAuth2.ClientSecretSet = secretSet
	in.OAuth2.ClientSecretLast4 = last4
	in.CreatedAt, in.UpdatedAt = fromMillis(created), fromMillis(updated)
	return in, nil
}

// CreateIntegration stores a new integration; a taken key is ErrConflict.
// in.OAuth2.ClientSecret, when set, is sealed; it is never stored in clear.
func (s *Store) CreateIntegration(ctx context.Context, in oauthflow.Integration) (oauthflow.Integration, error) {
	config, err := integrationConfig(in)
	if err != nil {
		return in, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return in, fmt.Errorf("store: create integration %q: %w", in.Key, err)
	}
	defer tx.Rollback()
	if err := s.lockNames(ctx, tx, "integrations:keys"); err != nil {
		return in, err
	}
	var n int
	// Keys differing only in case would be two integrations a person cannot
	// tell apart in a URL: taken means taken in any case.
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM integrations WHERE LOWER(key) = LOWER(?)", in.Key).Scan(&n); err != nil {
		return in, fmt.Errorf("store: create integration %q: %w", in.Key, err)
	}
	if n > 0 {
		return in, fmt.Errorf("store: create integration %q: %w", in.Key, ErrConflict)
	}
	now := millis(s.now())
	var id int64
	err = tx.QueryRowContext(ctx, "INSERT INTO integrations (key, name, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
		in.Key, in.Name, config, now, now).Scan(&id)
	if isUniqueViolation(err) {
		return in, fmt.Errorf("store: create integration %q: %w", in.Key, ErrConflict)
	}
	if err != nil {
		return in, fmt.Errorf("store: create integration %q: %w", in.Key, err)
	}
	if in.OAuth2.ClientSecret != "" {
		if err := s.setClientSecret(ctx, tx, id, in.OAuth2.ClientSecret); err != nil {
			return in, err
		}
	}
	if err := s.audit(ctx, tx, AuditIntegration, in.Key, ActionIntegrationCreate, integrationChanges("", config, in.OAuth2.ClientSecret != "")); err != nil {
		return in, err
	}
	if err := commit(tx, "create integration"); err != nil {
		return in, err
	}
	return s.GetIntegration(ctx, in.Key)
}

func (s *Store) setClientSecret(ctx context.Context, tx *sql.Tx, id int64, secret string) error {
	if s.sealer == nil {
		return errors.New("store: no encryption key configured: cannot store a client secret")
	}
	sealed, err := s.sealer.Seal([]byte(secret), secretAAD(id))
	if err != nil {
		return err
	}
	last4 := secret
	if len(last4) > 4 {
		last4 = last4[len(last4)-4:]
	}
	if len(secret) < 8 {
		last4 = "" // too short to show any of it
	}
	if _, err := tx.ExecContext(ctx, "UPDATE integrations SET client_secret = ?, client_secret_last4 = ? WHERE id = ?", sealed, last4, id); err != nil {
		return fmt.Errorf("store: set client secret of integration %d: %w", id, err)
	}
	return nil
}

// GetIntegration returns an integration without its secret (ClientSecretSet
// and ClientSecretLast4 say whether one is stored).
func (s *Store) GetIntegration(ctx context.Context, key string) (oauthflow.Integration, error) {
	in, err := scanIntegration(s.read.QueryRowContext(ctx, "SELECT "+integrationColumns+" FROM integrations i WHERE i.key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("store: get integration %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("store: get integration %q: %w", key, err)
	}
	return in, nil
}

// GetIntegrationByID is GetIntegration by row id.
func (s *Store) GetIntegrationByID(ctx context.Context, id int64) (oauthflow.Integration, error) {
	in, err := scanIntegration(s.read.QueryRowContext(ctx, "SELECT "+integrationColumns+" FROM integrations i WHERE i.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("store: get integration %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("store: get integration %d: %w", id, err)
	}
	return in, nil
}

// IntegrationSecret opens an integration's client secret ("" when none is set).
// Only the protocol code calls it, just before talking to the provider.
func (s *Store) IntegrationSecret(ctx context.Context, id int64) (string, error) {
	var sealed []byte
	err := s.read.QueryRowContext(ctx, "SELECT client_secret FROM integrations WHERE id = ?", id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: client secret of integration %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: client secret of integration %d: %w", id, err)
	}
	return s.openSecret(id, sealed)
}

// openSecret opens a sealed client secret; nil is no secret.
func (s *Store) openSecret(id int64, sealed []byte) (string, error) {
	if sealed == nil {
		return "", nil
	}
	if s.sealer == nil {
		return "", errors.New("store: no encryption key configured: cannot open a client secret")
	}
	plain, err := s.sealer.Open(sealed, secretAAD(id))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// UpdateIntegration replaces the integration stored under oldKey. An empty
// in.OAuth2.ClientSecret keeps the stored secret. Changing the key while
// accounts use the integration is ErrKeyInUse; taking another integration's
// key is ErrConflict.
func (s *Store) UpdateIntegration(ctx context.Context, oldKey string, in oauthflow.Integration) (oauthflow.Integration, error) {
	config, err := integrationConfig(in)
	if err != nil {
		return in, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return in, fmt.Errorf("store: update integration %q: %w", oldKey, err)
	}
	defer tx.Rollback()
	var id int64
	var oldConfig string
	err = tx.QueryRowContext(ctx, "SELECT id, config FROM integrations WHERE key = ?", oldKey).Scan(&id, &oldConfig)
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("store: update integration %q: %w", oldKey, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("store: update integration %q: %w", oldKey, err)
	}
	if in.Key != oldKey {
		if err := s.lockNames(ctx, tx, "integrations:keys"); err != nil {
			return in, err
		}
		var taken, accounts int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM integrations WHERE LOWER(key) = LOWER(?) AND id <> ?", in.Key, id).Scan(&taken); err != nil {
			return in, fmt.Errorf("store: update integration %q: %w", oldKey, err)
		}
		if taken > 0 {
			return in, fmt.Errorf("store: update integration %q to key %q: %w", oldKey, in.Key, ErrConflict)
		}
		if accounts, err = countAccounts(ctx, tx, id); err != nil {
			return in, err
		}
		if accounts > 0 {
			return in, fmt.Errorf("store: update integration %q: %w", oldKey, ErrKeyInUse)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE integrations SET key = ?, name = ?, config = ?, updated_at = ? WHERE id = ?",
		in.Key, in.Name, config, millis(s.now()), id); err != nil {
		return in, fmt.Errorf("store: update integration %q: %w", oldKey, err)
	}
	if in.OAuth2.ClientSecret != "" {
		if err := s.setClientSecret(ctx, tx, id, in.OAuth2.ClientSecret); err != nil {
			return in, err
		}
	}
	if err := s.notify(ctx, tx, Change{Integrations: true}); err != nil {
		return in, err
	}
	if err := s.audit(ctx, tx, AuditIntegration, in.Key, ActionIntegrationUpdate, integrationChanges(oldConfig, config, in.OAuth2.ClientSecret != "")); err != nil {
		return in, err
	}
	if err := commit(tx, "update integration"); err != nil {
		return in, err
	}
	return s.GetIntegrationByID(ctx, id)
}

// DeleteIntegration removes an integration and (by cascade) its accounts,
// returning how many accounts went. Revoking their tokens is the caller's
// job, before this.
func (s *Store) DeleteIntegration(ctx context.Context, key string) (int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: delete integration %q: %w", key, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, "SELECT id FROM integrations WHERE key = ?", key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: delete integration %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("store: delete integration %q: %w", key, err)
	}
	n, err := countAccounts(ctx, tx, id)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM integrations WHERE id = ?", id); err != nil {
		return 0, fmt.Errorf("store: delete integration %q: %w", key, err)
	}
	if err := s.notify(ctx, tx, Change{Integrations: true}); err != nil {
		return 0, err
	}
	if err := s.audit(ctx, tx, AuditIntegration, key, ActionIntegrationDelete, map[string]any{"accounts_deleted": n}); err != nil {
		return 0, err
	}
	return n, commit(tx, "delete integration")
}

// ListIntegrations returns up to limit integrations ordered by key, after the
// cursor (the last key of the previous page), whose key or name contains q.
// next is the cursor of the following page, or "" at the end.
func (s *Store) ListIntegrations(ctx context.Context, q string, limit int, cursor string) (items []IntegrationSummary, next string, err error) {
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", fmt.Errorf("store: list integrations: bad cursor: %w", ErrNotFound)
		}
		after = string(b)
	}
	pattern := "%" + escapeLike(strings.ToLower(q)) + "%"
	rows, err := s.read.QueryContext(ctx, `SELECT `+integrationColumns+`,
		(SELECT COUNT(*) FROM accounts a WHERE a.integration_id = i.id)
		FROM integrations i
		WHERE i.key > ? AND (LOWER(i.key) LIKE ? ESCAPE '\' OR LOWER(i.name) LIKE ? ESCAPE '\')
		ORDER BY i.key LIMIT ?`, after, pattern, pattern, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("store: list integrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sum IntegrationSummary
		in, err := scanIntegration(rows, &sum.Accounts)
		if err != nil {
			return nil, "", fmt.Errorf("store: list integrations: %w", err)
		}
		sum.Integration = in
		items = append(items, sum)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list integrations: %w", err)
	}
	if len(items) > limit {
		items = items[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(items[limit-1].Integration.Key))
	}
	return items, next, nil
}

// CountIntegrations returns how many integrations exist.
func (s *Store) CountIntegrations(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM integrations").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count integrations: %w", err)
	}
	return n, nil
}

func countAccounts(ctx context.Context, tx *sql.Tx, integrationID int64) (int, error) {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE integration_id = ?", integrationID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count accounts of integration %d: %w", integrationID, err)
	}
	return n, nil
}

// escapeLike escapes LIKE's wildcards so a search for "a_b" finds that text.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// IntegrationWithSecret is GetIntegrationByID with the client secret opened,
// in one query, for the protocol code only.
func (s *Store) IntegrationWithSecret(ctx context.Context, id int64) (oauthflow.Integration, error) {
	var sealed []byte
	in, err := scanIntegration(s.read.QueryRowContext(ctx, "SELECT "+integrationColumns+", i.client_secret FROM integrations i WHERE i.id = ?", id), &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("store: get integration %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("store: get integration %d: %w", id, err)
	}
	in.OAuth2.ClientSecret, err = s.openSecret(id, sealed)
	return in, err
}
