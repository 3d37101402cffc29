package oauthflow_test

import (
	"context"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// faultStressSize: the simulated time per round of 50 callers, how many of
// the 50 send a real request through the Runner (the rest ask for the token
// alone), and the delay of the slow-provider fault. `make stress` runs every
// second of the outage with all 50 callers sending requests, and the slow
// provider answers after 20 s of real time (past the APIs' 15 s header
// timeout, inside the token call's own 60 s).
func faultStressSize() (step time.Duration, viaAPI int, delay time.Duration) {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return time.Second, 50, 20 * time.Second
	}
	return 3 * time.Second, 5, 300 * time.Millisecond
}

// faultFigures are what a run measured.
type faultFigures struct {
	maxCallsPerMinute int           // token calls of one account in one simulated minute of the outage
	slowestValid      time.Duration // the longest a caller holding a valid token waited for it
	requests, failed  int           // callers, and those not answered (or not with the upstream's 200)
	waits             int64         // callers that waited for a refresh (the manager's OnWait)
}

// TestStressTokenEngineUnderFaults is the proof of the fault table: five
// accounts whose provider rotates refresh tokens with reuse detection, 50
// concurrent callers a round, and a five-minute fault at the token endpoint
// while every token is inside its refresh window but valid. During each
// fault: at most 10 token calls per account and minute, no caller with a
// valid token waits more than 100 ms, every request is answered with the
// upstream's answer. After the provider recovers: every account refreshed,
// connected, and not one grant revoked.
func TestStressTokenEngineUnderFaults(t *testing.T) {
	step, viaAPI, delay := faultStressSize()
	faults := []struct {
		name  string
		fault fakeprovider.Fault
		lasts time.Duration
	}{
		{"503", fakeprovider.Fault{Status: 503, Body: `{"error":"temporarily_unavailable"}`}, 5 * time.Minute},
		{"500 HTML", fakeprovider.Fault{Status: 500, Body: "<html><h1>Internal Server Error</h1></html>"}, 5 * time.Minute},
		{"429 Retry-After 30", fakeprovider.Fault{Status: 429, Body: "slow down", RetryAfter: "30"}, 5 * time.Minute},
		{"connection reset", fakeprovider.Fault{Reset: true}, 5 * time.Minute},
		{"200 HTML", fakeprovider.Fault{Status: 200, Body: "<html><body>Scheduled maintenance</body></html>"}, 5 * time.Minute},
		{"200 garbage", fakeprovider.Fault{Status: 200, Body: "\x00\x01 not a token"}, 5 * time.Minute},
		{"200 {}", fakeprovider.Fault{Status: 200, Body: "{}"}, 5 * time.Minute},
		{"slow provider", fakeprovider.Fault{Delay: delay}, 5 * time.Minute},
		// The provider rotates, the answer is lost, the next attempt (after
		// the backoff, within the provider's 30 s reuse grace) gets a new
		// token. A longer run of lost rotations outlives any grace, and a
		// provider without one revokes the grant on the first retry: the
		// account then says plainly that the rotation was lost
		// (TestLostRotationIsRetriedAfterTheBackoff).
		{"answer then drop", fakeprovider.Fault{DropAnswer: true}, time.Second},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			fig := runFault(t, tc.fault, tc.lasts, step, viaAPI)
			for try := 1; try < 3 && fig.slowestValid > 100*time.Millisecond && fig.waits == 0; try++ {
				// Nobody waited for a refresh, yet a caller was slow: a stall
				// of the shared machine. Measure again (twice at most); a
				// caller really made to wait would be slow every time.
				t.Logf("slowest caller %v without waiting for a refresh (machine stall?): measuring again", fig.slowestValid)
				fig = runFault(t, tc.fault, tc.lasts, step, viaAPI)
			}
			if fig.waits != 0 {
				t.Errorf("callers that waited for a refresh while every token was valid: %d, want 0", fig.waits)
			}
			if fig.maxCallsPerMinute > 10 {
				t.Errorf("token calls per account and minute: got %d, want at most 10", fig.maxCallsPerMinute)
			}
			if fig.slowestValid > 100*time.Millisecond {
				t.Errorf("slowest caller with a valid token: waited %v, want at most 100 ms", fig.slowestValid)
			}
			if fig.failed != 0 {
				t.Errorf("callers not answered with the upstream's answer: %d of %d", fig.failed, fig.requests)
			}
			t.Logf("%s: %d callers, at most %d token calls per account and minute, slowest wait %v",
				tc.name, fig.requests, fig.maxCallsPerMinute, fig.slowestValid.Round(time.Microsecond))
		})
	}
}

