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
// process may have refreshed it already) and the failure streak any process
// left there, calls the token endpoint only when still needed and allowed,
// and commits the answer by compare-and-swap — all before any caller sees the
// new token.
func (m *Manager) refreshLeased(ctx context.Context, a Account, in Integration, basis int64, reason, note string) (TokenResult, error) {
	if res, done, err := m.acquire(ctx, a.ID, basis, reason, note); done || err != nil {
		return res, err
	}
	stopRenewing := m.renewLease(a.ID)
	handedOver := false // a token waiting to be saved keeps the lease until it lands
	defer func() {
		stopRenewing() // before the release: a renewal after it would take the lease back
		if !handedOver {
			m.releaseLease(a.ID)
		}
	}()
	stored, err := m.opts.Store.LoadToken(ctx, a.ID)
	switch {
	case errors.Is(err, ErrNoToken):
		if !in.FetchesToken() {
			return TokenResult{}, fmt.Errorf("%w: it has no token; connect it first", ErrNeedsReconnect)
		}
	case err != nil:
		return TokenResult{}, err
	case stored.Version > basis:
		// Someone refreshed while this caller waited: use theirs, unless it is
		// itself already due (then fall through and refresh it).
		m.endStreak(a.ID)
		if due, _ := m.dueNote(in, stored); !due || reason == ReasonRejected {
			return TokenResult{Token: stored, Refreshed: true, Reason: reason, Note: note}, nil
		}
	}
	if !byPerson(reason) {
		if b, err := m.opts.Store.LoadBackoff(ctx, a.ID); err == nil && (b.Failures > 0 || b.LostVersion != 0) {
			if s := m.adopt(a.ID, b); m.opts.Now().Before(s.Next) { // another process failed since
				return m.paused(stored, s, reason, note, m.opts.Now())
			}
		}
	}
	res, handedOver, err := m.call(ctx, a, in, stored, reason, note)
	return res, err
}

// renewLease keeps the account's lease this process holds from expiring,
// renewing it every third of LeaseTTL, until the returned stop is called
// (stop returns once no renewal is under way). So the lease can be short —
// a process that dies mid-refresh holds its accounts up for at most
// LeaseTTL — while a live refresh, however slow its token endpoint, keeps it.
func (m *Manager) renewLease(accountID string) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(m.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.LeaseTTL/3)
			ok, err := m.opts.Store.AcquireLease(ctx, accountID, m.holder, m.opts.LeaseTTL)
			cancel()
			if err == nil && !ok {
				m.log.Warn("the refresh lease expired during a refresh and another process took it; the stored token wins if both save",
					"account_id", accountID)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func (m *Manager) releaseLease(accountID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.opts.Store.ReleaseLease(ctx, accountID, m.holder)
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
			m.endStreak(accountID)
			return TokenResult{Token: t, Refreshed: true, Reason: reason, Note: note}, true, nil
		}
		select {
		case <-ctx.Done():
			return TokenResult{}, false, fmt.Errorf("waiting for another refresh of the account: %w", ctx.Err())
		case <-time.After(leasePoll):
		}
	}
}

