package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestHealthShownWithItsTimeAndClearedOnDisconnect: the account page shows
// the health check's verdict with when it ran, and forgets it when the
// tokens it was checked with go.
func TestHealthShownWithItsTimeAndClearedOnDisconnect(t *testing.T) {
	ts := newTestServer(t)
	_, _, acct := ts.connected(fakeprovider.Options{AccessTTL: time.Hour}, func(i *oauthflow.Integration) {
		i.HealthCheck = &oauthflow.HealthCheck{Method: "GET", URL: i.APIBaseURLs[0] + "me", ExpectStatus: 200}
	})
	c := ts.signedIn(store.RoleBuilder)
	c.get("/accounts/" + acct.ID)
	if r := c.post("/accounts/"+acct.ID+"/check", nil, "HX-Request", "true"); r.status != http.StatusOK {
		t.Fatalf("check: got %d\n%s", r.status, r.body)
	}
	page := c.get("/accounts/" + acct.ID)
	if !strings.Contains(page.body, `id="health-detail"`) || !strings.Contains(page.body, "Health check (") {
		t.Errorf("after a check: want the health detail with its time\n%s", between(page.body, `id="account-status"`, "</section>"))
	}
	if r := c.post("/accounts/"+acct.ID+"/disconnect", nil); r.status >= 400 {
		t.Fatalf("disconnect: got %d", r.status)
	}
	page = c.get("/accounts/" + acct.ID)
	if strings.Contains(page.body, `id="health-detail"`) || strings.Contains(page.body, ">healthy<") {
		t.Errorf("after a disconnect the health result stays\n%s", between(page.body, `id="account-status"`, "</section>"))
	}
}

// between is the part of s from the first from to the next to, for messages.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
