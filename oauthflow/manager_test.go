package oauthflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

func TestThousandCallersInsideWindowCauseOneRefresh(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 50 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour)) // 15 s left: callers wait for the refresh
	before := e.provider.RefreshCalls()
	const n = 1000
	var wg sync.WaitGroup
	tokens := make([]string, n)
	var failures atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.mgr.Token(context.Background(), e.acct, e.in)
			if err != nil {
				failures.Add(1)
				return
			}
			tokens[i] = res.Token.AccessToken
		}()
	}
	wg.Wait()
	if got := e.provider.RefreshCalls() - before; got != 1 {
		t.Errorf("token endpoint calls: got %d, want 1", got)
	}
	if failures.Load() != 0 {
		t.Errorf("callers that failed: %d", failures.Load())
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	for i, tok := range tokens {
		if tok != stored.AccessToken || tok == first.AccessToken {
			t.Fatalf("caller %d: got a token other than the new one", i)
		}
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("provider saw invalid grants %d, chain revocations %d; want 0", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
}

func TestRefreshWindowCappedAtHalfTheLifetime(t *testing.T) {
	cases := []struct {
		name    string
		ttl     time.Duration
		elapsed time.Duration
		refresh bool
	}{
		{"2 h token, 31 min left", 2 * time.Hour, 89 * time.Minute, false},
		{"2 h token, 29 min left", 2 * time.Hour, 91 * time.Minute, true},
		{"20 min token, 11 min left", 20 * time.Minute, 9 * time.Minute, false},
		{"20 min token, 9 min left", 20 * time.Minute, 11 * time.Minute, true},
		{"20 min token, fresh", 20 * time.Minute, 0, false},
		{"2 min token, 61 s left", 2 * time.Minute, 59 * time.Second, false},
		{"2 min token, 59 s left", 2 * time.Minute, 61 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: tc.ttl}, oauthflow.GrantAuthorizationCode)
			e.connect()
			e.clock.Add(tc.elapsed)
			first, _ := e.store.LoadToken(context.Background(), e.acct.ID)
			res, err := e.mgr.Token(context.Background(), e.acct, e.in)
			if err != nil {
				t.Fatal(err)
			}
			e.settle() // inside the window the refresh runs in the background
			if res.Token.AccessToken != first.AccessToken || (e.provider.RefreshCalls() == 1) != tc.refresh {
				t.Errorf("refreshed: got the current token %v (%d calls), want the current token and refresh=%v",
					res.Token.AccessToken == first.AccessToken, e.provider.RefreshCalls(), tc.refresh)
			}
			stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
			if (stored.Version > first.Version) != tc.refresh {
				t.Errorf("stored version: got %d after %d, want a new one: %v", stored.Version, first.Version, tc.refresh)
			}
		})
	}
}

func TestRefreshWithoutNewRefreshTokenKeepsTheOld(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode) // no rotation: no refresh_token in answers
	first := e.connect()
	for range 3 {
		e.clock.Add(45 * time.Minute)
		if _, err := e.mgr.Token(context.Background(), e.acct, e.in); err != nil {
			t.Fatal(err)
		}
		e.settle()
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if stored.RefreshToken != first.RefreshToken || e.provider.RefreshCalls() != 3 {
		t.Errorf("refresh token: kept=%v after %d refreshes, want kept after 3", stored.RefreshToken == first.RefreshToken, e.provider.RefreshCalls())
	}
}

func TestInvalidGrantMarksNeedsReconnectWithoutALoop(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	e.provider.RevokeAll() // the user revoked access at the provider
	e.clock.Add(urgent(time.Hour))
	_, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if !errors.Is(err, oauthflow.ErrNeedsReconnect) {
		t.Fatalf("got %v, want ErrNeedsReconnect", err)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusNeedsReconnect || acc.LastError == "" {
		t.Errorf("account: status %s error %q, want needs_reconnect with the error", acc.Status, acc.LastError)
	}
	calls := e.provider.TokenCalls()
	for range 5 {
		e.mgr.Token(context.Background(), e.acct, e.in)
		e.mgr.Rejected(context.Background(), e.acct, e.in, 1, 401)
	}
	if got := e.provider.TokenCalls() - calls; got != 0 {
		t.Errorf("token calls after needs_reconnect: got %d, want 0 (no refresh loop)", got)
	}
}

func TestTemporaryFailureKeepsTheCurrentTokenUntilExpiry(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour))
	e.provider.FailNextToken(503, `{"error":"temporarily_unavailable"}`, 1)
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || res.Token.AccessToken != first.AccessToken {
		t.Fatalf("got %v / new token %v, want the current token and no error", err, res.Token.AccessToken != first.AccessToken)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusConnected || acc.LastError == "" || acc.TemporaryFailures != 1 {
		t.Errorf("account: status %s error %q failures %d, want connected, the error recorded, 1", acc.Status, acc.LastError, acc.TemporaryFailures)
	}
	// The next call after the backoff (1 s ± a fifth) tries again and succeeds.
	e.clock.Add(2 * time.Second)
	res, err = e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || !res.Refreshed {
		t.Errorf("retry: got refreshed=%v (%v), want a refresh", res.Refreshed, err)
	}
}

