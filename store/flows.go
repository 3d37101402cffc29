package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"airlock/oauthflow"
)

// ErrFlowUsed is returned when a pending flow's state was already used.
var ErrFlowUsed = oauthflow.ErrFlowUsed

// ErrFlowOtherSession is returned when a callback arrives in a browser
// session other than the one that started the flow.
var ErrFlowOtherSession = oauthflow.ErrFlowOtherSession

// ErrFlowExpired is returned when a pending flow is older than its lifetime.
var ErrFlowExpired = oauthflow.ErrFlowExpired

// PendingFlow is an authorization-code flow between the redirect to the
// provider and the callback (SessionHash is store.IDHash of its session).
type PendingFlow = oauthflow.Flow

func verifierAAD(stateHash string) string { return "oauth_flows.verifier:" + stateHash }

// CreateFlow stores a pending flow for the given state.
func (s *Store) CreateFlow(ctx context.Context, state string, f PendingFlow) error {
	if s.sealer == nil {
		return errors.New("store: no encryption key configured: cannot store a flow")
	}
	f.StateHash = hashID(state)
	sealed, err := s.sealer.Seal([]byte(f.Verifier), verifierAAD(f.StateHash))
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO oauth_flows (state_hash, session_hash, account_id, integration_id, verifier,
		redirect_uri, token_url, realm, connect_link, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.StateHash, f.SessionHash, f.AccountID, f.IntegrationID, sealed, f.RedirectURI, f.TokenURL, f.Realm, f.ConnectLink,
		millis(f.CreatedAt), millis(f.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create flow: %w", err)
	}
	return nil
}

// TakeFlow looks up the flow of a state and marks it used in the same
// transaction, so a state works exactly once: ErrNotFound (unknown),
// ErrFlowOtherSession, ErrFlowUsed, ErrFlowExpired. sessionHash is the
// browser session the callback came in (IDHash); a callback from another
// session is refused without touching the flow, so whoever got hold of the
// callback URL cannot spend the owner's sign-in.
func (s *Store) TakeFlow(ctx context.Context, state, sessionHash string) (PendingFlow, error) {
	h := hashID(state)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return PendingFlow{}, fmt.Errorf("store: take flow: %w", err)
	}
	defer tx.Rollback()
	var f PendingFlow
	var sealed []byte
	var created, expires, used int64
	err = tx.QueryRowContext(ctx, `SELECT state_hash, session_hash, account_id, integration_id, verifier, redirect_uri, token_url,
		realm, connect_link, created_at, expires_at, used_at FROM oauth_flows WHERE state_hash = ?`+s.forUpdate(), h).Scan(
		&f.StateHash, &f.SessionHash, &f.AccountID, &f.IntegrationID, &sealed, &f.RedirectURI, &f.TokenURL,
		&f.Realm, &f.ConnectLink, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("store: take flow: %w", ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("store: take flow: %w", err)
	}
	f.CreatedAt, f.ExpiresAt = fromMillis(created), fromMillis(expires)
	if sessionHash == "" || f.SessionHash != sessionHash {
		return PendingFlow{}, ErrFlowOtherSession
	}
	if used != 0 {
		return f, ErrFlowUsed
	}
	if _, err := tx.ExecContext(ctx, "UPDATE oauth_flows SET used_at = ? WHERE state_hash = ?", millis(s.now()), h); err != nil {
		return f, fmt.Errorf("store: take flow: %w", err)
	}
	if err := commit(tx, "take flow"); err != nil {
		return f, err
	}
	if !s.now().Before(f.ExpiresAt) {
		return f, ErrFlowExpired
	}
	plain, err := s.sealer.Open(sealed, verifierAAD(h))
	if err != nil {
		return f, err
	}
	f.Verifier = string(plain)
	return f, nil
}

// CountPendingFlows counts unused, unexpired flows (a metric).
func (s *Store) CountPendingFlows(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM oauth_flows WHERE used_at = 0 AND expires_at > ?", millis(s.now())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count flows: %w", err)
	}
	return n, nil
}

// SweepFlows deletes flows that expired more than a day ago (kept a while so a
// late callback is told "expired" rather than "unknown").
func (s *Store) SweepFlows(ctx context.Context) (int64, error) {
	n, err := s.exclusive(ctx, "sweep-flows", "DELETE FROM oauth_flows WHERE expires_at < ?", millis(s.now().Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("store: sweep flows: %w", err)
	}
	return n, nil
}
