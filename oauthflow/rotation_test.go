package oauthflow_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestInvalidGrantAfterAnotherProcessRefreshedKeepsTheAccount is the case the
// lease cannot rule out (another process whose lease expired mid-call): while
// this process's refresh is out, the other one commits a rotated token, and
// the provider answers this one invalid_grant because the refresh token it
// sent was already spent. The store is read again before the account is
// declared dead: the other process's token is used, the account stays
// connected, and nothing remembers the grant as dead.
func TestInvalidGrantAfterAnotherProcessRefreshedKeepsTheAccount(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	var first oauthflow.Token
	other := oauthflow.Token{AccessToken: "other-process-access", RefreshToken: "other-process-refresh", TokenType: "Bearer",
		Expiry: e.clock.Now().Add(time.Hour), ObtainedAt: e.clock.Now()}
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.store.SaveToken(r.Context(), e.acct.ID, first.Version, other,
			oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring, Status: oauthflow.StatusConnected}); err != nil {
			t.Errorf("the other process's save: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error": "invalid_grant", "error_description": "The refresh token was already used"}`))
	}))
	defer endpoint.Close()
	in := e.in
	// The token records where it was obtained, and refreshes go there: make
	// that this test's endpoint.
	first = e.connect()
	first.Endpoints.Token = endpoint.URL + "/token"
	first, err := e.store.SaveToken(ctx, e.acct.ID, first.Version, first, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected})
	if err != nil {
		t.Fatal(err)
	}
	other.Endpoints = first.Endpoints
	e.mgr.Forget(e.acct.ID)

	res, err := e.mgr.Refresh(ctx, e.acct, in, oauthflow.ReasonManual)
	if err != nil || res.Token.AccessToken != other.AccessToken {
		t.Fatalf("refresh: got token %q (%v), want the other process's token", res.Token.AccessToken, err)
	}
	acc, err := e.store.GetAccount(ctx, e.acct.ID)
	if err != nil || acc.Status != oauthflow.StatusConnected {
		t.Errorf("account: got %s (%v), want connected", acc.Status, err)
	}
	if res, err := e.mgr.Token(ctx, e.acct, in); err != nil || res.Token.AccessToken != other.AccessToken {
		t.Errorf("next use: got token %q (%v), want the other process's token", res.Token.AccessToken, err)
	}
}
