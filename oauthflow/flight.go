package oauthflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"
)

// Token returns a token for the account. Outside its refresh window the token
// is returned as is. Inside it the token is returned at once and refreshed in
// the background; within UrgentMargin of its expiry, or after it, the caller
// waits for the refresh — unless refreshes are paused after failures: then a
// token that still works is returned, and an expired one is a fast
// *BackoffError carrying the last failure.
func (m *Manager) Token(ctx context.Context, a Account, in Integration) (TokenResult, error) {
	t, err := m.current(ctx, a.ID)
	if err != nil {
		return TokenResult{}, err
	}
	due, note := m.dueNote(in, t)
	if !due {
		return TokenResult{Token: t}, nil
	}
	if t.Expiry.Sub(m.opts.Now()) > UrgentMargin {
		m.background(a, in, t.Version, note)
		return TokenResult{Token: t}, nil
	}
	return m.refresh(ctx, a, in, t, ReasonExpiring, note)
}

// Rejected refreshes after the API rejected the token of version used (401,
// 403 …). If another caller already replaced that token, the newer one is
// returned without calling the token endpoint again.
func (m *Manager) Rejected(ctx context.Context, a Account, in Integration, used int64, status int) (TokenResult, error) {
	return m.refresh(ctx, a, in, Token{Version: used}, ReasonRejected, fmt.Sprintf("%d from the API, refreshed and retried", status))
}

// Refresh refreshes now, whatever the expiry (the console's "refresh now",
// the API's refresh route, keep-alive). A refresh a person asks for
// (ReasonManual, ReasonConnect) is made even while refreshes are paused
// after failures; keep-alive waits for the pause to end like requests do.
func (m *Manager) Refresh(ctx context.Context, a Account, in Integration, reason string) (TokenResult, error) {
	t, err := m.current(ctx, a.ID)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return TokenResult{}, err
	}
	if errors.Is(err, ErrNoToken) && !in.FetchesToken() {
		return TokenResult{}, fmt.Errorf("%w: it has no token yet; connect it first", ErrNeedsReconnect)
	}
	return m.refresh(ctx, a, in, Token{Version: t.Version}, reason, "refresh requested")
}

// byPerson reports whether a person asked for the refresh: it is made even
// while refreshes are paused, since they see its answer at once.
func byPerson(reason string) bool { return reason == ReasonManual || reason == ReasonConnect }

// refresh joins or leads the account's single flight and waits for it. cur
// is the token the caller holds (its Version is the basis: a stored token
// newer than it is returned as is; its AccessToken, when still valid, is
// what a paused refresh falls back on).
func (m *Manager) refresh(ctx context.Context, a Account, in Integration, cur Token, reason, note string) (TokenResult, error) {
	now := m.opts.Now()
	m.mu.Lock()
	if v, dead := m.dead[a.ID]; dead && v >= cur.Version {
		m.mu.Unlock()
		return TokenResult{}, fmt.Errorf("%w: the provider rejected its refresh token (invalid_grant)", ErrNeedsReconnect)
	}
	if p := m.pending[a.ID]; p != nil {
		tok := p.tok
		m.mu.Unlock()
		return pendingResult(tok, cur.Version, reason, note)
	}
	f, flying := m.flights[a.ID]
	s, failing := m.backoff[a.ID]
	if failing && !byPerson(reason) && (now.Before(s.Next) || (flying && f.probe)) {
		m.mu.Unlock()
		res, err := m.paused(cur, s, reason, note, now)
		if err != nil { // another process may have got a token meanwhile
			if t, lerr := m.opts.Store.LoadToken(ctx, a.ID); lerr == nil && t.Version > cur.Version {
				m.endStreak(a.ID)
				m.remember(a.ID, t)
				return TokenResult{Token: t, Refreshed: true, Reason: reason, Note: note}, nil
			}
		}
		return res, err
	}
	if !flying {
		f = m.startLocked(a, in, cur.Version, reason, note, failing)
	}
	m.mu.Unlock()
	if m.opts.OnWait != nil {
		began := time.Now()
		defer func() { m.opts.OnWait(in, time.Since(began)) }()
	}
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return TokenResult{}, ctx.Err()
	}
}