// call asks the token endpoint for a new token and commits it. handedOver
// reports that the token could not be saved yet: it is served from memory
// and a background save, which now owns the lease, retries until it lands.
func (m *Manager) call(ctx context.Context, a Account, in Integration, stored Token, reason, note string) (res TokenResult, handedOver bool, err error) {
	cctx, ci := withCallInfo(ctx)
	var callErr error // what the trace records: also a failure the caller is spared
	if m.opts.Traces != nil {
		var tr *tracer
		cctx, tr = startTrace(cctx, refreshKind(in), a, in, m.opts.Now)
		defer func() { m.endTrace(tr, cmpErr(callErr, err), in, stored, reason) }()
	}
	if in.StaticCredentials() {
		res, err = m.credentialsRejected(cctx, a, stored, reason, note)
		return res, false, err
	}
	if !in.FetchesToken() && stored.RefreshToken == "" {
		res, err = m.noRefreshToken(ctx, a, reason, note)
		tracerFrom(cctx).note("no refresh token is stored: nothing was sent; the account needs a reconnect")
		return res, false, err
	}
	m.fault(FaultBeforeTokenRequest)
	start := m.opts.Now()
	var tok Token
	ep, err := endpointsFor(in, a, stored) // the recorded endpoints, never the account's current values
	switch {
	case err != nil:
	case in.Type() == AuthCustomToken:
		tok, err = m.customToken(cctx, a, in)
	case in.OAuth2.GrantType == GrantClientCredentials:
		tok, err = m.opts.Client.ClientCredentials(cctx, in, a.Values(), ep)
	default:
		tok, err = m.opts.Client.Refresh(cctx, in, a.Values(), ep, stored.RefreshToken)
	}
	took := m.opts.Now().Sub(start)
	if err != nil {
		callErr = err
		res, err = m.failed(cctx, a, in, stored, reason, note, err, took, ci)
		return res, false, err
	}
	m.fault(FaultAfterTokenResponse)
	m.observe(in, "ok", took)
	if tok.RefreshToken == "" && !in.FetchesToken() {
		tok.RefreshToken = stored.RefreshToken // RFC 6749 §6: no new refresh token means keep the old one
	}
	if tok.RefreshToken == stored.RefreshToken && tok.RefreshExpiry.IsZero() {
		tok.RefreshExpiry = stored.RefreshExpiry // the kept refresh token dies when it did
	}
	keepRefreshHistory(&tok, stored)
	if len(tok.Scopes) == 0 {
		tok.Scopes = stored.Scopes // an answer without scope grants what was granted before (RFC 6749 §5.1)
	}
	prev := stored.Version
	if stored.AccessToken == "" {
		prev = -1 // no token was stored (client credentials connecting): nothing to race with under our lease
	}
	ev := RefreshEvent{Reason: reason, Note: note, Warnings: Warnings(in, tok), Duration: took, Status: StatusConnected}
	ev.Captured = m.refreshCaptures(a, in, &tok)
	tracerFrom(cctx).note(savedNote(in, stored, tok))
	saved, err := m.saveToken(ctx, a.ID, prev, tok, ev)
	if errors.Is(err, ErrTokenConflict) {
		tracerFrom(cctx).note("the account changed during the refresh (lease lost or disconnected): the stored token wins")
		// Only possible when our lease expired mid-call or the account was
		// disconnected meanwhile: the stored state wins.
		cur, lerr := m.opts.Store.LoadToken(ctx, a.ID)
		if lerr != nil {
			return TokenResult{}, false, fmt.Errorf("%w: the account changed during the refresh (%v)", ErrNeedsReconnect, lerr)
		}
		return TokenResult{Token: cur, Refreshed: true, Reason: reason, Note: note}, false, nil
	}
	if err != nil {
		tracerFrom(cctx).note("the store could not take the token yet: served from memory while its save is retried")
		return m.keep(a.ID, prev, tok, ev, err, true), true, nil
	}
	m.endStreak(a.ID)
	m.fault(FaultAfterCommit)
	return TokenResult{Token: saved, Refreshed: true, Reason: reason, Note: note}, false, nil
}

// failed records a failed refresh and, unless the grant is dead, extends the
// account's failure streak (backoff). invalid_grant first re-reads the store:
// if the token was replaced meanwhile, the failure was ours alone and the new
// token is used. Any failure but a dead grant keeps a token that still works
// for a caller that only wanted a fresher one.
func (m *Manager) failed(ctx context.Context, a Account, in Integration, stored Token, reason, note string, err error, took time.Duration, ci *callInfo) (TokenResult, error) {
	err = notATokenBeforeWorked(err, stored.AccessToken != "")
	kind := Classify(err)
	ev := RefreshEvent{Reason: reason, Note: note, Kind: kind, Duration: took}
	switch kind {
	case KindInvalidGrant:
		m.observe(in, "rejected", took)
		if cur, lerr := m.opts.Store.LoadToken(ctx, a.ID); lerr == nil && cur.Version != stored.Version {
			tracerFrom(ctx).note("invalid_grant, but the store holds a newer token (another refresh won): that one is used")
			return TokenResult{Token: cur, Refreshed: true, Reason: reason, Note: note}, nil
		}
		tracerFrom(ctx).note("invalid_grant after re-reading the store: the account needs a reconnect")
		if lost := m.lostVersion(a.ID); lost != 0 && lost == stored.Version {
			err = fmt.Errorf("the rotation of the refresh token was probably lost in transit: an earlier refresh of it got no answer "+
				"(a timeout or a dropped connection after it was sent), so the provider likely issued a new refresh token that never arrived, "+
				"and now refuses the old one: %w", err)
		}
		ev.Status = StatusNeedsReconnect
		m.markDead(a.ID, stored.Version)
		m.endStreak(a.ID)
	case KindConfig:
		m.observe(in, "rejected", took)
		ev.Status = StatusError
		tracerFrom(ctx).note("a configuration problem: the account's status becomes error until the integration is fixed")
	default:
		m.observe(in, "temporary_error", took)
	}
	if kind != KindInvalidGrant {
		var lost int64
		if !in.FetchesToken() && answerLost(err, ci) {
			lost = stored.Version
		}
		ev.Backoff = m.failedAttempt(a.ID, err, parseRetryAfter(ci.retryAfterHeader(), m.opts.Now()), lost)
	}
	if kind == KindTemporary {
		tracerFrom(ctx).note("a temporary failure: the account backs off and tries again")
	}
	// The account's last_error, its alert and the webhook's reason say the
	// cause and the fix, not only what the provider answered.
	ev.Error = Explain(err, Diagnose(err, DiagnosisContext{Integration: in, Stored: stored, Grant: refreshKind(in), Now: m.opts.Now()}))
	if rerr := m.recordFailure(ctx, a.ID, ev); rerr != nil {
		m.log.Error("could not record a failed refresh", "account_id", a.ID, "refresh_error", ev.Error, "err", rerr)
	}
	if kind != KindInvalidGrant && reason == ReasonExpiring && stored.AccessToken != "" && stored.Expiry.After(m.opts.Now()) {
		return TokenResult{Token: stored, Reason: reason,
			Note: note + "; the refresh failed for now (" + err.Error() + "), so the current token is used until it expires"}, nil
	}
	switch kind {
	case KindInvalidGrant:
		return TokenResult{}, fmt.Errorf("%w: %w", ErrNeedsReconnect, err)
	case KindTemporary:
		err = fmt.Errorf("%w: %w", ErrTokenUnavailable, err)
	}
	m.mu.Lock()
	delete(m.cache, a.ID) // the next caller re-reads the store
	m.mu.Unlock()
	return TokenResult{}, err
}