func TestRejectedRefreshesOnceForConcurrentRejections(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 20 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	tok := e.connect()
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := e.provider.RefreshCalls(); got != 1 {
		t.Errorf("refresh calls: got %d, want 1", got)
	}
	// A rejection of the old version after the refresh does not refresh again.
	if _, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil || e.provider.RefreshCalls() != 1 {
		t.Errorf("late rejection of the old token: %d calls (%v), want still 1", e.provider.RefreshCalls(), err)
	}
}

// TestTwoProcessesNeverSpendTheSameRefreshToken runs two managers (two Airlock
// processes) on one database against a provider that revokes the chain on reuse.
func TestTwoProcessesNeverSpendTheSameRefreshToken(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 20 * time.Minute, RotateRefreshTokens: true, RefreshDelay: 30 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	e.connect()
	other := e.newManager()
	for round := range 6 {
		e.clock.Add(11 * time.Minute)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			m := e.mgr
			if i%2 == 1 {
				m = other
			}
			go func() {
				defer wg.Done()
				if _, err := m.Token(context.Background(), e.acct, e.in); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		e.settle()
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("invalid grants %d, chain revocations %d; want 0", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
	if got := e.provider.RefreshCalls(); got != 6 {
		t.Errorf("refresh calls: got %d, want 6 (one per round)", got)
	}
}

func TestClientCredentialsFetchesANewTokenInsteadOfRefreshing(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 20 * time.Minute}, oauthflow.GrantClientCredentials)
	res, err := e.mgr.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonConnect)
	if err != nil || !res.Refreshed || res.Token.RefreshToken != "" {
		t.Fatalf("connect: got %+v (%v)", res, err)
	}
	e.clock.Add(urgent(20 * time.Minute))
	res2, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || !res2.Refreshed || res2.Token.AccessToken == res.Token.AccessToken {
		t.Errorf("inside the window: got refreshed=%v (%v)", res2.Refreshed, err)
	}
	if got := e.provider.TokenCallsByGrant("client_credentials"); got != 2 {
		t.Errorf("client_credentials calls: got %d, want 2", got)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	for _, w := range acc.Warnings {
		if w.Code == oauthflow.WarnNoRefreshToken {
			t.Error("a client-credentials account warns about a missing refresh token")
		}
	}
}

func TestWarningsShortTTLNoRefreshUnknownExpiry(t *testing.T) {
	cases := []struct {
		name string
		opts fakeprovider.Options
		want []string
	}{
		{"2 min token", fakeprovider.Options{AccessTTL: 2 * time.Minute, RotateRefreshTokens: true}, []string{oauthflow.WarnShortTTL}},
		{"no refresh token", fakeprovider.Options{AccessTTL: time.Hour, NoRefreshToken: true}, []string{oauthflow.WarnNoRefreshToken}},
		{"no expires_in", fakeprovider.Options{OmitExpiresIn: true, RotateRefreshTokens: true}, []string{oauthflow.WarnUnknownExpiry}},
		{"healthy", fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, tc.opts, oauthflow.GrantAuthorizationCode)
			e.connect()
			acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
			var got []string
			for _, w := range acc.Warnings {
				got = append(got, w.Code)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("warnings: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnknownExpiryRefreshesOnlyOnRejection(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{OmitExpiresIn: true, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	tok := e.connect()
	e.clock.Add(30 * 24 * time.Hour)
	if res, _ := e.mgr.Token(context.Background(), e.acct, e.in); res.Refreshed {
		t.Error("a token of unknown expiry was refreshed without a rejection")
	}
	if res, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil || !res.Refreshed {
		t.Errorf("after a 401: refreshed=%v (%v), want a refresh", res.Refreshed, err)
	}
}

// TestNoRefreshTokenIsUsedUntilItExpires: without a refresh token the access
// token is used to its end, then the account clearly needs a reconnect, with
// no call to the token endpoint.
func TestNoRefreshTokenIsUsedUntilItExpires(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, NoRefreshToken: true}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(50 * time.Minute) // inside the window, still valid
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || res.Token.AccessToken != first.AccessToken || res.Refreshed {
		t.Fatalf("at 50 min: got refreshed=%v (%v), want the current token", res.Refreshed, err)
	}
	e.clock.Add(11 * time.Minute) // expired
	calls := e.provider.TokenCalls()
	if _, err := e.mgr.Token(context.Background(), e.acct, e.in); !errors.Is(err, oauthflow.ErrNeedsReconnect) || !strings.Contains(err.Error(), "no refresh token") {
		t.Errorf("after expiry: got %v, want ErrNeedsReconnect about the missing refresh token", err)
	}
	if e.provider.TokenCalls() != calls {
		t.Error("a token endpoint call was made without a refresh token")
	}
	if acc, _ := e.store.GetAccount(context.Background(), e.acct.ID); acc.Status != oauthflow.StatusNeedsReconnect {
		t.Errorf("status: got %s, want needs_reconnect", acc.Status)
	}
}

// TestWaitLetsARefreshUnderWayCommit: shutdown waits for a refresh whose
// caller gave up, so the rotated token is saved before the store closes.
func TestWaitLetsARefreshUnderWayCommit(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 300 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.mgr.Token(ctx, e.acct, e.in); err == nil {
		t.Fatal("the caller did not give up")
	}
	if err := e.mgr.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if stored.Version != first.Version+1 || stored.RefreshToken == first.RefreshToken {
		t.Errorf("after Wait: version %d (refresh token replaced: %v), want the rotated token committed", stored.Version, stored.RefreshToken != first.RefreshToken)
	}
}
