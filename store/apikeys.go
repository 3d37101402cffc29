package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
	ExpiresAt  time.Time // zero: never
}

// Disabled reports whether the key no longer authenticates.
func (k APIKey) Disabled() bool { return !k.DisabledAt.IsZero() }

// Expired reports whether the key's expiry has come at now.
func (k APIKey) Expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

const apiKeyColumns = "id, name, role, key_hash, last4, created_by, created_at, last_used_at, disabled_at, expires_at"

func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var created, used, disabled, expires int64
	if err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.Last4, &k.CreatedBy, &created, &used, &disabled, &expires); err != nil {
		return APIKey{}, err
	}
	k.CreatedAt, k.LastUsedAt, k.DisabledAt, k.ExpiresAt = fromMillis(created), fromMillis(used), fromMillis(disabled), fromMillis(expires)
	return k, nil
}

// CreateAPIKey records a new key by its hash; it never expires.
func (s *Store) CreateAPIKey(ctx context.Context, name, role, hash, last4, createdBy string) (APIKey, error) {
	return s.CreateExpiringAPIKey(ctx, name, role, hash, last4, createdBy, time.Time{})
}

// CreateExpiringAPIKey records a new key that stops authenticating at
// expires (zero: never).
func (s *Store) CreateExpiringAPIKey(ctx context.Context, name, role, hash, last4, createdBy string, expires time.Time) (APIKey, error) {
	if !ValidRole(role) {
		return APIKey{}, fmt.Errorf("store: create api key: unknown role %q", role)
	}
	now := millis(s.now())
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key %q: %w", name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO api_keys (name, role, key_hash, last4, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, name, role, hash, last4, createdBy, now, millis(expires)).Scan(&id)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key %q: %w", name, err)
	}
	details := map[string]any{"name": name, "role": role}
	if !expires.IsZero() {
		details["expires_at"] = expires.UTC().Format(time.RFC3339)
	}
	if err := s.audit(ctx, tx, AuditAPIKey, strconv.FormatInt(id, 10), ActionAPIKeyCreate, details); err != nil {
		return APIKey{}, err
	}
	if err := commit(tx, "create api key"); err != nil {
		return APIKey{}, err
	}
	return APIKey{ID: id, Name: name, Role: role, Hash: hash, Last4: last4, CreatedBy: createdBy, CreatedAt: fromMillis(now),
		ExpiresAt: fromMillis(millis(expires))}, nil
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
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE api_keys SET disabled_at = ? WHERE id = ? AND disabled_at = 0", millis(s.now()), id)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := s.audit(ctx, tx, AuditAPIKey, strconv.FormatInt(id, 10), ActionAPIKeyDisable, nil); err != nil {
			return APIKey{}, err
		}
	}
	k, err := scanAPIKey(tx.QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: disable api key %d: %w", id, err)
	}
	// Other replicas drop the key from their caches at once.
	if err := s.notify(ctx, tx, Change{APIKeyHash: k.Hash}); err != nil {
		return APIKey{}, err
	}
	return k, commit(tx, "disable api key")
}

// DeleteAPIKey removes a key and returns it (its hash lets the caller drop
// it from any cache).
func (s *Store) DeleteAPIKey(ctx context.Context, id int64) (APIKey, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: delete api key %d: %w", id, err)
	}
	defer tx.Rollback()
	k, err := scanAPIKey(tx.QueryRowContext(ctx, "DELETE FROM api_keys WHERE id = ? RETURNING "+apiKeyColumns, id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: delete api key %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: delete api key %d: %w", id, err)
	}
	if err := s.notify(ctx, tx, Change{APIKeyHash: k.Hash}); err != nil {
		return APIKey{}, err
	}
	if err := s.audit(ctx, tx, AuditAPIKey, strconv.FormatInt(id, 10), ActionAPIKeyDelete, map[string]any{"name": k.Name, "role": k.Role}); err != nil {
		return APIKey{}, err
	}
	return k, commit(tx, "delete api key")
}

// TouchAPIKey records when a key was last used.
func (s *Store) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", millis(at), id); err != nil {
		return fmt.Errorf("store: touch api key %d: %w", id, err)
	}
	return nil
}

// APIKeyPrefix starts every API key, so a leaked key is recognisable in a scan.
const APIKeyPrefix = "alk_"

// NewAPIKey returns a fresh key, its SHA-256 (the only form stored) and its last four characters.
func NewAPIKey() (key, hash, last4 string) {
	key = APIKeyPrefix + randomKeyBody()
	return key, HashAPIKey(key), key[len(key)-4:]
}

// HashAPIKey is the stored form of a key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// randomKeyBody is 256 random bits, base64url without padding.
func randomKeyBody() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
