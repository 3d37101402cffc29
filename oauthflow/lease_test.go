package oauthflow_test

import (
	"context"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestLeaseIsRenewedWhileARefreshRuns: a lease far shorter than the token
// call stays with its holder for as long as the call lasts — renewed every
// third of its life — so another process that comes while the call is out,
// after the lease's first expiry, waits and takes the holder's token
// instead of spending the rotating refresh token a second time.
func TestLeaseIsRenewedWhileARefreshRuns(t *testing.T) {
	const ttl = 600 * time.Millisecond
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 2 * time.Second},
		oauthflow.GrantAuthorizationCode)
	e.connect()
	managers := make([]*oauthflow.Manager, 2)
	for i := range managers {
		managers[i] = oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, LeaseTTL: ttl})
		e.managers = append(e.managers, managers[i])
	}
	calls := e.provider.TokenCalls()
	first := make(chan error, 1)
	go func() {
		_, err := managers[0].Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonManual)
		first <- err
	}()
	time.Sleep(200 * time.Millisecond) // the first refresh holds the lease and waits for the provider
	e.clock.Add(2 * ttl)               // its lease, unrenewed, would have expired now
	time.Sleep(ttl / 2)                // one renewal
	res, err := managers[1].Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonManual)
	if err != nil {
		t.Fatalf("second process's refresh: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first process's refresh: %v", err)
	}
	if got := e.provider.TokenCalls() - calls; got != 1 {
		t.Errorf("token endpoint calls: got %d, want 1 (the lease holder's)", got)
	}
	if got := e.provider.InvalidGrants(); got != 0 {
		t.Errorf("invalid_grant answers: got %d, want 0", got)
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if res.Token.AccessToken != stored.AccessToken {
		t.Errorf("second process got %q, want the holder's stored token", res.Token.AccessToken)
	}
}
