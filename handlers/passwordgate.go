package handlers

import (
	"airlock/store"
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// errPasswordsBusy: every password-check slot stayed taken for the whole
// wait. The sign-in and setup forms answer 503 with Retry-After; other pages
// get the 503 error page.
var errPasswordsBusy = errors.New("every password check slot is busy")

// defaultPasswordWait is how long a password check waits for a slot before
// the request is answered 503: long enough to ride out a burst of real
// sign-ins (a check takes tens of milliseconds), short enough that a flood
// of them is answered quickly rather than piling up.
const defaultPasswordWait = 3 * time.Second

// passwordRetryAfter is the Retry-After (seconds) of a busy answer.
const passwordRetryAfter = "2"

// passwordGate bounds the argon2id work in flight. Each check holds its cost
// in memory (19 MiB at the production setting) and a CPU for its duration,
// so checks run at most one per CPU; a check waits for a slot at most wait,
// and at most 64 per slot wait at all — beyond that the request is refused
// at once instead of queueing without limit.
type passwordGate struct {
	slots      chan struct{}
	wait       time.Duration
	maxWaiting int64
	waiting    atomic.Int64
	// checks counts the argon2id runs done: the rate-limit tests count them,
	// since a check that never ran is the point of the limit.
	checks atomic.Int64
}

// newPasswordGate returns a gate with n slots (0: one per CPU) and the given
// wait (0: defaultPasswordWait).
func newPasswordGate(n int, wait time.Duration) *passwordGate {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = defaultPasswordWait
	}
	return &passwordGate{slots: make(chan struct{}, n), wait: wait, maxWaiting: 64 * int64(n)}
}

// run runs fn in a slot, waiting for one at most g.wait (errPasswordsBusy)
// or until ctx ends.
func (g *passwordGate) run(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.maxWaiting {
			g.waiting.Add(-1)
			return errPasswordsBusy
		}
		t := time.NewTimer(g.wait)
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.waiting.Add(-1)
			return errPasswordsBusy
		case <-ctx.Done():
			t.Stop()
			g.waiting.Add(-1)
			return ctx.Err()
		}
		t.Stop()
		g.waiting.Add(-1)
	}
	g.checks.Add(1)
	func() {
		defer func() { <-g.slots }()
		fn()
	}()
	if g.waiting.Load() > 0 {
		// Under a flood each check leaves 19 MiB of garbage, and the GC's
		// pacer lets the heap reach twice what is live (the checks in
		// flight) before it collects: 150 sign-ins at once peaked at
		// 120–140 MB on 2 CPUs. Collecting now, out of the slot so checks
		// go on, keeps the peak near 105 MB for a few milliseconds' delay
		// of this one answer; with nobody waiting it is not worth it.
		runtime.GC()
	}
	return nil
}

// verify is store.VerifyPassword in a slot.
func (g *passwordGate) verify(ctx context.Context, pw, hash string) (ok bool, err error) {
	if gerr := g.run(ctx, func() { ok, err = store.VerifyPassword(pw, hash) }); gerr != nil {
		return false, gerr
	}
	return ok, err
}

// hash is store.HashPassword in a slot.
func (g *passwordGate) hash(ctx context.Context, pw string, p store.PasswordParams) (h string, err error) {
	if gerr := g.run(ctx, func() { h, err = store.HashPassword(pw, p) }); gerr != nil {
		return "", gerr
	}
	return h, err
}
