package handlers

import (
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestAccountActionBringsItsActivity: the answer to "Refresh now" and
// "Disconnect" carries the account's activity (and traces) out of band, with
// the row the action just made, so the page shows it without a reload.
func TestAccountActionBringsItsActivity(t *testing.T) {
	ts := newTestServer(t)
	_, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, nil)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/accounts/" + acct.ID)
	r := c.post("/accounts/"+acct.ID+"/refresh", nil, "HX-Request", "true")
	act := between(r.body, `id="account-activity"`, "</section>")
	if !strings.Contains(r.body, `id="account-activity" hx-swap-oob="true"`) || !strings.Contains(act, "refreshed") {
		t.Errorf("refresh: the answer carries no activity with the refresh\n%s", r.body)
	}
	if !strings.Contains(r.body, `id="traces" hx-swap-oob="true"`) {
		t.Error("refresh: the answer carries no traces section")
	}
	r = c.post("/accounts/"+acct.ID+"/disconnect", nil, "HX-Request", "true")
	if act := between(r.body, `id="account-activity"`, "</section>"); !strings.Contains(act, "disconnected") {
		t.Errorf("disconnect: the answer's activity lacks the disconnect\n%s", act)
	}
}