func runFault(t *testing.T, fault fakeprovider.Fault, lasts, step time.Duration, viaAPI int) faultFigures {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, ReuseGrace: 30 * time.Second},
		oauthflow.GrantAuthorizationCode)
	// The token client as main builds it: its own 60 s timeouts.
	e.client.HTTP = oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(t)},
		HeaderTimeout: 60 * time.Second, Timeout: 60 * time.Second}, oauthflow.NoRedirects)
	var waits atomic.Int64
	e.mgr = oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now,
		OnWait: func(oauthflow.Integration, time.Duration) { waits.Add(1) }})
	e.managers = append(e.managers, e.mgr)
	accts := e.connectAccounts(5)
	chains, versions := map[int]bool{}, map[string]int64{}
	for _, a := range accts {
		tok, _ := e.store.LoadToken(context.Background(), a.ID)
		chains[e.provider.ChainOf(tok.RefreshToken)], versions[a.ID] = true, tok.Version
	}
	runner := e.newRunner(0, nil)
	e.clock.Add(40 * time.Minute) // 20 min left: inside the window, valid throughout
	e.provider.SetTokenFault(fault)
	start := e.clock.Now()
	var fig faultFigures
	for e.clock.Now().Sub(start) < lasts {
		e.faultRound(accts, runner, viaAPI, &fig)
		e.clock.Add(step)
	}
	end := e.clock.Now()
	for _, a := range accts { // a fault that passes changes no account's status
		if row, _ := e.store.GetAccount(context.Background(), a.ID); row.Status != oauthflow.StatusConnected {
			t.Errorf("account %s at the end of the fault: %s (%s), want connected", a.Name, row.Status, row.LastError)
		}
	}
	e.provider.ClearTokenFault()
	for range 7 * time.Minute / step { // the next attempt comes at most 5 min (+ a fifth) after the last
		e.faultRound(accts, runner, viaAPI, &fig)
		e.clock.Add(step)
		if e.allRefreshed(accts, versions) {
			break
		}
	}
	perMinute := map[[2]int]int{}
	for _, r := range e.provider.TokenRequests() {
		if chains[r.Chain] && !r.At.Before(start) && r.At.Before(end) {
			perMinute[[2]int{r.Chain, int(r.At.Sub(start) / time.Minute)}]++
		}
	}
	for _, n := range perMinute {
		fig.maxCallsPerMinute = max(fig.maxCallsPerMinute, n)
	}
	fig.waits = waits.Load()
	for _, a := range accts {
		row, _ := e.store.GetAccount(context.Background(), a.ID)
		tok, _ := e.store.LoadToken(context.Background(), a.ID)
		if row.Status != oauthflow.StatusConnected || tok.Version <= versions[a.ID] || !e.provider.ValidAccessToken(tok.AccessToken) {
			t.Errorf("account %s after recovery: %s (%s), version %d (was %d), token valid %v; want connected with a new, valid token",
				a.Name, row.Status, row.LastError, tok.Version, versions[a.ID], e.provider.ValidAccessToken(tok.AccessToken))
		}
	}
	if n, g := e.provider.ChainRevocations(), e.provider.InvalidGrants(); n != 0 || g != 0 {
		t.Errorf("grants revoked: %d, invalid_grant answers: %d; want 0", n, g)
	}
	return fig
}

// allRefreshed reports whether every account holds a token newer than before.
func (e *engine) allRefreshed(accts []oauthflow.Account, versions map[string]int64) bool {
	for _, a := range accts {
		if tok, err := e.store.LoadToken(context.Background(), a.ID); err != nil || tok.Version <= versions[a.ID] {
			return false
		}
	}
	return true
}

// faultRound runs 50 concurrent callers (viaAPI of them send a request
// through the Runner) spread over the accounts, then lets the background
// refreshes finish before the simulated clock moves.
func (e *engine) faultRound(accts []oauthflow.Account, runner *oauthflow.Runner, viaAPI int, fig *faultFigures) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			a := accts[i%len(accts)]
			began := time.Now()
			var wait time.Duration
			ok := false
			if i < viaAPI {
				resp, err := runner.Do(context.Background(), a, e.in, oauthflow.Request{URL: e.provider.APIURL() + "stress"})
				if ok = err == nil && resp.Status == http.StatusOK; ok {
					wait = time.Since(began) - resp.Duration // the time before the request went out
				}
			} else {
				res, err := e.mgr.Token(context.Background(), a, e.in)
				wait = time.Since(began)
				ok = err == nil && e.provider.ValidAccessToken(res.Token.AccessToken)
			}
			mu.Lock()
			defer mu.Unlock()
			fig.requests++
			if !ok {
				fig.failed++
			} else {
				fig.slowestValid = max(fig.slowestValid, wait)
			}
		})
	}
	wg.Wait()
	e.settle()
}
