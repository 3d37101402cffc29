package oauthflow_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

var outage = fakeprovider.Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"temporarily_unavailable"}`}

// failureRows are the account's refresh_failed activity rows.
func (e *engine) failureRows() []store.Activity {
	e.t.Helper()
	rows, _, err := e.store.ListActivity(context.Background(), store.ActivityFilter{AccountID: e.acct.ID, Kinds: []string{"refresh_failed"}}, 100, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

// tick asks for the token n times, lets the background refresh finish and
// moves the clock on by step; every answer must be the token want.
func (e *engine) tick(n int, step time.Duration, want string) {
	e.t.Helper()
	for range n {
		res, err := e.mgr.Token(context.Background(), e.acct, e.in)
		if err != nil || res.Token.AccessToken != want {
			e.t.Fatalf("at %v: got %v (the expected token: %v), want the current token", e.clock.Now(), err, res.Token.AccessToken == want)
		}
	}
	e.settle()
	e.clock.Add(step)
}

func TestBackoffSpacesAttemptsAndKeepsOneRowPerStreak(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(40 * time.Minute) // 20 min left: inside the window, far from expiry
	e.provider.SetTokenFault(outage)
	perMinute := map[int]int{}
	for sec := range 300 { // a five-minute outage, ten callers a second
		before := e.provider.RefreshCalls()
		e.tick(10, time.Second, first.AccessToken)
		perMinute[sec/60] += e.provider.RefreshCalls() - before
	}
	calls := e.provider.RefreshCalls()
	// 1, 2, 4 … s apart (± a fifth): 8 or 9 attempts fit in 300 s.
	if calls < 8 || calls > 9 {
		t.Errorf("token calls in a 5-minute outage: got %d, want 8 or 9", calls)
	}
	for m, n := range perMinute {
		if n > 10 {
			t.Errorf("minute %d: %d token calls, want at most 10", m, n)
		}
	}
	rows := e.failureRows()
	if len(rows) != 1 || rows[0].Count != calls || !strings.Contains(rows[0].Detail, "503") || rows[0].LastAt.IsZero() {
		t.Fatalf("failure rows: got %+v, want one row counting %d attempts with the last error", rows, calls)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	b, _ := e.store.LoadBackoff(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusConnected || acc.TemporaryFailures != calls || b.Failures != calls || !b.Next.After(e.clock.Now()) {
		t.Errorf("account %s with %d temporary failures, backoff %+v: want connected, %d, and a next attempt ahead", acc.Status, acc.TemporaryFailures, b, calls)
	}
	if alerts, _ := e.store.ListAlerts(context.Background(), e.acct.ID, true, 10); len(alerts) != 1 || alerts[0].Kind != store.AlertRefreshFailing {
		t.Errorf("open alerts: got %+v, want refresh_failing", alerts)
	}

	e.provider.ClearTokenFault()
	for range 6 * 60 / 5 { // the next attempt comes at most 5 min (+ a fifth) later
		e.tick(1, 5*time.Second, mustCurrent(t, e))
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	b, _ = e.store.LoadBackoff(context.Background(), e.acct.ID)
	if stored.Version != first.Version+1 || b.Failures != 0 || len(e.failureRows()) != 1 {
		t.Errorf("after recovery: version %d, backoff %+v, %d failure rows; want %d, none, still 1", stored.Version, b, len(e.failureRows()), first.Version+1)
	}
	if alerts, _ := e.store.ListAlerts(context.Background(), e.acct.ID, true, 10); len(alerts) != 0 {
		t.Errorf("open alerts after recovery: %+v", alerts)
	}
}

// mustCurrent is the token the manager would hand out now.
func mustCurrent(t *testing.T, e *engine) string {
	t.Helper()
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token.AccessToken
}

func TestRetryAfterDelaysTheNextAttempt(t *testing.T) {
	for _, tc := range []struct{ name, header string }{{"seconds", "30"}, {"HTTP date", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
			first := e.connect()
			e.clock.Add(40 * time.Minute)
			header := tc.header
			if header == "" {
				header = e.clock.Now().Add(30 * time.Second).Format(http.TimeFormat)
			}
			e.provider.SetTokenFault(fakeprovider.Fault{Status: http.StatusTooManyRequests, Body: "slow down", RetryAfter: header})
			for range 29 {
				e.tick(5, time.Second, first.AccessToken)
			}
			if got := e.provider.RefreshCalls(); got != 1 {
				t.Errorf("token calls in the 29 s after a Retry-After of 30 s: got %d, want 1", got)
			}
			for range 3 {
				e.tick(5, time.Second, first.AccessToken)
			}
			if got := e.provider.RefreshCalls(); got != 2 {
				t.Errorf("token calls once Retry-After passed: got %d, want 2", got)
			}
		})
	}
}

// TestBackoffIsKeptInTheStoreForOtherProcesses: a second manager on the same
// database (another process) does not call the token endpoint while the
// first one's backoff runs, although it has never failed itself.
func TestBackoffIsKeptInTheStoreForOtherProcesses(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	other := e.newManager()
	e.clock.Add(40 * time.Minute)
	e.provider.SetTokenFault(outage)
	e.tick(1, 500*time.Millisecond, first.AccessToken)
	for range 3 {
		if res, err := other.Token(context.Background(), e.acct, e.in); err != nil || res.Token.AccessToken != first.AccessToken {
			t.Fatalf("other process: got %v, want the current token", err)
		}
		e.settle()
	}
	if got := e.provider.RefreshCalls(); got != 1 {
		t.Errorf("token calls: got %d, want 1 (the other process honours the backoff)", got)
	}
	// A restart clears leases, not the streak.
	if _, err := e.store.ClearLeases(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := e.store.LoadBackoff(context.Background(), e.acct.ID); b.Failures != 1 {
		t.Errorf("backoff after clearing leases: got %+v, want the streak kept", b)
	}
}

func TestExpiredTokenFailsFastAndOneCallerProbes(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	e.clock.Add(61 * time.Minute) // expired
	e.provider.SetTokenFault(outage)
	_, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if !errors.Is(err, oauthflow.ErrTokenUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("first caller: got %v, want ErrTokenUnavailable with the 503", err)
	}
	burst := func() (fast int, slowest time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				began := time.Now()
				_, err := e.mgr.Token(context.Background(), e.acct, e.in)
				took := time.Since(began)
				var be *oauthflow.BackoffError
				mu.Lock()
				defer mu.Unlock()
				if errors.As(err, &be) {
					fast++
					slowest = max(slowest, took)
				}
			})
		}
		wg.Wait()
		return fast, slowest
	}
	// Fast: no token call, no wait for one — the endpoint now takes 2 s, a
	// second leaves room for a loaded machine.
	e.provider.SetTokenFault(fakeprovider.Fault{Delay: 2 * time.Second, Status: 503})
	if fast, slowest := burst(); fast != 50 || slowest > time.Second || e.provider.RefreshCalls() != 1 {
		t.Errorf("while backing off: %d fast errors (slowest %v), %d token calls; want 50 within a second, 1 call", fast, slowest, e.provider.RefreshCalls())
	}
	e.provider.SetTokenFault(outage)
	e.clock.Add(2 * time.Second) // past the first backoff
	if fast, _ := burst(); fast != 49 || e.provider.RefreshCalls() != 2 {
		t.Errorf("when the time comes: %d fast errors, %d token calls; want one caller to probe (49, 2)", fast, e.provider.RefreshCalls())
	}
	e.settle()
	e.provider.ClearTokenFault()
	e.clock.Add(5 * time.Second)
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || !res.Refreshed {
		t.Errorf("after recovery: got %v refreshed=%v, want a new token", err, res.Refreshed)
	}
}

func TestValidTokenIsServedAtOnceWhileTheRefreshIsSlow(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 500 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(40 * time.Minute)
	var slowest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			began := time.Now()
			res, err := e.mgr.Token(context.Background(), e.acct, e.in)
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, took)
			if err != nil || res.Token.AccessToken != first.AccessToken {
				t.Errorf("got %v, want the current token at once", err)
			}
		})
	}
	wg.Wait()
	if slowest > 100*time.Millisecond {
		t.Errorf("slowest caller waited %v, want at most 100 ms while the refresh takes 500 ms", slowest)
	}
	e.settle()
	if got, next := e.provider.RefreshCalls(), mustCurrent(t, e); got != 1 || next == first.AccessToken {
		t.Errorf("after the background refresh: %d calls, new token %v; want 1 and the new token", got, next != first.AccessToken)
	}
}

// TestNotATokenKeepsAWorkingAccount: a 2xx that is not a token from an
// endpoint that worked before is temporary: the account stays connected and
// its valid token keeps being used.
func TestNotATokenKeepsAWorkingAccount(t *testing.T) {
	for _, body := range []string{"<html><body>Maintenance</body></html>", "garbage!", "{}"} {
		t.Run(body, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
			first := e.connect()
			e.clock.Add(40 * time.Minute)
			e.provider.SetTokenFault(fakeprovider.Fault{Status: http.StatusOK, Body: body})
			e.tick(5, time.Second, first.AccessToken)
			acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
			if acc.Status != oauthflow.StatusConnected || !strings.Contains(acc.LastError, "temporary fault") {
				t.Errorf("account: %s %q, want connected with the diagnosis", acc.Status, acc.LastError)
			}
		})
	}
}

// TestNotATokenOnAFirstConnectIsAConfigurationError: the same answer to a
// client-credentials connect (no token yet) points at the configuration.
func TestNotATokenOnAFirstConnectIsAConfigurationError(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantClientCredentials)
	e.provider.SetTokenFault(fakeprovider.Fault{Status: http.StatusOK, Body: "<html>login</html>"})
	_, err := e.mgr.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonConnect)
	if oauthflow.Classify(err) != oauthflow.KindConfig || !strings.Contains(err.Error(), "check the token URL") {
		t.Errorf("got %v (%v), want a configuration error that says to check the token URL", err, oauthflow.Classify(err))
	}
	if acc, _ := e.store.GetAccount(context.Background(), e.acct.ID); acc.Status != oauthflow.StatusError {
		t.Errorf("status: got %s, want error", acc.Status)
	}
}

// TestLostRotationIsRetriedAfterTheBackoff: the provider rotates and the
// answer is lost. Nothing is re-sent at once; after the backoff the store is
// read again and the old refresh token re-sent once. A provider with a reuse
// grace accepts it; a strict one refuses, and the account says plainly
// that the rotation was lost in transit.
func TestLostRotationIsRetriedAfterTheBackoff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		grace      time.Duration
		wantStatus string
	}{{"reuse grace", 30 * time.Second, oauthflow.StatusConnected}, {"strict reuse detection", 0, oauthflow.StatusNeedsReconnect}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, ReuseGrace: tc.grace}, oauthflow.GrantAuthorizationCode)
			first := e.connect()
			e.clock.Add(40 * time.Minute)
			e.provider.SetTokenFault(fakeprovider.Fault{DropAnswer: true})
			e.tick(10, 200*time.Millisecond, first.AccessToken)
			e.provider.ClearTokenFault()
			e.tick(10, 200*time.Millisecond, first.AccessToken) // still inside the 1 s backoff
			if got := e.provider.RefreshCalls(); got != 1 {
				t.Fatalf("token calls right after the lost answer: got %d, want 1 (nothing re-sent at once)", got)
			}
			e.clock.Add(2 * time.Second)
			mustCurrent(t, e)
			e.settle()
			acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
			if e.provider.RefreshCalls() != 2 || acc.Status != tc.wantStatus {
				t.Fatalf("after the backoff: %d calls, status %s (%s); want 2, %s", e.provider.RefreshCalls(), acc.Status, acc.LastError, tc.wantStatus)
			}
			if tc.grace == 0 && !strings.Contains(acc.LastError, "lost in transit") {
				t.Errorf("last error %q, want it to say the rotation was lost in transit", acc.LastError)
			}
			if tc.grace > 0 && e.provider.ChainRevocations() != 0 {
				t.Errorf("chain revocations: got %d, want 0", e.provider.ChainRevocations())
			}
		})
	}
}

// TestIssuedTokenIsNeverDropped holds the database's write lock (another
// connection's BEGIN IMMEDIATE) for longer than the busy timeout while a
// rotation is under way: the save fails, the new token is used from memory,
// and once the lock goes the token is committed and the grant is alive.
func TestIssuedTokenIsNeverDropped(t *testing.T) {
	e := newEngineWith(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode,
		store.Options{BusyTimeout: 100 * time.Millisecond})
	first := e.connect()
	lock, err := sql.Open("sqlite", e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	locked := make(chan *sql.Tx, 1)
	e.mgr = oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, Fault: func(point string) {
		if point != oauthflow.FaultAfterTokenResponse {
			return
		}
		tx, err := lock.BeginTx(context.Background(), nil)
		if err == nil {
			_, err = tx.Exec("INSERT INTO write_probe (id, at) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET at = at + 1") // takes the write lock
		}
		if err != nil {
			t.Errorf("take the write lock: %v", err)
		}
		locked <- tx
	}})
	e.managers = append(e.managers, e.mgr)
	e.clock.Add(urgent(time.Hour))
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || res.Token.AccessToken == first.AccessToken || !res.Refreshed {
		t.Fatalf("during the lock: got %v, want the new token from memory", err)
	}
	tx := <-locked
	time.Sleep(400 * time.Millisecond) // several busy timeouts
	if stored, _ := e.store.LoadToken(context.Background(), e.acct.ID); stored.Version != first.Version {
		t.Fatalf("stored version during the lock: got %d, want still %d", stored.Version, first.Version)
	}
	if got := mustCurrent(t, e); got != res.Token.AccessToken {
		t.Errorf("during the lock: the manager hands out another token than the one it could not save")
	}
	tx.Rollback()
	e.settle()
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if stored.AccessToken != res.Token.AccessToken || stored.Version != first.Version+1 {
		t.Fatalf("after the lock: stored version %d (the new token: %v), want it committed", stored.Version, stored.AccessToken == res.Token.AccessToken)
	}
	e.clock.Add(urgent(time.Hour)) // the grant is alive: the next rotation works
	if res, err := e.mgr.Token(context.Background(), e.acct, e.in); err != nil || !res.Refreshed {
		t.Errorf("next rotation: %v", err)
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("invalid grants %d, chain revocations %d; want 0", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
}
