package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCapturedHostRefused: a captured origin outside allowed_hosts is not
// stored, the connect fails naming the capture and the host, the tokens it
// brought are revoked, and nothing reaches that host — not the access token,
// not a request.
func TestCapturedHostRefused(t *testing.T) {
	cases := []struct {
		name     string
		evilAddr string // an evil server to point instance_url at; "" uses https://evil.test
		wantHost string
	}{
		{"unresolvable evil host", "", "evil.test"},
		{"live evil server on another loopback address", "127.0.0.2:0", "127.0.0.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			login := newQuirkFakeB(t, ts.clock.Now, "")
			target := "https://evil.test"
			var evil *quirkFakeB
			if c.evilAddr != "" {
				evil = newQuirkFakeB(t, ts.clock.Now, c.evilAddr)
				target = evil.URL()
			}
			login.tokenExtra = func() map[string]any { return map[string]any{"instance_url": target} }
			def := quirkDef("sf", login, map[string]any{
				"capture":      []map[string]any{{"name": "instance_url", "from": "token_response", "path": "instance_url", "allowed_hosts": []string{"127.0.0.1", "*.salesforce.com"}}},
				"userinfo_url": "{instance_url}/userinfo",
			}, map[string]any{"api_base_urls": []string{"{instance_url}/services/data/"}})
			id, key := ts.quirkAccount(t, def)
			r := quirkConnect(t, ts.signedIn("builder"), id)
			if r.status != http.StatusBadRequest || !containsAll(r.body, "instance_url", c.wantHost) {
				t.Fatalf("callback: got %d, want 400 naming instance_url and %s\n%s", r.status, c.wantHost, r.body)
			}
			a := ts.accountOf(t, id, key)
			if a.Status == "connected" || a.Captured["instance_url"] != "" {
				t.Errorf("got status %s captured %v, want not connected and nothing captured", a.Status, a.Captured)
			}
			if a.LastError == nil || !strings.Contains(*a.LastError, "instance_url") {
				t.Errorf("got last_error %v, want the refusal", a.LastError)
			}
			login.mu.Lock()
			revoked := len(login.revoked)
			login.mu.Unlock()
			if revoked != 2 {
				t.Errorf("got %d revocations, want 2 (the refused connect's access and refresh token)", revoked)
			}
			if evil != nil {
				tok, _, api, ui := evil.counts()
				if tok+api+ui != 0 {
					t.Errorf("the evil server received %d token, %d API and %d userinfo calls, want none", tok, api, ui)
				}
			}
		})
	}
}

// TestIdentityMismatch: a reconnect that signs in someone else changes
// nothing — its tokens are revoked, the old ones still work — until the
// identity is reset.
func TestIdentityMismatch(t *testing.T) {
	cases := []struct {
		name     string
		identity map[string]any
		userinfo bool
	}{
		{"id_token sub", map[string]any{"from": "id_token", "path": "sub"}, false},
		{"userinfo user.id", map[string]any{"from": "userinfo", "path": "user.id"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			f := newQuirkFakeB(t, ts.clock.Now, "")
			o := map[string]any{"identity": c.identity}
			if c.userinfo {
				o["userinfo_url"] = f.URL() + "/userinfo"
			}
			id, key := ts.quirkAccount(t, quirkDef("idp", f, o, nil))
			browser := ts.signedIn("builder")
			if r := quirkConnect(t, browser, id); r.status != http.StatusSeeOther {
				t.Fatalf("first connect: got %d\n%s", r.status, r.body)
			}
			if a := ts.accountOf(t, id, key); a.Identity == nil || *a.Identity != "user-1" {
				t.Fatalf("got identity %v, want user-1", a.Identity)
			}
			f.user = "user-2"
			r := quirkConnect(t, browser, id)
			if r.status != http.StatusConflict || !strings.Contains(r.body, "connected as user-1; the provider just signed in user-2") {
				t.Fatalf("second connect: got %d, want 409 with the identities\n%s", r.status, r.body)
			}
			f.mu.Lock()
			revoked := strings.Join(f.revoked, " ")
			f.mu.Unlock()
			if strings.Count(revoked, "user-2") != 2 || strings.Contains(revoked, "user-1") {
				t.Errorf("got revoked %q, want both new tokens of user-2 and none of user-1", revoked)
			}
			out := ts.send(t, id, key, f.URL()+"/things")
			if out.Status != 200 || !strings.Contains(out.Body, `"user":"user-1"`) {
				t.Errorf("after the refused connect: got %d %s, want the old token of user-1 to work", out.Status, out.Body)
			}
			if page := browser.get("/accounts/" + id); !strings.Contains(page.body, "the provider just signed in user-2") {
				t.Errorf("the account page does not say who signed in")
			}
			if r := ts.api("POST", "/api/v1/accounts/"+id+"/reset-identity", key, ""); r.status != 200 || !strings.Contains(r.body, `"identity":null`) {
				t.Fatalf("reset identity: got %d %s, want 200 with identity null", r.status, r.body)
			}
			if r := quirkConnect(t, browser, id); r.status != http.StatusSeeOther {
				t.Fatalf("connect after reset: got %d\n%s", r.status, r.body)
			}
			if a := ts.accountOf(t, id, key); a.Identity == nil || *a.Identity != "user-2" {
				t.Errorf("got identity %v, want user-2 after the reset", a.Identity)
			}
		})
	}
}

