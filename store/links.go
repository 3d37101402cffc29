package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"airlock/oauthflow"
)

// ErrLinkSpent is returned for a connect link that already connected its account.
var ErrLinkSpent = oauthflow.ErrLinkSpent

// ConnectLink lets someone who is not a console user connect one account.
type ConnectLink = oauthflow.ConnectLink

// CreateConnectLink stores a link by the hash of its token.
func (s *Store) CreateConnectLink(ctx context.Context, token, accountID, createdBy string, ttl time.Duration) (ConnectLink, error) {
	now := s.now()
	l := ConnectLink{TokenHash: hashID(token), AccountID: accountID, CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return l, fmt.Errorf("store: create connect link: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "INSERT INTO connect_links (token_hash, account_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		l.TokenHash, accountID, createdBy, millis(now), millis(l.ExpiresAt))
	if err != nil {
		return l, fmt.Errorf("store: create connect link: %w", err)
	}
	if err := s.audit(ctx, tx, AuditAccount, accountID, ActionAccountConnectLink, map[string]any{"expires_at": l.ExpiresAt.UTC().Format(time.RFC3339)}); err != nil {
		return l, err
	}
	if err := commit(tx, "create connect link"); err != nil {
		return l, err
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

// ErrLinkInUse is returned for a connect link whose code exchange is under
// way in another browser.
var ErrLinkInUse = oauthflow.ErrLinkInUse

// ClaimConnectLink reserves an unspent link for one code exchange, for at
// most ttl, on behalf of holder (the pending flow; the link's own expiry is
// not checked here, the flow has its 10 minutes): of two
// browsers completing flows from one link at once, only one exchanges. The
// claim is one conditional UPDATE, so no transaction is held across the
// exchange; ReleaseConnectLink gives it back when the exchange fails, and a
// claim left by a crash lapses after ttl. ErrLinkSpent, ErrLinkInUse or
// ErrNotFound when it is not taken.
func (s *Store) ClaimConnectLink(ctx context.Context, tokenHash, holder string, ttl time.Duration) error {
	now := s.now()
	res, err := s.write.ExecContext(ctx, `UPDATE connect_links SET claimed_until = ?, claimed_by = ?
		WHERE token_hash = ? AND spent_at = 0 AND claimed_until <= ?`, millis(now.Add(ttl)), holder, tokenHash, millis(now))
	if err != nil {
		return fmt.Errorf("store: claim connect link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var spent int64
	err = s.write.QueryRowContext(ctx, "SELECT spent_at FROM connect_links WHERE token_hash = ?", tokenHash).Scan(&spent)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: claim connect link: %w", ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: claim connect link: %w", err)
	case spent != 0:
		return ErrLinkSpent
	}
	return ErrLinkInUse
}

// ReleaseConnectLink ends holder's claim on a link whose exchange failed, so
// the link works again until it expires.
func (s *Store) ReleaseConnectLink(ctx context.Context, tokenHash, holder string) error {
	_, err := s.write.ExecContext(ctx, "UPDATE connect_links SET claimed_until = 0, claimed_by = '' WHERE token_hash = ? AND claimed_by = ?",
		tokenHash, holder)
	if err != nil {
		return fmt.Errorf("store: release connect link: %w", err)
	}
	return nil
}

// SpendConnectLinks marks every unspent link of an account spent: once the
// account is connected (by one of them or from the console), an older link
// must not connect it again, to whichever provider account its holder has.
func (s *Store) SpendConnectLinks(ctx context.Context, accountID string) error {
	_, err := s.write.ExecContext(ctx, "UPDATE connect_links SET spent_at = ?, claimed_until = 0, claimed_by = '' WHERE account_id = ? AND spent_at = 0",
		millis(s.now()), accountID)
	if err != nil {
		return fmt.Errorf("store: spend connect links: %w", err)
	}
	return nil
}
