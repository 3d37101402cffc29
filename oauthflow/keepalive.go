package oauthflow

import (
	"context"
	"hash/fnv"
	"time"
)

// KeepaliveStore is what keep-alive needs from persistence.
type KeepaliveStore interface {
	// KeepaliveDue lists connected accounts with a refresh token whose last
	// refresh is older than before and whose last keep-alive attempt is older
	// than retryBefore, least recently tried first.
	KeepaliveDue(ctx context.Context, before, retryBefore time.Time, limit int) ([]Account, error)
	// ClaimKeepalive records an attempt unless one was recorded since
	// retryBefore, and reports whether it did: of several processes on one
	// database, one claims each account, and a failing account waits
	// RetryAfter before its next attempt.
	ClaimKeepalive(ctx context.Context, accountID string, retryBefore time.Time) (bool, error)
	// IntegrationWithSecret loads an integration ready for the protocol.
	IntegrationWithSecret(ctx context.Context, id int64) (Integration, error)
}

// Keepalive refreshes idle authorization-code accounts whose last refresh is
// older than After, because some providers let a refresh token die after days
// without use. Each tick refreshes at most Batch accounts, and each account's
// threshold is stretched by up to a tenth (fixed per account), so a deployment
// of many accounts connected at once spreads its keep-alive refreshes out
// instead of sending them in one burst. Refreshes go through the Manager:
// the same single flight and lease as requests.
type Keepalive struct {
	Store   KeepaliveStore
	Manager *Manager
	After   time.Duration
	Every   time.Duration // tick interval; 0 means 30 s
	Batch   int           // refreshes per tick; 0 means 5
	// RetryAfter is how long an account whose keep-alive refresh failed
	// waits before the next try; 0 means an hour.
	RetryAfter time.Duration
	Now        func() time.Time
	// OnError, if set, hears of failures (they are also recorded on the account).
	OnError func(accountID string, err error)
}

// Run ticks until ctx ends.
func (k *Keepalive) Run(ctx context.Context) {
	every := k.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.Tick(ctx)
		}
	}
}

// Tick refreshes the accounts that are due now (at most Batch) and reports how many.
func (k *Keepalive) Tick(ctx context.Context) int {
	if k.After <= 0 {
		return 0
	}
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	batch := k.Batch
	if batch <= 0 {
		batch = 5
	}
	retry := k.RetryAfter
	if retry <= 0 {
		retry = time.Hour
	}
	due, err := k.Store.KeepaliveDue(ctx, now().Add(-k.After), now().Add(-retry), 4*batch)
	if err != nil {
		k.fail("", err)
		return 0
	}
	done := 0
	for _, a := range due {
		if done == batch || ctx.Err() != nil {
			break
		}
		if now().Sub(a.LastRefreshedAt) < k.After+jitter(a.ID, k.After/10) {
			continue
		}
		in, err := k.Store.IntegrationWithSecret(ctx, a.IntegrationID)
		if err != nil {
			k.fail(a.ID, err)
			continue
		}
		if in.OAuth2.GrantType != GrantAuthorizationCode {
			continue
		}
		claimed, err := k.Store.ClaimKeepalive(ctx, a.ID, now().Add(-retry))
		if err != nil {
			k.fail(a.ID, err)
			continue
		}
		if !claimed { // another replica is on it
			continue
		}
		if _, err := k.Manager.Refresh(ctx, a, in, ReasonKeepalive); err != nil {
			k.fail(a.ID, err)
		}
		done++
	}
	return done
}

func (k *Keepalive) fail(accountID string, err error) {
	if k.OnError != nil {
		k.OnError(accountID, err)
	}
}

// jitter is a fixed share of max for an account, from a hash of its id.
func jitter(id string, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return time.Duration(h.Sum32()%1000) * max / 1000
}
