package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// withParams rewrites a callback URL's query.
func withParams(t *testing.T, raw string, set map[string]string, del ...string) string {
	t.Helper()
	u, _ := url.Parse(raw)
	q := u.Query()
	for k, v := range set {
		q.Set(k, v)
	}
	for _, k := range del {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// TestCallbackAttacksNeverReachTheTokenEndpoint: every refused callback
// answers 400 with an explanation and makes 0 calls to the token endpoint.
func TestCallbackAttacksNeverReachTheTokenEndpoint(t *testing.T) {
	cases := []struct {
		name    string
		issuer  string
		attack  func(t *testing.T, ts *testServer, p *fakeprovider.Provider, victim *client, cb string) response
		wantMsg string
	}{
		{"missing state", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return c.follow(t, withParams(t, cb, nil, "state"))
		}, "no state"},
		{"unknown state", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return c.follow(t, withParams(t, cb, map[string]string{"state": "forged-state-value"}))
		}, "Unknown sign-in"},
		{"tampered state", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			u, _ := url.Parse(cb)
			s := u.Query().Get("state")
			return c.follow(t, withParams(t, cb, map[string]string{"state": s[:len(s)-1] + "x"}))
		}, "Unknown sign-in"},
		{"expired state", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			ts.clock.Add(11 * time.Minute)
			return c.follow(t, cb)
		}, "expired"},
		{"state already used", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			c.follow(t, withParams(t, cb, map[string]string{"error": "access_denied"}, "code"))
			return c.follow(t, cb)
		}, "already used"},
		{"state from another browser", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			attacker := ts.signedIn(store.RoleBuilder)
			return attacker.follow(t, cb)
		}, "another browser"},
		{"state from an anonymous browser", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return ts.newClient().follow(t, cb)
		}, "another browser"},
		{"provider error", "", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return c.follow(t, withParams(t, cb, map[string]string{"error": "access_denied", "error_description": "The user said no"}, "code"))
		}, "The user said no"},
		{"issuer missing", "https://issuer.fake.test", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return c.follow(t, withParams(t, cb, nil, "iss"))
		}, "no iss"},
		{"issuer different (mix-up)", "https://issuer.fake.test", func(t *testing.T, ts *testServer, p *fakeprovider.Provider, c *client, cb string) response {
			return c.follow(t, withParams(t, cb, map[string]string{"iss": "https://evil.test"}))
		}, "Wrong issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			opts := fakeprovider.Options{Issuer: tc.issuer}
			p := ts.provider(opts)
			in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, opts, nil)
			acct := ts.account(in, "prod", nil)
			c := ts.signedIn(store.RoleBuilder)
			cb, err := p.Approve(c.startConnect(t, acct.ID))
			if err != nil {
				t.Fatal(err)
			}
			r := tc.attack(t, ts, p, c, cb)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.wantMsg) {
				t.Errorf("got %d, want 400 saying %q\n%s", r.status, tc.wantMsg, r.body)
			}
			if r.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("Referrer-Policy: got %q, want no-referrer", r.header.Get("Referrer-Policy"))
			}
			if n := p.TokenCalls(); n != 0 {
				t.Errorf("token endpoint calls: got %d, want 0", n)
			}
			if got, _ := ts.store.GetAccount(context.Background(), acct.ID); got.Status == oauthflow.StatusConnected {
				t.Error("the account got connected")
			}
		})
	}
}

// TestFlowsInSeveralTabsAllComplete starts several flows in one browser before
// finishing any, then finishes them in reverse order.
func TestFlowsInSeveralTabsAllComplete(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{RotateRefreshTokens: true})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	c := ts.signedIn(store.RoleBuilder)
	var accts []store.AccountRow
	var cbs []string
	for i := range 5 {
		a := ts.account(in, "tab"+string(rune('a'+i)), nil)
		accts = append(accts, a)
		cb, err := p.Approve(c.startConnect(t, a.ID))
		if err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, cb)
	}
	for i := len(cbs) - 1; i >= 0; i-- {
		if r := c.follow(t, cbs[i]); r.status != http.StatusSeeOther {
			t.Errorf("flow %d: got %d\n%s", i, r.status, r.body)
		}
	}
	for _, a := range accts {
		if got, _ := ts.store.GetAccount(context.Background(), a.ID); got.Status != oauthflow.StatusConnected {
			t.Errorf("%s: got %s, want connected", a.Name, got.Status)
		}
	}
	u, _ := url.Parse(ts.srv.URL)
	if cs := c.http.Jar.Cookies(u); len(cs) != 1 {
		t.Errorf("cookies after 5 flows: got %d, want 1", len(cs))
	}
}

