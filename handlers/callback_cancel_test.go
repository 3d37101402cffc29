package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestCancelledReconnectLeavesAWorkingAccountAlone: declining access on the
// provider's page during a reconnect is a cancelled connect — recorded as
// such, the account still connected and without an error — and the page
// leads back to the account.
func TestCancelledReconnectLeavesAWorkingAccountAlone(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, nil)
	c := ts.signedIn(store.RoleBuilder)
	cb, err := p.Approve(c.startConnect(t, acct.ID))
	if err != nil {
		t.Fatal(err)
	}
	r := c.follow(t, withParams(t, cb, map[string]string{"error": "access_denied", "error_description": "The user said no"}, "code"))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "The connection was cancelled") || !strings.Contains(r.body, "The user said no") {
		t.Errorf("page: got %d, want 400 saying the connection was cancelled (with the provider's words)\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `href="/accounts/`+acct.ID+`"`) {
		t.Errorf("page: no link back to the account\n%s", r.body)
	}
	got, err := ts.store.GetAccount(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "connected" || got.LastError != "" {
		t.Errorf("account: got status %q last_error %q, want connected with no error", got.Status, got.LastError)
	}
	acts, _, err := ts.store.ListActivity(context.Background(), store.ActivityFilter{AccountID: acct.ID}, 20, "")
	if err != nil {
		t.Fatal(err)
	}
	var cancelled bool
	for _, a := range acts {
		if a.Kind == "refresh_failed" {
			t.Errorf("activity: a cancelled connect recorded as refresh_failed (%s, %s)", a.RefreshReason, a.Detail)
		}
		cancelled = cancelled || a.Kind == "connect_cancelled"
	}
	if !cancelled {
		t.Error("activity: no connect_cancelled row")
	}
}

// TestFailedConnectPageLeadsBack: a refused callback whose account is unknown
// leads to the accounts list.
func TestFailedConnectPageLeadsBack(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	r := c.get(CallbackPath + "?state=forged-state-value&code=x")
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `href="/accounts"`) || !strings.Contains(r.body, "Go to the accounts") {
		t.Errorf("unknown state: got %d, want 400 with a link to the accounts\n%s", r.status, r.body)
	}
	if anon := ts.newClient().get(CallbackPath + "?state=forged-state-value&code=x"); strings.Contains(anon.body, `id="callback-back"`) {
		t.Error("unknown state, not signed in: a link into the console")
	}
}