// TestResetIdentityConsole: the account page's button, with its CSRF token.
func TestResetIdentityConsole(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFakeB(t, ts.clock.Now, "")
	id, key := ts.quirkAccount(t, quirkDef("idp", f, map[string]any{"identity": map[string]any{"from": "id_token", "path": "sub"}}, nil))
	browser := ts.signedIn("builder")
	quirkConnect(t, browser, id)
	page := browser.get("/accounts/" + id)
	if !strings.Contains(page.body, `action="/accounts/`+id+`/reset-identity"`) {
		t.Fatalf("no reset identity form on the account page")
	}
	if r := browser.post("/accounts/"+id+"/reset-identity", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reset: got %d, want 303\n%s", r.status, r.body)
	}
	if a := ts.accountOf(t, id, key); a.Identity != nil {
		t.Errorf("got identity %v, want none", *a.Identity)
	}
	viewer := ts.signedIn("viewer")
	if r := viewer.post("/accounts/"+id+"/reset-identity", nil); r.status != http.StatusForbidden {
		t.Errorf("viewer reset: got %d, want 403", r.status)
	}
}

// TestRequiredScopes: a token answer that grants fewer scopes than required
// raises insufficient_scopes, listing them, and the page offers a reconnect.
func TestRequiredScopes(t *testing.T) {
	cases := []struct {
		name, granted string
		want          bool
	}{
		{"all granted", "read write admin", false},
		{"admin missing", "read write", true},
		{"comma separated, all", "read,write,admin", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t)
			f := newQuirkFakeB(t, ts.clock.Now, "")
			f.scope = c.granted
			id, key := ts.quirkAccount(t, quirkDef("sc", f, map[string]any{"scope": "read write admin", "required_scopes": []string{"read", "write", "admin"}}, nil))
			browser := ts.signedIn("builder")
			quirkConnect(t, browser, id)
			a := ts.accountOf(t, id, key)
			if got := hasWarning(a, "insufficient_scopes"); got != c.want {
				t.Fatalf("got insufficient_scopes=%v (%v), want %v", got, a.Warnings, c.want)
			}
			page := browser.get("/accounts/" + id)
			if got := strings.Contains(page.body, "Reconnect and grant the missing scopes"); got != c.want {
				t.Errorf("got the reconnect button %v, want %v", got, c.want)
			}
			if c.want {
				for _, w := range a.Warnings {
					if w.Code == "insufficient_scopes" && !strings.Contains(w.Message, "admin") {
						t.Errorf("got %q, want it to list admin", w.Message)
					}
				}
			}
		})
	}
}

// TestCaptureRulesThroughAPI: a capture that lands in a host without
// allowed_hosts is refused with 422 invalid_fields on the capture; a
// builder may not set allowed hosts.
func TestCaptureRulesThroughAPI(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFakeB(t, ts.clock.Now, "")
	admin, builder := ts.apiKey("admin"), ts.apiKey("builder")
	noHosts := quirkDef("a1", f, map[string]any{"capture": []map[string]any{{"name": "instance_url", "from": "token_response", "path": "instance_url"}}},
		map[string]any{"api_base_urls": []string{"{instance_url}/services/"}})
	r := ts.api("POST", "/api/v1/integrations", admin, noHosts)
	if e, _ := apiErrorOf(r.body); r.status != 422 || e.Code != "invalid_fields" || e.Fields["oauth2.capture[0].allowed_hosts"] == "" {
		t.Errorf("no allowed hosts: got %d %s, want 422 invalid_fields on oauth2.capture[0].allowed_hosts", r.status, r.body)
	}
	withHosts := strings.Replace(noHosts, `"path":"instance_url"`, `"path":"instance_url","allowed_hosts":["evil.test"]`, 1)
	if r := ts.api("POST", "/api/v1/integrations", builder, withHosts); r.status != http.StatusForbidden {
		t.Errorf("builder setting allowed hosts: got %d %s, want 403", r.status, r.body)
	}
	if r := ts.api("POST", "/api/v1/integrations", admin, withHosts); r.status != http.StatusCreated {
		t.Fatalf("admin: got %d %s, want 201", r.status, r.body)
	}
	got := ts.api("GET", "/api/v1/integrations/a1", admin, "")
	if !containsAll(got.body, `"capture":[`, `"allowed_hosts":["evil.test"]`) {
		t.Errorf("export: got %s, want the capture carried", got.body)
	}
}

// TestCallbackCaptureRefused: a callback's accounts-server outside the
// allowed hosts refuses the callback before the code exchange: the evil
// server never sees the code or the client secret.
func TestCallbackCaptureRefused(t *testing.T) {
	ts := newTestServer(t)
	good := newQuirkFakeB(t, ts.clock.Now, "")
	evil := newQuirkFakeB(t, ts.clock.Now, "127.0.0.2:0")
	good.callbackExtra = func() url.Values { return url.Values{"accounts-server": {evil.URL()}} }
	def := quirkDef("zoho", good, map[string]any{
		"token_url": "{accounts_server}/token", "revoke_url": "{accounts_server}/revoke",
		"capture": []map[string]any{{"name": "accounts_server", "from": "callback", "path": "accounts-server", "allowed_hosts": []string{"127.0.0.1"}}},
	}, nil)
	id, key := ts.quirkAccount(t, def)
	r := quirkConnect(t, ts.signedIn("builder"), id)
	if r.status != http.StatusBadRequest || !containsAll(r.body, "accounts_server", "127.0.0.2") {
		t.Fatalf("callback: got %d, want 400 naming accounts_server and 127.0.0.2\n%s", r.status, r.body)
	}
	if tok, _, api, ui := evil.counts(); tok+api+ui != 0 || len(evil.revoked) != 0 {
		t.Errorf("the evil server received %d token, %d API, %d userinfo calls and %d revocations, want none", tok, api, ui, len(evil.revoked))
	}
	if a := ts.accountOf(t, id, key); a.Status == "connected" || len(a.Captured) != 0 {
		t.Errorf("got status %s captured %v, want not connected, nothing captured", a.Status, a.Captured)
	}
}