// noRefreshToken ends the road for a token that cannot be renewed: no call
// is made; the account needs a new authorization.
func (m *Manager) noRefreshToken(ctx context.Context, a Account, reason, note string) (TokenResult, error) {
	err := fmt.Errorf("%w: the provider issued no refresh token, so the token cannot be renewed: reconnect the account "+
		"(and check the provider's offline access / consent settings, e.g. access_type=offline or prompt=consent)", ErrNeedsReconnect)
	ev := RefreshEvent{Reason: reason, Note: note, Error: err.Error(), Kind: KindInvalidGrant, Status: StatusNeedsReconnect}
	if rerr := m.recordFailure(ctx, a.ID, ev); rerr != nil {
		return TokenResult{}, errors.Join(err, rerr)
	}
	m.mu.Lock()
	delete(m.cache, a.ID)
	m.mu.Unlock()
	return TokenResult{}, err
}

// keepRefreshHistory carries the refresh token's issue time and rotation
// count over from stored, or starts them anew when the answer rotated it:
// what a refused refresh token's diagnosis quotes.
func keepRefreshHistory(tok *Token, stored Token) {
	switch {
	case tok.RefreshToken == "":
		tok.RefreshIssuedAt, tok.Rotations = time.Time{}, 0
	case tok.RefreshToken == stored.RefreshToken:
		tok.RefreshIssuedAt, tok.Rotations = stored.RefreshIssuedAt, stored.Rotations
	default:
		tok.RefreshIssuedAt, tok.Rotations = tok.ObtainedAt, stored.Rotations+1
		if stored.RefreshToken == "" {
			tok.Rotations = 0
		}
	}
}

// cmpErr is the first non-nil error.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// refreshKind is the trace kind of a token call of the manager.
func refreshKind(in Integration) string {
	if in.Type() == AuthCustomToken {
		return TraceCustomToken
	}
	if in.OAuth2.GrantType == GrantClientCredentials {
		return TraceClientCredentials
	}
	return TraceRefresh
}

// savedNote says what a successful token call left in the store.
func savedNote(in Integration, stored, tok Token) string {
	switch {
	case in.FetchesToken():
		return "new access token saved"
	case tok.RefreshToken != stored.RefreshToken:
		return "new refresh token saved (rotated)"
	}
	return "new access token saved; the refresh token is kept (not rotated)"
}

// endTrace finishes the trace of a token call and queues it for the trace
// writer, which masks it and stores it in a batch with others, off the
// refresh path. A failed refresh a person asked for (the console's button,
// a connect) waits until its trace is stored, so the page can link to it
// (pages link failed traces only). Every other trace gathers for a batch
// and is stored within traceGather: measured, writing a successful manual
// refresh's trace at once cost it about a quarter more (a write of its own
// competing with the refresh's for SQLite's single writer), waiting for it
// as much again. Wait (shutdown) flushes the queue and waits for the
// writes: no queued trace is lost when the process stops. A full queue
// drops the trace (counted, logged) and never blocks.
func (m *Manager) endTrace(tr *tracer, err error, in Integration, stored Token, reason string) {
	var d *Diagnosis
	if err != nil {
		d = Diagnose(err, DiagnosisContext{Integration: in, Stored: stored, Grant: refreshKind(in), Now: m.opts.Now()})
	}
	if id := m.traces.add(tr.finish(err, d), err != nil && byPerson(reason)); id != nil {
		<-id // the writer answers within its write timeout, 0 on a failure
	}
}

func (m *Manager) observe(in Integration, outcome string, d time.Duration) {
	if m.opts.OnRefresh != nil {
		m.opts.OnRefresh(in, outcome, d)
	}
}
