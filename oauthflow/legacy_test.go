package oauthflow_test

import (
	"context"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestTokensWithoutRecordedEndpoints: a token set saved before endpoints
// were recorded is never refreshed anywhere until it gets them; at start-up
// RecordLegacyEndpoints gives it the ones it was obtained at, except to an
// account that needs a reconnection (its token may belong to other values).
func TestTokensWithoutRecordedEndpoints(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	if want := (oauthflow.Endpoints{Token: e.provider.TokenURL(), Revoke: e.provider.RevokeURL()}); first.Endpoints != want {
		t.Fatalf("connected token endpoints: got %+v, want %+v", first.Endpoints, want)
	}
	legacy := first
	legacy.Endpoints = oauthflow.Endpoints{}
	if _, err := e.store.SaveToken(ctx, e.acct.ID, first.Version, legacy, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		t.Fatal(err)
	}
	stale, _ := e.store.CreateAccount(ctx, oauthflow.Account{IntegrationID: e.in.ID, Name: "changed"})
	if _, err := e.store.SaveToken(ctx, stale.ID, -1, legacy, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetAccountStatus(ctx, stale.ID, oauthflow.StatusNeedsReconnect, "The parameters changed"); err != nil {
		t.Fatal(err)
	}
	e.mgr.Forget(e.acct.ID)
	calls := e.provider.RefreshCalls()
	if _, err := e.mgr.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); !oauthflow.IsInvalidGrant(err) {
		t.Errorf("refresh without recorded endpoints: got %v, want an invalid-grant refusal (reconnect)", err)
	}
	if e.provider.RefreshCalls() != calls {
		t.Errorf("a token without recorded endpoints was refreshed")
	}

	// Start-up again: the connected account's set gets its endpoints.
	if _, err := e.store.SaveToken(ctx, e.acct.ID, -1, legacy, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		t.Fatal(err)
	}
	recorded, skipped, err := oauthflow.RecordLegacyEndpoints(ctx, e.store)
	if err != nil || recorded != 1 || skipped != 1 {
		t.Fatalf("got %d recorded, %d skipped (%v), want 1 and 1", recorded, skipped, err)
	}
	if tok, _ := e.store.LoadToken(ctx, e.acct.ID); tok.Endpoints != first.Endpoints {
		t.Errorf("connected account: got %+v, want %+v", tok.Endpoints, first.Endpoints)
	}
	if tok, _ := e.store.LoadToken(ctx, stale.ID); tok.Endpoints != (oauthflow.Endpoints{}) {
		t.Errorf("account needing a reconnection: got %+v, want nothing recorded", tok.Endpoints)
	}
	e.mgr.Forget(e.acct.ID)
	if _, err := e.mgr.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); err != nil || e.provider.RefreshCalls() != calls+1 {
		t.Errorf("refresh after recording: %v, %d calls, want one refresh", err, e.provider.RefreshCalls()-calls)
	}
	if r, s, _ := oauthflow.RecordLegacyEndpoints(ctx, e.store); r != 0 || s != 1 {
		t.Errorf("second run: got %d recorded, %d skipped, want 0 and 1", r, s)
	}
}
