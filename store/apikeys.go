package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIKey is a key's record; the key itself is never stored, only its hash.
type APIKey struct {
	ID         int64
	Name       string
	Role       string
	Hash       string // hex SHA-256 of the key
	Last4      string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	DisabledAt time.Time
}

// Disabled reports whether the key no longer authenticates.
func (k APIKey) Disabled() bool { return !k.DisabledAt.IsZero() }

const apiKeyColumns = "id, name, role, key_hash, last4, created_by, created_at, last_used_at, disabled_at"

func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var created, used, disabled int64
	if err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.Last4, &k.CreatedBy, &created, &used, &disabled); err != nil {
		return APIKey{}, err
	}
	k.CreatedAt, k.LastUsedAt, k.DisabledAt = fromMillis(created), fromMillis(used), fromMillis(disabled)
	return k, nil
}

// CreateAPIKey records a new key by its hash.
func (s *Store) CreateAPIKey(ctx context.Context, name, role, hash, last4, createdBy string) (APIKey, error) {
	if !ValidRole(role) {
		return APIKey{}, fmt.Errorf("store: create api key: unknown role %q", role)
	}
	now := millis(s.now())
	res, err := s.write.ExecContext(ctx, `INSERT INTO api_keys (name, role, key_hash, last4, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, name, role, hash, last4, createdBy, now)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key %q: %w", name, err)
	}
	id, _ := res.LastInsertId()
	return APIKey{ID: id, Name: name, Role: role, Hash: hash, Last4: last4, CreatedBy: createdBy, CreatedAt: fromMillis(now)}, nil
}

// APIKeyByHash finds a key by the hash of its text.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE key_hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: api key: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// DisableAPIKey stops a key from authenticating and returns it (its hash lets
// the caller drop it from any cache).
func (s *Store) DisableAPIKey(ctx context.Context, id int64) (APIKey, error) {
	res, err := s.write.ExecContext(ctx, "UPDATE api_keys SET disabled_at = ? WHERE id = ? AND disabled_at = 0", millis(s.now()), id)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, err)
	}
	_ = res
	k, err := scanAPIKey(s.write.QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, err)
	}
	return k, nil
}

// TouchAPIKey records when a key was last used.
func (s *Store) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", millis(at), id); err != nil {
		return fmt.Errorf("store: touch api key %d: %w", id, err)
	}
	return nil
}
