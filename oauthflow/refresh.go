package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// leasePoll is how often a caller waiting for another process's refresh looks
// at the store.
const leasePoll = 150 * time.Millisecond

// refreshLeased takes the account's lease, re-reads the stored token (another
// process may have refreshed it already), calls the token endpoint only when
// still needed, and commits the answer by compare-and-swap — all before any
// caller sees the new token.
func (m *Manager) refreshLeased(ctx context.Context, a Account, in Integration, basis int64, reason, note string) (TokenResult, error) {
	if res, done, err := m.acquire(ctx, a.ID, basis, reason, note); done || err != nil {
		return res, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.opts.Store.ReleaseLease(rctx, a.ID, m.holder)
	}()
	stored, err := m.opts.Store.LoadToken(ctx, a.ID)
	switch {
	case errors.Is(err, ErrNoToken):
		if in.OAuth2.GrantType != GrantClientCredentials {
			return TokenResult{}, fmt.Errorf("%w: it has no token; connect it first", ErrNeedsReconnect)
		}
	case err != nil:
		return TokenResult{}, err
	case stored.Version > basis:
		// Someone refreshed while this caller waited: use theirs, unless it is
		// itself already due (then fall through and refresh it).
		if due, _ := m.dueNote(in, stored); !due || reason == ReasonRejected {
			return TokenResult{Token: stored, Refreshed: true, Reason: reason, Note: note}, nil
		}
	}
	return m.call(ctx, a, in, stored, reason, note)
}

// acquire waits for the lease. When another holder has it, the wait ends as
// soon as that holder commits a newer token (done=true with that token).
func (m *Manager) acquire(ctx context.Context, accountID string, basis int64, reason, note string) (TokenResult, bool, error) {
	for {
		ok, err := m.opts.Store.AcquireLease(ctx, accountID, m.holder, m.opts.LeaseTTL)
		if err != nil {
			return TokenResult{}, false, err
		}
		if ok {
			return TokenResult{}, false, nil
		}
		if t, err := m.opts.Store.LoadToken(ctx, accountID); err == nil && t.Version > basis {
			return TokenResult{Token: t, Refreshed: true, Reason: reason, Note: note}, true, nil
		}
		select {
		case <-ctx.Done():
			return TokenResult{}, false, fmt.Errorf("waiting for another refresh of the account: %w", ctx.Err())
		case <-time.After(leasePoll):
		}
	}
}

// call asks the token endpoint for a new token and commits it.
func (m *Manager) call(ctx context.Context, a Account, in Integration, stored Token, reason, note string) (TokenResult, error) {
	if in.OAuth2.GrantType != GrantClientCredentials && stored.RefreshToken == "" {
		return m.noRefreshToken(ctx, a, reason, note)
	}
	m.fault(FaultBeforeTokenRequest)
	start := m.opts.Now()
	var tok Token
	ep, err := endpointsFor(in, a, stored) // the recorded endpoints, never the account's current values
	switch {
	case err != nil:
	case in.OAuth2.GrantType == GrantClientCredentials:
		tok, err = m.opts.Client.ClientCredentials(ctx, in, a.Parameters, ep)
	default:
		tok, err = m.opts.Client.Refresh(ctx, in, a.Parameters, ep, stored.RefreshToken)
	}
	took := m.opts.Now().Sub(start)
	if err != nil {
		return m.failed(ctx, a, in, stored, reason, note, err, took)
	}
	m.fault(FaultAfterTokenResponse)
	m.observe(in, "ok", took)
	if tok.RefreshToken == "" && in.OAuth2.GrantType != GrantClientCredentials {
		tok.RefreshToken = stored.RefreshToken // RFC 6749 §6: no new refresh token means keep the old one
	}
	if len(tok.Scopes) == 0 {
		tok.Scopes = stored.Scopes // an answer without scope grants what was granted before (RFC 6749 §5.1)
	}
	prev := stored.Version
	if stored.AccessToken == "" {
		prev = -1 // no token was stored (client credentials connecting): nothing to race with under our lease
	}
	saved, err := m.opts.Store.SaveToken(ctx, a.ID, prev, tok, RefreshEvent{
		Reason: reason, Note: note, Warnings: Warnings(in, tok), Duration: took, Status: StatusConnected,
	})
	if errors.Is(err, ErrTokenConflict) {
		// Only possible when our lease expired mid-call or the account was
		// disconnected meanwhile: the stored state wins.
		cur, lerr := m.opts.Store.LoadToken(ctx, a.ID)
		if lerr != nil {
			return TokenResult{}, fmt.Errorf("%w: the account changed during the refresh (%v)", ErrNeedsReconnect, lerr)
		}
		return TokenResult{Token: cur, Refreshed: true, Reason: reason, Note: note}, nil
	}
	if err != nil {
		return TokenResult{}, err
	}
	m.fault(FaultAfterCommit)
	return TokenResult{Token: saved, Refreshed: true, Reason: reason, Note: note}, nil
}