func TestConnectLinkForSomeoneWithoutAConsoleAccount(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{RotateRefreshTokens: true})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	key := ts.apiKey(store.RoleBuilder)
	r := ts.api("POST", "/api/v1/integrations/fake/accounts", key, `{"name": "customer"}`)
	var a accountJSON
	json.Unmarshal([]byte(r.body), &a)
	if r.status != http.StatusCreated || a.Status != oauthflow.StatusPending || a.ConnectURL == nil {
		t.Fatalf("create: got %d %s, want 201 pending with a connect_url", r.status, r.body)
	}
	link := *a.ConnectURL
	if !strings.HasPrefix(link, ts.srv.URL+"/connect/") {
		t.Fatalf("connect_url %s is not under the public URL", link)
	}
	owner := ts.newClient()
	open := owner.follow(t, link)
	if open.status != http.StatusSeeOther || !strings.HasPrefix(open.header.Get("Location"), p.AuthorizeURL()) {
		t.Fatalf("open link: got %d to %q", open.status, open.header.Get("Location"))
	}
	if sc := open.header.Values("Set-Cookie"); len(sc) != 1 || !strings.Contains(sc[0], "Max-Age=1800") && !strings.Contains(sc[0], "Max-Age=179") {
		t.Errorf("connect session cookie: got %q, want one 30-minute session cookie", sc)
	}
	cb, err := p.Approve(open.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	done := owner.follow(t, cb)
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/connect/done" {
		t.Fatalf("callback: got %d to %q", done.status, done.header.Get("Location"))
	}
	if page := owner.get("/connect/done"); !strings.Contains(page.body, "you can close this window") {
		t.Error("the done page does not say the window can be closed")
	}
	got := ts.api("GET", "/api/v1/accounts/"+a.ID, key, "")
	if !strings.Contains(got.body, `"status":"connected"`) {
		t.Errorf("account after the link: %s", got.body)
	}
	if again := ts.newClient().follow(t, link); again.status != http.StatusGone {
		t.Errorf("reusing a spent link: got %d, want 410", again.status)
	}
}

func TestDisconnectRevokesRefreshTokenFirst(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{RotateRefreshTokens: true})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	acct := ts.account(in, "prod", nil)
	c := ts.signedIn(store.RoleBuilder)
	cb, _ := p.Approve(c.startConnect(t, acct.ID))
	c.follow(t, cb)
	key := ts.apiKey(store.RoleBuilder)
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", key, "")
	if r.status != 200 || r.body != "{\"revoked\":true}\n" {
		t.Fatalf("disconnect: got %d %s", r.status, r.body)
	}
	revs := p.Revocations()
	if len(revs) != 2 || revs[0].Hint != "refresh_token" || revs[1].Hint != "access_token" {
		t.Errorf("revocations: got %+v, want refresh_token then access_token", revs)
	}
	if _, err := ts.store.LoadToken(context.Background(), acct.ID); err == nil {
		t.Error("tokens still stored after disconnect")
	}
	if got, _ := ts.store.GetAccount(context.Background(), acct.ID); got.Status != oauthflow.StatusDisconnected {
		t.Errorf("status: got %s, want disconnected", got.Status)
	}
	// A provider that fails the revocation: tokens are deleted anyway, revoked false.
	cb, _ = p.Approve(c.startConnect(t, acct.ID))
	c.follow(t, cb)
	p.FailNextRevoke(503, 5)
	r = ts.api("DELETE", "/api/v1/accounts/"+acct.ID, key, "")
	if r.status != 200 || !strings.Contains(r.body, `"revoked":false`) {
		t.Errorf("delete with a failing revoke: got %d %s", r.status, r.body)
	}
	if _, err := ts.store.GetAccount(context.Background(), acct.ID); err == nil {
		t.Error("the account still exists after DELETE")
	}
}

