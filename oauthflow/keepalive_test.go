package oauthflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestKeepaliveOverASimulatedWeek: an idle account with a 1-hour token is
// refreshed about once a day by two keep-alive workers (two processes)
// ticking at the same moments, never twice for one due time; a
// client-credentials account is never touched.
func TestKeepaliveOverASimulatedWeek(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	// A client-credentials integration on the same provider and store.
	cc := e.in
	cc.Key, cc.OAuth2.GrantType = "cc", oauthflow.GrantClientCredentials
	created, err := e.store.CreateIntegration(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	cc.ID = created.ID
	ccAcct, _ := e.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: cc.ID, Name: "svc"})
	if _, err := e.mgr.Refresh(context.Background(), ccAcct.Account, cc, oauthflow.ReasonConnect); err != nil {
		t.Fatal(err)
	}
	ccCalls := e.provider.TokenCallsByGrant("client_credentials")

	other := e.newManager()
	workers := []*oauthflow.Keepalive{
		{Store: e.store, Manager: e.mgr, After: 24 * time.Hour, Now: e.clock.Now},
		{Store: e.store, Manager: other, After: 24 * time.Hour, Now: e.clock.Now},
	}
	for step := time.Duration(0); step < 7*24*time.Hour; step += 10 * time.Minute {
		e.clock.Add(10 * time.Minute)
		var wg sync.WaitGroup
		for _, k := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); k.Tick(context.Background()) }()
		}
		wg.Wait()
	}
	if got := e.provider.RefreshCalls(); got < 6 || got > 7 {
		t.Errorf("keep-alive refreshes over 7 days: got %d, want about one a day (6 or 7)", got)
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("invalid grants %d, chain revocations %d: a refresh token was spent twice", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
	if got := e.provider.TokenCallsByGrant("client_credentials"); got != ccCalls {
		t.Errorf("client-credentials calls: got %d, want %d (untouched)", got, ccCalls)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusConnected {
		t.Errorf("status after a week: %s", acc.Status)
	}
}

func TestKeepaliveSpreadsABurst(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.connect()
	for i := range 11 {
		a, _ := e.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: e.in.ID, Name: "a" + string(rune('a'+i))})
		e.acct = a.Account
		e.connect()
	}
	e.clock.Add(30 * time.Hour)
	k := &oauthflow.Keepalive{Store: e.store, Manager: e.mgr, After: 24 * time.Hour, Batch: 5, Now: e.clock.Now}
	if n := k.Tick(context.Background()); n != 5 {
		t.Errorf("first tick: got %d refreshes, want the batch of 5", n)
	}
	if n := k.Tick(context.Background()); n != 5 {
		t.Errorf("second tick: got %d, want 5", n)
	}
	if n := k.Tick(context.Background()); n != 2 {
		t.Errorf("third tick: got %d, want the last 2", n)
	}
}

// TestKeepaliveFailingAccountsDoNotStarveHealthyOnes: accounts whose provider
// keeps answering 503 are tried once, then wait RetryAfter; the healthy
// account still gets its keep-alive refresh.
func TestKeepaliveFailingAccountsDoNotStarveHealthyOnes(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	for i := range 5 {
		a, _ := e.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: e.in.ID, Name: "f" + string(rune('a'+i))})
		e.acct = a.Account
		e.connect()
	}
	e.clock.Add(time.Minute)
	healthy, _ := e.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: e.in.ID, Name: "healthy"})
	e.acct = healthy.Account
	e.connect()
	e.clock.Add(27 * time.Hour) // past 24 h plus any account's jitter (at most a tenth)
	// The provider fails the failing accounts' refreshes (the first five calls).
	e.provider.FailNextToken(503, `{"error":"temporarily_unavailable"}`, 5)
	tokenCallsBefore := e.provider.TokenCalls()
	k := &oauthflow.Keepalive{Store: e.store, Manager: e.mgr, After: 24 * time.Hour, Batch: 5, Now: e.clock.Now}
	for range 3 {
		k.Tick(context.Background())
		e.clock.Add(30 * time.Second)
	}
	got, _ := e.store.GetAccount(context.Background(), healthy.ID)
	if got.LastRefreshedAt.Before(e.clock.Now().Add(-2 * time.Minute)) {
		t.Errorf("the healthy account was not refreshed: last %v", got.LastRefreshedAt)
	}
	if calls := e.provider.TokenCalls() - tokenCallsBefore; calls != 6 {
		t.Errorf("token calls: got %d, want 6 (each failing account once, the healthy one once)", calls)
	}
}