// failed records a failed refresh. invalid_grant first re-reads the store: if
// the token was replaced meanwhile, the failure was ours alone and the new
// token is used. A temporary failure before expiry keeps the current token.
func (m *Manager) failed(ctx context.Context, a Account, in Integration, stored Token, reason, note string, err error, took time.Duration) (TokenResult, error) {
	kind := Classify(err)
	ev := RefreshEvent{Reason: reason, Note: note, Error: err.Error(), Kind: kind, Duration: took}
	switch kind {
	case KindInvalidGrant:
		m.observe(in, "rejected", took)
		if cur, lerr := m.opts.Store.LoadToken(ctx, a.ID); lerr == nil && cur.Version != stored.Version {
			return TokenResult{Token: cur, Refreshed: true, Reason: reason, Note: note}, nil
		}
		ev.Status = StatusNeedsReconnect
		m.markDead(a.ID, stored.Version)
		err = fmt.Errorf("%w: %w", ErrNeedsReconnect, err)
	case KindConfig:
		m.observe(in, "rejected", took)
		ev.Status = StatusError
	default:
		m.observe(in, "temporary_error", took)
	}
	if rerr := m.opts.Store.RecordRefreshFailure(ctx, a.ID, ev); rerr != nil {
		return TokenResult{}, errors.Join(err, rerr)
	}
	if kind == KindTemporary && reason == ReasonExpiring && stored.AccessToken != "" && stored.Expiry.After(m.opts.Now()) {
		return TokenResult{Token: stored, Reason: reason,
			Note: note + "; the refresh failed for now (" + err.Error() + "), so the current token is used until it expires"}, nil
	}
	if kind != KindInvalidGrant {
		m.mu.Lock()
		delete(m.cache, a.ID) // the next caller re-reads the store
		m.mu.Unlock()
	}
	return TokenResult{}, err
}

// noRefreshToken ends the road for a token that cannot be renewed: no call
// is made; the account needs a new authorization.
func (m *Manager) noRefreshToken(ctx context.Context, a Account, reason, note string) (TokenResult, error) {
	err := fmt.Errorf("%w: the provider issued no refresh token, so the token cannot be renewed: reconnect the account "+
		"(and check the provider's offline access / consent settings, e.g. access_type=offline or prompt=consent)", ErrNeedsReconnect)
	ev := RefreshEvent{Reason: reason, Note: note, Error: err.Error(), Kind: KindInvalidGrant, Status: StatusNeedsReconnect}
	if rerr := m.opts.Store.RecordRefreshFailure(ctx, a.ID, ev); rerr != nil {
		return TokenResult{}, errors.Join(err, rerr)
	}
	m.mu.Lock()
	delete(m.cache, a.ID)
	m.mu.Unlock()
	return TokenResult{}, err
}

func (m *Manager) observe(in Integration, outcome string, d time.Duration) {
	if m.opts.OnRefresh != nil {
		m.opts.OnRefresh(in, outcome, d)
	}
}

// Connect stores the first token of a connection (from a code exchange). A
// new grant replaces whatever the account held.
func (m *Manager) Connect(ctx context.Context, a Account, in Integration, tok Token, actor string) (Token, error) {
	ev := RefreshEvent{Reason: ReasonConnect, Note: "connected", Warnings: Warnings(in, tok), Actor: actor, Status: StatusConnected}
	saved, err := m.opts.Store.SaveToken(ctx, a.ID, -1, tok, ev)
	if err != nil {
		return Token{}, fmt.Errorf("connect account %s: %w", a.ID, err)
	}
	m.Forget(a.ID)
	m.remember(a.ID, saved)
	return saved, nil
}

// Warnings are what an account's owner should know about a token.
func Warnings(in Integration, t Token) []Warning {
	var ws []Warning
	if life := t.Lifetime(); life > 0 && life < 5*time.Minute {
		ws = append(ws, Warning{Code: WarnShortTTL, Message: fmt.Sprintf(
			"The token lives only %s: requests may fail; the provider's token TTL should be at least 5 minutes.", roundDuration(life))})
	}
	if in.OAuth2.GrantType == GrantAuthorizationCode && t.RefreshToken == "" {
		ws = append(ws, Warning{Code: WarnNoRefreshToken, Message: "No refresh token was issued: a refresh token is expected — check the provider's offline access / consent settings (for example access_type=offline or prompt=consent)."})
	}
	if t.Expiry.IsZero() {
		ws = append(ws, Warning{Code: WarnUnknownExpiry, Message: "The provider did not say when the token expires (no expires_in): Airlock refreshes it only when the API rejects it."})
	}
	return ws
}

// roundDuration words a duration the way people say it: "12 min", "2 h 5 min", "40 s".
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute).Minutes()))
	}
	h := int(d / time.Hour)
	mins := int((d % time.Hour).Round(time.Minute).Minutes())
	if mins == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, mins)
}