func TestAccountAPIShapeAndPatch(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, func(i *oauthflow.Integration) {
		i.Parameters = []oauthflow.Parameter{{Name: "serverName"}}
		i.OAuth2.AuthorizationURL = p.URL() + "/authorize?tenant={serverName}"
	})
	key := ts.apiKey(store.RoleBuilder)
	cases := []struct {
		body, field string
	}{
		{`{"name": "x", "parameters": {}}`, "parameters.serverName"},
		{`{"name": "", "parameters": {"serverName": "a"}}`, "name"},
		{`{"name": "x", "parameters": {"serverName": "a", "other": "b"}}`, "parameters.other"},
	}
	for _, tc := range cases {
		r := ts.api("POST", "/api/v1/integrations/fake/accounts", key, tc.body)
		if r.status != 422 || !strings.Contains(r.body, `"`+tc.field+`"`) {
			t.Errorf("%s: got %d %s, want 422 on %s", tc.body, r.status, r.body, tc.field)
		}
	}
	r := ts.api("POST", "/api/v1/integrations/fake/accounts", key, `{"name": "prod", "parameters": {"serverName": "prod"}}`)
	var raw map[string]any
	json.Unmarshal([]byte(r.body), &raw)
	for _, k := range []string{"id", "integration", "name", "parameters", "status", "connect_url", "expires_at", "scopes", "has_refresh_token", "warnings", "last_refreshed_at", "last_error"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("account JSON lacks %q: %s", k, r.body)
		}
	}
	for _, k := range []string{"access_token", "refresh_token", "token"} {
		if _, ok := raw[k]; ok {
			t.Errorf("account JSON has %q", k)
		}
	}
	id := raw["id"].(string)
	if r := ts.api("GET", "/api/v1/integrations/fake/accounts", key, ""); r.status != 200 || !strings.Contains(r.body, id) || !strings.Contains(r.body, `"next_cursor":""`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	if r := ts.api("PATCH", "/api/v1/accounts/"+id, key, `{"name": "production"}`); r.status != 200 || !strings.Contains(r.body, `"name":"production"`) {
		t.Errorf("patch name: %d %s", r.status, r.body)
	}
	if r := ts.api("GET", "/api/v1/accounts/acc_nope", key, ""); r.status != 404 || !strings.Contains(r.body, "not_found") {
		t.Errorf("unknown account: %d %s", r.status, r.body)
	}
}

// TestConnectLinkConnectsOnlyOnce: two browsers open the same link; the one
// that completes second is refused before any token exchange.
func TestConnectLinkConnectsOnlyOnce(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{RotateRefreshTokens: true})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	key := ts.apiKey(store.RoleBuilder)
	r := ts.api("POST", "/api/v1/integrations/fake/accounts", key, `{"name": "customer"}`)
	var a accountJSON
	json.Unmarshal([]byte(r.body), &a)
	owner, other := ts.newClient(), ts.newClient()
	cbOwner, _ := p.Approve(owner.follow(t, *a.ConnectURL).header.Get("Location"))
	cbOther, _ := p.Approve(other.follow(t, *a.ConnectURL).header.Get("Location"))
	if done := owner.follow(t, cbOwner); done.status != http.StatusSeeOther {
		t.Fatalf("first completion: %d", done.status)
	}
	calls := p.TokenCalls()
	second := other.follow(t, cbOther)
	if second.status != http.StatusBadRequest || !strings.Contains(second.body, "already used") {
		t.Errorf("second completion: got %d, want 400 'already used'", second.status)
	}
	if p.TokenCalls() != calls {
		t.Error("the second completion reached the token endpoint")
	}
}

// TestDisconnectWaitsForARefreshUnderWay: a refresh holding the lease when
// Disconnect is pressed finishes first, and the token revoked is the one it
// stored, not the one it replaced.
func TestDisconnectWaitsForARefreshUnderWay(t *testing.T) {
	ts := newTestServer(t)
	p, in, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true, RefreshDelay: 300 * time.Millisecond}, nil)
	full, _ := ts.store.IntegrationWithSecret(context.Background(), in.ID)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.mgr.Refresh(context.Background(), acct.Account, full, oauthflow.ReasonManual)
	}()
	time.Sleep(100 * time.Millisecond) // the refresh holds the lease and waits at the provider
	key := ts.apiKey(store.RoleBuilder)
	if r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", key, ""); r.status != 200 {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
	<-done
	refreshTokens := p.IssuedRefreshTokens()
	latest := refreshTokens[len(refreshTokens)-1]
	var revokedLatest bool
	for _, rv := range p.Revocations() {
		if rv.Token == latest {
			revokedLatest = true
		}
	}
	if !revokedLatest {
		t.Error("the refresh token issued by the refresh under way was not revoked")
	}
	if _, err := ts.store.LoadToken(context.Background(), acct.ID); err == nil {
		t.Error("a token is stored after the disconnect")
	}
}
