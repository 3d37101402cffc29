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

// connected sets up a provider, an integration and a connected account.
func (ts *testServer) connected(opts fakeprovider.Options, mut func(*oauthflow.Integration)) (*fakeprovider.Provider, oauthflow.Integration, store.AccountRow) {
	ts.t.Helper()
	p := ts.provider(opts)
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, opts, mut)
	acct := ts.account(in, "prod", nil)
	c := ts.signedIn(store.RoleBuilder)
	cb, err := p.Approve(c.startConnect(ts.t, acct.ID))
	if err != nil {
		ts.t.Fatal(err)
	}
	if r := c.follow(ts.t, cb); r.status != http.StatusSeeOther {
		ts.t.Fatalf("connect: %d %s", r.status, r.body)
	}
	return p, in, acct
}

func TestRequestAPISendsThroughTheAccount(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour, RotateRefreshTokens: true}, nil)
	key := ts.apiKey(store.RoleBuilder)
	body := `{"method": "POST", "url": "` + p.APIURL() + `orders", "headers": {"Accept": "application/json", "X-Trace": "t1"}, "body": "{\"n\":1}"}`
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, body)
	if r.status != 200 {
		t.Fatalf("request: got %d %s", r.status, r.body)
	}
	var out requestOutput
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != 200 || out.BodyEncoding != "utf8" || out.Refreshed || out.RefreshReason != "" || out.Headers["Content-Type"] == nil {
		t.Errorf("answer: %+v", out)
	}
	echo := p.LastAPIRequest()
	if echo.Body != `{"n":1}` || echo.Header.Get("X-Trace") != "t1" || !strings.HasPrefix(echo.Header.Get("Authorization"), "Bearer ") {
		t.Errorf("what the API received: %+v", echo)
	}
	// 15 s before its expiry the token is refreshed first (earlier inside the
	// window it is refreshed in the background, the request not waiting).
	ts.clock.Add(2*time.Hour - oauthflow.UrgentMargin/2)
	r = ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`)
	json.Unmarshal([]byte(r.body), &out)
	if !out.Refreshed || out.RefreshReason != "expiring" {
		t.Errorf("inside the window: refreshed %v reason %q", out.Refreshed, out.RefreshReason)
	}
	// A 401 from the API: refreshed and retried.
	p.FailNextAPI(401, 1)
	r = ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`)
	json.Unmarshal([]byte(r.body), &out)
	if out.Status != 200 || out.RefreshReason != "rejected" {
		t.Errorf("after a 401: %+v", out)
	}
	// The upstream's own error statuses are still a 200 from Airlock.
	p.FailNextAPI(500, 1)
	r = ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`)
	json.Unmarshal([]byte(r.body), &out)
	if r.status != 200 || out.Status != 500 {
		t.Errorf("upstream 500: got %d / %d, want 200 carrying 500", r.status, out.Status)
	}
	// Activity records the requests without values, headers or bodies: all
	// four in the minute's summary, the failed one (500) also on its own.
	ts.clock.Add(time.Minute)
	ts.activity.Flush(context.Background())
	acts, _, _ := ts.store.ListActivity(context.Background(), store.ActivityFilter{AccountID: acct.ID, Kinds: []string{"request", "requests"}}, 50, "")
	var counted, ok, failed, own int
	for _, a := range acts {
		if a.Kind == "requests" {
			counted, ok, failed = counted+a.Count, ok+a.Minute.N2xx, failed+a.Minute.N5xx
		} else if a.Status == 500 && a.Counted {
			own++
		}
	}
	if counted != 4 || ok != 3 || failed != 1 || own != 1 || len(acts) > 4 {
		t.Errorf("request activity rows: got %+v, want minutes counting 4 (3 × 2xx, 1 × 5xx) and the 500 on its own", acts)
	}
	for _, a := range acts {
		if strings.Contains(a.URL+a.Detail, "t1") || strings.Contains(a.URL+a.Detail, `"n"`) {
			t.Errorf("activity holds a header value or body: %+v", a)
		}
	}
}

func TestRequestAPIErrorStatuses(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, func(i *oauthflow.Integration) {
		i.APIBaseURLs = []string{oauthflow.AnyOrigin} // any origin: the dial guard and the network decide
	})
	key := ts.apiKey(store.RoleBuilder)
	viewer := ts.apiKey(store.RoleViewer)
	path := "/api/v1/accounts/" + acct.ID + "/request"
	cases := []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"viewer key", viewer, `{"url": "` + p.APIURL() + `"}`, 403, "forbidden"},
		{"no url", key, `{}`, 422, "invalid_fields"},
		{"relative url", key, `{"url": "/me"}`, 422, "invalid_fields"},
		{"bad method", key, `{"method": "FETCH", "url": "` + p.APIURL() + `"}`, 422, "invalid_fields"},
		{"unknown placeholder", key, `{"url": "` + p.APIURL() + `{nope}"}`, 422, "invalid_fields"},
		{"header with a line break", key, `{"url": "` + p.APIURL() + `", "headers": {"X-A": "a\r\nB: c"}}`, 422, "invalid_fields"},
		{"metadata address", key, `{"url": "http://169.254.169.254/latest/meta-data/"}`, 422, "invalid_fields"},
		{"unreachable upstream", key, `{"url": "http://127.0.0.1:1/"}`, 502, "upstream_unreachable"},
		{"not JSON", key, `{"url":`, 400, "bad_json"},
		{"wrong type", key, `{"url": 5}`, 400, "bad_json"},
		{"unknown field", key, `{"url": "x", "bogus": 1}`, 400, "bad_json"},
		{"headers not strings", key, `{"url": "x", "headers": {"A": 1}}`, 400, "bad_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.api("POST", path, tc.key, tc.body)
			var e apiError
			json.Unmarshal([]byte(r.body), &e)
			if r.status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	// An account that cannot get a token: 409 needs_reconnect.
	p.RevokeAll()
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
	if !strings.Contains(r.body, `"status":"needs_reconnect"`) || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("refresh of a revoked grant: %d %s", r.status, r.body)
	}
	r = ts.api("POST", path, key, `{"url": "`+p.APIURL()+`"}`)
	if r.status != 409 || !strings.Contains(r.body, `"needs_reconnect"`) {
		t.Errorf("request with a dead grant: got %d %s, want 409 needs_reconnect", r.status, r.body)
	}
}

func TestTokenAPIAdminOnlyAndRecorded(t *testing.T) {
	ts := newTestServer(t)
	_, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, nil)
	stored, _ := ts.store.LoadToken(context.Background(), acct.ID)
	for _, role := range []string{store.RoleViewer, store.RoleBuilder} {
		if r := ts.api("GET", "/api/v1/accounts/"+acct.ID+"/token", ts.apiKey(role), ""); r.status != 403 {
			t.Errorf("%s key: got %d, want 403", role, r.status)
		}
	}
	r := ts.api("GET", "/api/v1/accounts/"+acct.ID+"/token", ts.apiKey(store.RoleAdmin), "")
	var out map[string]any
	json.Unmarshal([]byte(r.body), &out)
	if r.status != 200 || out["access_token"] != stored.AccessToken || out["token_type"] != "Bearer" || out["expires_at"] == nil {
		t.Errorf("token API: %d %v", r.status, out)
	}
	if _, has := out["refresh_token"]; has {
		t.Error("the token API returns the refresh token")
	}
	ts.activity.Flush(context.Background())
	acts, _, _ := ts.store.ListActivity(context.Background(), store.ActivityFilter{AccountID: acct.ID, Kinds: []string{"token"}}, 10, "")
	if len(acts) != 1 || acts[0].Actor == "" {
		t.Errorf("token reads recorded: %+v", acts)
	}
}

func TestConsoleTestRequestPanel(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, nil)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/accounts/" + acct.ID)
	form := url.Values{"method": {"POST"}, "url": {p.APIURL() + "things"}, "header_name": {"Accept", "X-Empty"}, "header_value": {"application/json", ""}, "body": {`{"a":1}`}}
	r := c.post("/accounts/"+acct.ID+"/request", form, "HX-Request", "true")
	if r.status != 200 || strings.Contains(r.body, "<html") {
		t.Fatalf("panel: got %d, want a partial", r.status)
	}
	stored, _ := ts.store.LoadToken(context.Background(), acct.ID)
	for _, want := range []string{"200 OK", "&#34;ok&#34;: true", "Request as sent", "Bearer ••••" + stored.AccessToken[len(stored.AccessToken)-4:]} {
		if !strings.Contains(r.body, want) {
			t.Errorf("result lacks %q", want)
		}
	}
	if strings.Contains(r.body, stored.AccessToken) {
		t.Error("the result shows the token")
	}
	// Viewers cannot send.
	v := ts.signedIn(store.RoleViewer)
	page := v.get("/accounts/" + acct.ID)
	if strings.Contains(page.body, `id="send"`) {
		t.Error("a viewer sees the Send button")
	}
	if r := v.post("/accounts/"+acct.ID+"/request", form); r.status != 403 {
		t.Errorf("viewer send: got %d, want 403", r.status)
	}
}

// TestMovingTheTokenEndpointGuardsSecretsAndRefreshTokens: a builder cannot
// point the token endpoint of an integration with accounts at another host
// (its refresh tokens and the client secret would go there); an admin can,
// with the client secret entered again.
func TestMovingTheTokenEndpointGuardsSecretsAndRefreshTokens(t *testing.T) {
	ts := newTestServer(t)
	ts.connected(fakeprovider.Options{RotateRefreshTokens: true}, nil)
	get := ts.api("GET", "/api/v1/integrations/fake", ts.apiKey(store.RoleBuilder), "")
	var in map[string]any
	json.Unmarshal([]byte(get.body), &in)
	o := in["oauth2"].(map[string]any)
	o["token_url"] = "http://127.0.0.2:9/steal"
	delete(o, "client_secret_set")
	body, _ := json.Marshal(in)
	r := ts.api("PUT", "/api/v1/integrations/fake", ts.apiKey(store.RoleBuilder), string(body))
	if r.status != 403 || !strings.Contains(r.body, `"code":"forbidden"`) || !strings.Contains(r.body, `"oauth2.token_url"`) || !strings.Contains(r.body, "An admin must make this change") {
		t.Errorf("builder moving the token endpoint: got %d %s", r.status, r.body)
	}
	admin := ts.apiKey(store.RoleAdmin)
	r = ts.api("PUT", "/api/v1/integrations/fake", admin, string(body))
	if r.status != 422 || !strings.Contains(r.body, `"oauth2.client_secret"`) {
		t.Errorf("admin moving it without the secret: got %d %s", r.status, r.body)
	}
	o["client_secret"] = fakeprovider.DefaultClientSecret
	body, _ = json.Marshal(in)
	if r = ts.api("PUT", "/api/v1/integrations/fake", admin, string(body)); r.status != 200 {
		t.Errorf("admin moving it with the secret: got %d %s", r.status, r.body)
	}
	// Other edits by a builder still work.
	in["name"] = "Renamed"
	delete(o, "client_secret")
	body, _ = json.Marshal(in)
	if r = ts.api("PUT", "/api/v1/integrations/fake", ts.apiKey(store.RoleBuilder), string(body)); r.status != 200 {
		t.Errorf("builder renaming: got %d %s", r.status, r.body)
	}
}