// background starts a refresh nobody waits for, unless one is under way, the
// account is backing off, its grant is dead or a new token waits to be saved.
func (m *Manager) background(a Account, in Integration, basis int64, note string) {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, dead := m.dead[a.ID]; dead && v >= basis {
		return
	}
	if _, flying := m.flights[a.ID]; flying || m.pending[a.ID] != nil {
		return
	}
	s, failing := m.backoff[a.ID]
	if failing && now.Before(s.Next) {
		return
	}
	m.startLocked(a, in, basis, ReasonExpiring, note, failing)
}

// startLocked starts the account's flight; m.mu is held.
func (m *Manager) startLocked(a Account, in Integration, basis int64, reason, note string, probe bool) *flight {
	f := &flight{done: make(chan struct{}), probe: probe}
	m.flights[a.ID] = f
	m.running.Add(1)
	go m.lead(f, a, in, basis, reason, note)
	return f
}

// lead performs one refresh for everyone waiting, detached from any one
// caller's context.
func (m *Manager) lead(f *flight, a Account, in Integration, basis int64, reason, note string) {
	defer m.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.CallTimeout)
	defer cancel()
	f.res, f.err = m.refreshLeased(ctx, a, in, basis, reason, note)
	if f.err == nil {
		m.remember(a.ID, f.res.Token)
	}
	m.mu.Lock()
	delete(m.flights, a.ID)
	m.mu.Unlock()
	close(f.done)
}

// paused answers a caller while the account backs off: the token it holds
// when that still works and it only wanted a fresher one, else a fast error.
func (m *Manager) paused(cur Token, s streak, reason, note string, now time.Time) (TokenResult, error) {
	if reason == ReasonExpiring && cur.AccessToken != "" && cur.Expiry.After(now) {
		return TokenResult{Token: cur, Reason: reason, Note: note + fmt.Sprintf(
			"; refreshing is paused after %d failed attempts (the last: %v), so the current token is used until it expires", s.Failures, s.last)}, nil
	}
	return TokenResult{}, &BackoffError{Failures: s.Failures, Until: s.Next, Last: s.last, now: now}
}

// pendingResult answers from a token that waits to be saved: the stored
// refresh token behind it is spent, so no refresh may start before it lands.
func pendingResult(tok Token, basis int64, reason, note string) (TokenResult, error) {
	if tok.Version > basis {
		return TokenResult{Token: tok, Refreshed: true, Reason: reason, Note: note}, nil
	}
	return TokenResult{}, fmt.Errorf("%w: the newest token from the provider is still being saved; until it is, no new refresh can be made", ErrTokenUnavailable)
}

// failedAttempt starts or extends the account's failure streak and returns
// it. lostVersion, when not 0, is the token whose refresh answer was lost; a
// later failure keeps what an earlier one recorded.
func (m *Manager) failedAttempt(accountID string, err error, retryAfter time.Duration, lostVersion int64) Backoff {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.backoff[accountID]
	s.Failures++
	s.Next = now.Add(backoffDelay(s.Failures, retryAfter))
	s.LastError, s.last = truncateError(err.Error(), 1000), err
	if lostVersion != 0 {
		s.LostVersion = lostVersion
	}
	m.backoff[accountID] = s
	return s.Backoff
}

// adopt merges the streak another process left in the store: its count and
// pause when they are ahead of this process's, and a lost answer it saw.
func (m *Manager) adopt(accountID string, b Backoff) streak {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.backoff[accountID]
	if b.Failures > s.Failures {
		s.Failures = b.Failures
		if b.LastError != "" {
			s.LastError, s.last = b.LastError, errors.New(b.LastError)
		}
	}
	if b.Next.After(s.Next) {
		s.Next = b.Next
	}
	if s.last == nil {
		s.LastError, s.last = b.LastError, errors.New(cmp.Or(b.LastError, "an earlier refresh failed"))
	}
	if s.LostVersion == 0 {
		s.LostVersion = b.LostVersion
	}
	if ok || s.Failures > 0 || s.LostVersion != 0 {
		m.backoff[accountID] = s
	}
	return s
}

// endStreak forgets the account's failures after a success (or a dead grant).
func (m *Manager) endStreak(accountID string) {
	m.mu.Lock()
	delete(m.backoff, accountID)
	m.mu.Unlock()
}

// lostVersion is the token version whose refresh answer was lost, 0 if none.
func (m *Manager) lostVersion(accountID string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.backoff[accountID].LostVersion
}

// truncateError keeps an error message to about n bytes for storage.
func truncateError(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // never cut a character in two
		n--
	}
	return s[:n] + "…"
}
