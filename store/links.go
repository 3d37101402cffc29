package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrLinkSpent is returned for a connect link that already connected its account.
var ErrLinkSpent = errors.New("this connect link was already used")

// ConnectLink lets someone who is not a console user connect one account.
type ConnectLink struct {
	TokenHash string
	AccountID string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   time.Time
}

// CreateConnectLink stores a link by the hash of its token.
func (s *Store) CreateConnectLink(ctx context.Context, token, accountID, createdBy string, ttl time.Duration) (ConnectLink, error) {
	now := s.now()
	l := ConnectLink{TokenHash: hashID(token), AccountID: accountID, CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	_, err := s.write.ExecContext(ctx, "INSERT INTO connect_links (token_hash, account_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		l.TokenHash, accountID, createdBy, millis(now), millis(l.ExpiresAt))
	if err != nil {
		return l, fmt.Errorf("store: create connect link: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = fromMillis(millis(now)), fromMillis(millis(l.ExpiresAt))
	return l, nil
}

// GetConnectLink finds a live link: ErrNotFound (unknown or expired) or ErrLinkSpent.
func (s *Store) GetConnectLink(ctx context.Context, token string) (ConnectLink, error) {
	var l ConnectLink
	var created, expires, spent int64
	err := s.read.QueryRowContext(ctx, "SELECT token_hash, account_id, created_by, created_at, expires_at, spent_at FROM connect_links WHERE token_hash = ?",
		hashID(token)).Scan(&l.TokenHash, &l.AccountID, &l.CreatedBy, &created, &expires, &spent)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("store: connect link: %w", ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("store: connect link: %w", err)
	}
	l.CreatedAt, l.ExpiresAt, l.SpentAt = fromMillis(created), fromMillis(expires), fromMillis(spent)
	if spent != 0 {
		return l, ErrLinkSpent
	}
	if !s.now().Before(l.ExpiresAt) {
		return l, fmt.Errorf("store: connect link expired: %w", ErrNotFound)
	}
	return l, nil
}

// SpendConnectLink marks a link used and reports whether this call did: of
// two browsers completing flows from one link, only the first may connect.
func (s *Store) SpendConnectLink(ctx context.Context, tokenHash string) (bool, error) {
	res, err := s.write.ExecContext(ctx, "UPDATE connect_links SET spent_at = ? WHERE token_hash = ? AND spent_at = 0", millis(s.now()), tokenHash)
	if err != nil {
		return false, fmt.Errorf("store: spend connect link: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
