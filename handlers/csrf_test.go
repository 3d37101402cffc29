package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestCSRFOnEveryStateChangingConsoleRoute calls every state-changing console
// route of the route table (every non-GET outside /api/), signed in as an
// admin so that permissions are not what refuses: cross-site with a valid
// token, and same-site without the token or with a wrong one, each is a 403
// that changes nothing; the same request same-site with the token is not
// refused, so a 403 above is the CSRF check's. The OAuth callback is a GET,
// protected by state instead.
func TestCSRFOnEveryStateChangingConsoleRoute(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{AccessTTL: time.Hour})
	routes := stateChanging(ts.h, false)
	if len(routes) < 20 {
		t.Fatalf("found %d state-changing console routes: the route table was not read", len(routes))
	}
	n := 0
	cases := []struct {
		name  string
		hdr   []string
		token func(c *client) string
	}{
		{"cross-site with a valid token", []string{"Sec-Fetch-Site", "cross-site"}, func(c *client) string { return c.csrf }},
		{"foreign Origin with a valid token", []string{"Origin", "https://evil.example"}, func(c *client) string { return c.csrf }},
		{"same-origin without a token", []string{"Sec-Fetch-Site", "same-origin"}, func(*client) string { return "" }},
		{"same-origin with another session's token", []string{"Sec-Fetch-Site", "same-origin"}, func(*client) string { return ts.signedIn(store.RoleAdmin).csrf }},
	}
	for _, r := range routes {
		_, route, _ := strings.Cut(r, " ")
		t.Run(r, func(t *testing.T) {
			fx := ts.fixture(p, &n)
			path := fx.path(route)
			before := ts.snapshot(t, fx)
			for _, tc := range cases {
				c := ts.signedIn(store.RoleAdmin)
				form := url.Values{"_csrf": {tc.token(c)}, "name": {"csrf"}, "email": {"csrf@example.com"}, "role": {"viewer"}, "action": {"disable"}}
				if got := c.post(path, form, tc.hdr...); got.status != http.StatusForbidden {
					t.Errorf("%s: got %d, want 403", tc.name, got.status)
				}
				if got := c.get("/account/password"); got.status != http.StatusOK {
					t.Errorf("%s: the session did not survive the refused request (GET /account/password: %d)", tc.name, got.status)
				}
			}
			if after := ts.snapshot(t, fx); after != before {
				t.Errorf("refused requests changed state:\nbefore %s\nafter  %s", before, after)
			}
			c := ts.signedIn(store.RoleAdmin)
			got := c.post(path, url.Values{"name": {"csrf"}}, "Sec-Fetch-Site", "same-origin")
			if got.status == http.StatusForbidden {
				t.Errorf("same-origin with the token: got 403, want the route's own answer")
			}
		})
	}
}

// snapshot summarises what the state-changing routes could change around a
// fixture: its integration, account, token, user, API key, alert and
// delivery; the users and keys the forms would create; the webhook.
func (ts *testServer) snapshot(t *testing.T, fx fixture) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	add := func(parts ...any) {
		for _, p := range parts {
			fmt.Fprint(&b, p, " ")
		}
		b.WriteString("; ")
	}
	in, err := ts.store.GetIntegration(ctx, fx.key)
	add("integration", in.Name, in.UpdatedAt.UnixNano(), err)
	a, err := ts.store.GetAccount(ctx, fx.account)
	add("account", a.Name, a.Status, a.Health, err)
	tok, err := ts.store.LoadToken(ctx, fx.account)
	add("token", tok.Version, err)
	u, err := ts.store.GetUser(ctx, fx.user)
	add("user", u.Role, u.Disabled(), u.PasswordHash, err)
	_, err = ts.store.GetUserByEmail(ctx, "csrf@example.com")
	add("new user", err)
	ks, _ := ts.store.ListAPIKeys(ctx)
	disabled := 0
	for _, k := range ks {
		if k.Disabled() {
			disabled++
		}
	}
	add("keys", len(ks), "disabled", disabled)
	alerts, _ := ts.store.ListAlerts(ctx, "", true, 1000)
	add("open alerts", len(alerts))
	ds, _ := ts.store.ListDeliveries(ctx, 1000)
	add("deliveries", len(ds))
	for _, d := range ds {
		if d.ID == fx.delivery {
			add("delivery", d.Status, d.Attempts)
		}
	}
	w, err := ts.store.GetWebhook(ctx)
	add("webhook", w.URL, w.SecretSet, err)
	return b.String()
}
