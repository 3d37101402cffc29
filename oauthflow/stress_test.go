package oauthflow_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// stressSize is the size of a stress test: small enough for `make test` under
// the race detector, larger with AIRLOCK_STRESS=1 (`make stress`).
type stressSize struct {
	span    time.Duration // simulated time covered
	step    time.Duration // simulated time added after each round of requests
	perStep int           // requests sent in each round, across all workers
}

// rotationStressSize is a simulated day in `make stress`; in `make test`,
// whose refreshes cost most of the time (every one is several SQLite
// writes, slow under the race detector), a third of one.
func rotationStressSize() stressSize {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return stressSize{span: 24 * time.Hour, step: 2 * time.Minute, perStep: 100}
	}
	return stressSize{span: 8 * time.Hour, step: 10 * time.Minute, perStep: 60}
}

// TestStressRotationUnderLoad is the rotation-under-load property: 50 workers
// send requests through the Runner with 20-minute tokens across 20 accounts
// over a simulated day (8 hours in `make test`), against a provider that
// rotates the refresh token on every refresh and revokes the whole chain when
// an old one is presented. Half the requests go through a second manager on
// the same database, as a second process would. One spent refresh token too
// many (a lost single flight, a missing lease) shows up as invalid_grant and
// a revoked chain, and the account as needs_reconnect.
//
// The simulated clock moves between rounds, never during one: a request
// does not see its token age by a whole step while it is in flight, which
// real time would not do either.
func TestStressRotationUnderLoad(t *testing.T) {
	const (
		accounts = 20
		workers  = 50
		ttl      = 20 * time.Minute
		window   = ttl / 2 // the default 30 min window, capped at half the lifetime
	)
	size := rotationStressSize()
	e := newEngine(t, fakeprovider.Options{AccessTTL: ttl, RotateRefreshTokens: true, RefreshDelay: 2 * time.Millisecond},
		oauthflow.GrantAuthorizationCode)
	accts := e.connectAccounts(accounts)
	// Two managers on one database are two Airlock processes: the single
	// flight covers each, only the store's lease and compare-and-swap cover
	// both.
	runners := []*oauthflow.Runner{e.newRunner(0, nil)}
	first := e.mgr
	e.mgr = e.newManager()
	runners = append(runners, e.newRunner(0, nil))
	e.mgr = first
	start, connectCalls := e.clock.Now(), e.provider.TokenCalls()

	failures := e.rounds(workers, size, func(n int) (oauthflow.Account, *oauthflow.Response, error) {
		a := accts[n%accounts]
		resp, err := runners[n/accounts%2].Do(context.Background(), a, e.in, oauthflow.Request{Method: "GET", URL: e.provider.APIURL() + "stress"})
		return a, resp, err
	})

	total := int(size.span/size.step) * size.perStep
	if failures != 0 {
		t.Errorf("failed requests: got %d of %d, want 0", failures, total)
	}
	if got := e.provider.InvalidGrants(); got != 0 {
		t.Errorf("invalid_grant answers: got %d, want 0", got)
	}
	if got := e.provider.ChainRevocations(); got != 0 {
		t.Errorf("chain revocations: got %d, want 0", got)
	}
	for _, a := range accts {
		row, err := e.store.GetAccount(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status != oauthflow.StatusConnected {
			t.Errorf("account %s: got status %s (%s), want connected", a.Name, row.Status, row.LastError)
		}
	}
	// A token is refreshed in the first round with at most 10 minutes left:
	// once per max(step, 10 min) per account. Fewer means tokens were used
	// past their window; more, refreshes that did not join the single flight.
	refreshes := e.provider.TokenCalls() - connectCalls
	want := float64(size.span) / float64(max(size.step, window))
	perAccount := float64(refreshes) / accounts
	if perAccount < want*0.95 || perAccount > want*1.05 {
		t.Errorf("refreshes per account: got %.1f (%d in all), want %.0f ± 5%%", perAccount, refreshes, want)
	}
	t.Logf("%d requests by %d workers, %d refreshes (%.1f per account), simulated %s", total, workers, refreshes, perAccount, e.clock.Now().Sub(start))
}

// connectAccounts gives the engine's integration n connected accounts, the
// engine's own first.
func (e *engine) connectAccounts(n int) []oauthflow.Account {
	e.t.Helper()
	accts := []oauthflow.Account{e.acct}
	for len(accts) < n {
		row, err := e.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: e.in.ID, Name: fmt.Sprintf("acct%02d", len(accts))})
		if err != nil {
			e.t.Fatal(err)
		}
		accts = append(accts, row.Account)
	}
	first := e.acct
	for _, a := range accts {
		e.acct = a
		e.connect()
	}
	e.acct = first
	return accts
}

// rounds runs size.perStep calls of do on a pool of workers, waits for them
// all, advances the clock by size.step, and so on over size.span. It
// reports the first failure and returns how many calls failed (an error or
// a status other than 200).
func (e *engine) rounds(workers int, size stressSize, do func(n int) (oauthflow.Account, *oauthflow.Response, error)) int64 {
	start := e.clock.Now()
	var failures atomic.Int64
	var firstErr sync.Once
	var round, done sync.WaitGroup
	jobs := make(chan int)
	for range workers {
		done.Add(1)
		go func() {
			defer done.Done()
			for n := range jobs {
				a, resp, err := do(n)
				if err != nil || resp.Status != 200 {
					failures.Add(1)
					firstErr.Do(func() {
						status := 0
						if resp != nil {
							status = resp.Status
						}
						e.t.Errorf("call %d on account %s at +%s: status %d, err %v", n, a.Name, e.clock.Now().Sub(start), status, err)
					})
				}
				round.Done()
			}
		}()
	}
	steps := int(size.span / size.step)
	for s := range steps {
		round.Add(size.perStep)
		for i := range size.perStep {
			jobs <- s*size.perStep + i
		}
		round.Wait()
		e.settle()
		e.clock.Add(size.step)
	}
	close(jobs)
	done.Wait()
	return failures.Load()
}
