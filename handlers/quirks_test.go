package handlers

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// quirkDoc is an integration for f as the JSON API takes it, with oauth2
// and top-level fields added or replaced.
func quirkDoc(f *quirkFake, key, grant string, oauth2, top map[string]any) string {
	o := map[string]any{"grant_type": grant, "token_url": f.url("/token"), "scope": "read", "client_id": "cid",
		"client_secret": "csecret", "client_auth": "body"}
	if grant == "authorization_code" {
		o["authorization_url"] = f.url("/authorize")
	}
	maps.Copy(o, oauth2)
	doc := map[string]any{"key": key, "name": "Quirky " + key, "oauth2": o,
		"token":         map[string]any{"name": "Authorization", "template": "Bearer {token}", "in": "header"},
		"api_base_urls": []string{f.url("/api/")}}
	maps.Copy(doc, top)
	b, _ := json.Marshal(doc)
	return string(b)
}

// quirkAccount defines the integration through the API, creates an account
// and, for the code grant, connects it the way a person would: the connect
// link, the provider's approval, the callback.
func quirkAccount(t *testing.T, ts *testServer, key, doc string) accountJSON {
	t.Helper()
	var in struct {
		Key string `json:"key"`
	}
	r := ts.api("POST", "/api/v1/integrations", key, doc)
	if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &in) != nil {
		t.Fatalf("create integration: got %d %s", r.status, r.body)
	}
	r = ts.api("POST", "/api/v1/integrations/"+in.Key+"/accounts", key, `{"name": "prod"}`)
	var a accountJSON
	if err := json.Unmarshal([]byte(r.body), &a); err != nil || r.status != http.StatusCreated {
		t.Fatalf("create account: got %d %s", r.status, r.body)
	}
	if a.ConnectURL == nil {
		return a
	}
	c := ts.newClient()
	open := c.follow(t, *a.ConnectURL)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(open.header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize at the provider: %v %v", resp, err)
	}
	resp.Body.Close()
	if cb := c.follow(t, resp.Header.Get("Location")); cb.status != http.StatusSeeOther {
		t.Fatalf("callback: got %d %s", cb.status, cb.body)
	}
	return quirkAccountJSON(t, ts, key, a.ID)
}

func quirkAccountJSON(t *testing.T, ts *testServer, key, id string) accountJSON {
	t.Helper()
	var a accountJSON
	r := ts.api("GET", "/api/v1/accounts/"+id, key, "")
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("get account: %d %s", r.status, r.body)
	}
	return a
}

// quirkRequest sends GET /api/me through the account and checks that the
// provider accepted the token in the end.
func quirkRequest(t *testing.T, ts *testServer, f *quirkFake, key, id, wantReason string) {
	t.Helper()
	r := ts.api("POST", "/api/v1/accounts/"+id+"/request", key, `{"url": "`+f.url("/api/me")+`"}`)
	var out requestOutput
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 {
		t.Fatalf("request: got %d %s", r.status, r.body)
	}
	if out.Status != 200 || !strings.Contains(out.Body, `"user":"U1"`) || out.RefreshReason != wantReason {
		t.Errorf("request: got status %d reason %q body %s, want 200 %q and the user", out.Status, out.RefreshReason, out.Body, wantReason)
	}
}

func TestQuirkSlackLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "slack", ts.clock.Now, 12*time.Hour)
	key := ts.apiKey(store.RoleBuilder)
	doc := quirkDoc(f, "slack", "authorization_code",
		map[string]any{"token_response": map[string]any{"access_token": "authed_user.access_token",
			"refresh_token": "authed_user.refresh_token", "expires_in": "authed_user.expires_in"}},
		map[string]any{"rejected_responses": []any{map[string]any{"statuses": []int{200}, "body_path": "ok", "equals": "false"}},
			"health_check": map[string]any{"method": "GET", "url": f.url("/api/me")}})
	a := quirkAccount(t, ts, key, doc)
	if a.Status != "connected" || !a.HasRefreshToken || a.ExpiresAt == nil {
		t.Fatalf("account: %+v, want connected with the user token's refresh token and expiry", a)
	}
	quirkRequest(t, ts, f, key, a.ID, "") // the user token, not the bot one, went out
	f.expireAll()                         // now 200 {"ok":false,"error":"token_expired"}
	quirkRequest(t, ts, f, key, a.ID, "rejected")
	if got := f.count("/token refresh_token"); got != 1 {
		t.Errorf("refreshes: got %d, want 1", got)
	}
	// The console's test request and the health check treat it alike.
	c := ts.signedIn(store.RoleBuilder)
	f.expireAll()
	c.post("/accounts/"+a.ID+"/request", url.Values{"method": {"GET"}, "url": {f.url("/api/me")}})
	f.expireAll()
	if r := c.post("/accounts/"+a.ID+"/check", nil); r.status != 200 && r.status != http.StatusSeeOther {
		t.Fatalf("health check: got %d %s", r.status, r.body)
	}
	row, _ := ts.store.GetAccount(context.Background(), a.ID)
	if got := f.count("/token refresh_token"); got != 3 || row.Health != "healthy" {
		t.Errorf("after a console request and a health check: refreshes %d health %q (%s), want 3 healthy", got, row.Health, row.HealthDetail)
	}
}

func TestQuirkNotionLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "notion", ts.clock.Now, time.Hour)
	key := ts.apiKey(store.RoleBuilder)
	a := quirkAccount(t, ts, key, quirkDoc(f, "notion", "authorization_code", map[string]any{"token_body": "json", "client_auth": "basic"}, nil))
	if a.Status != "connected" {
		t.Fatalf("account: %+v, want connected (the code exchange sent JSON)", a)
	}
	quirkRequest(t, ts, f, key, a.ID, "")
	f.expireAll() // 401
	quirkRequest(t, ts, f, key, a.ID, "rejected")
	if got := f.count("/token refresh_token"); got != 1 {
		t.Errorf("refreshes: got %d, want 1", got)
	}
	if got := f.paramsOf("refresh_token")["grant_type"]; got != "refresh_token" || f.contentTypes["application/x-www-form-urlencoded"] {
		t.Errorf("refresh body: grant %q, content types %v, want JSON only", got, f.contentTypes)
	}
}

func TestQuirkFigmaLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "figma", ts.clock.Now, time.Hour)
	key := ts.apiKey(store.RoleBuilder)
	doc := quirkDoc(f, "figma", "authorization_code",
		map[string]any{"refresh_url": f.url("/refresh"), "refresh_params": map[string]string{"client_hint": "airlock"}},
		map[string]any{"rejected_responses": []any{map[string]any{"header": "WWW-Authenticate", "contains": "invalid_token"}}})
	a := quirkAccount(t, ts, key, doc)
	quirkRequest(t, ts, f, key, a.ID, "")
	f.expireAll() // 400 with WWW-Authenticate: Bearer error="invalid_token"
	quirkRequest(t, ts, f, key, a.ID, "rejected")
	ts.clock.Add(time.Hour) // expired by the clock: refreshed before sending
	quirkRequest(t, ts, f, key, a.ID, "expiring")
	if got, wrong := f.count("/refresh refresh_token"), f.count("/token refresh_token"); got != 2 || wrong != 0 {
		t.Errorf("refreshes at /refresh %d, at /token %d, want 2 and 0", got, wrong)
	}
	if f.paramsOf("refresh_token")["client_hint"] != "airlock" || f.paramsOf("authorization_code")["client_hint"] != "" {
		t.Errorf("refresh params: refresh %v, code exchange %v, want them on the refresh only", f.paramsOf("refresh_token"), f.paramsOf("authorization_code"))
	}
}

func TestQuirkMarketoLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "marketo", ts.clock.Now, time.Hour)
	key := ts.apiKey(store.RoleBuilder)
	doc := quirkDoc(f, "marketo", "client_credentials", nil,
		map[string]any{"rejected_responses": []any{map[string]any{"statuses": []int{200}, "body_path": "errors[0].code", "equals": "602"}}})
	a := quirkAccount(t, ts, key, doc)
	if a.Status != "connected" {
		t.Fatalf("account: %+v, want connected", a)
	}
	quirkRequest(t, ts, f, key, a.ID, "")
	f.expireAll() // 200 {"success":false,"errors":[{"code":"602"}]}
	quirkRequest(t, ts, f, key, a.ID, "rejected")
	if got := f.count("/token client_credentials"); got != 2 {
		t.Errorf("client credentials calls: got %d, want 2", got)
	}
}

func TestQuirkGitHubAppLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "github", ts.clock.Now, 8*time.Hour)
	key := ts.apiKey(store.RoleBuilder)
	a := quirkAccount(t, ts, key, quirkDoc(f, "github", "authorization_code", nil, nil))
	want := ts.clock.Now().Add(15897600 * time.Second)
	if a.RefreshTokenExpiresAt == nil || !sameSecond(*a.RefreshTokenExpiresAt, want) {
		t.Fatalf("refresh_token_expires_at: got %v, want %v", a.RefreshTokenExpiresAt, want)
	}
	for range 3 { // rotating refresh tokens: each refresh spends the last one
		ts.clock.Add(8 * time.Hour)
		quirkRequest(t, ts, f, key, a.ID, "expiring")
	}
	if got := f.count("/token refresh_token"); got != 3 || f.reused != 0 {
		t.Errorf("refreshes %d, reused refresh tokens %d, want 3 and 0", got, f.reused)
	}
	page := ts.signedIn(store.RoleViewer).get("/accounts/" + a.ID)
	if !strings.Contains(page.body, "Refresh token expires") || !strings.Contains(page.body, "only a reconnect") {
		t.Errorf("account page does not say when the refresh token dies")
	}
	assertNoExpiryAlert(t, ts, a.ID)
	ts.clock.Add(15897600*time.Second - 24*time.Hour - 6*24*time.Hour) // 6 days before the last one dies
	if n, err := ts.store.OpenRefreshTokenExpiryAlerts(context.Background()); err != nil || n != 1 {
		t.Fatalf("open expiry alerts: got %d, %v, want 1", n, err)
	}
	alerts, _ := ts.store.ListAlerts(context.Background(), a.ID, true, 10)
	if len(alerts) != 1 || alerts[0].Kind != store.AlertRefreshTokenExpiring || !strings.Contains(alerts[0].Reason, "only a reconnect") {
		t.Errorf("alerts: got %+v, want one refresh_token_expiring saying only a reconnect extends it", alerts)
	}
	if n, _ := ts.store.OpenRefreshTokenExpiryAlerts(context.Background()); n != 0 {
		t.Errorf("second sweep opened %d, want 0 (already open)", n)
	}
}

func assertNoExpiryAlert(t *testing.T, ts *testServer, id string) {
	t.Helper()
	if n, err := ts.store.OpenRefreshTokenExpiryAlerts(context.Background()); err != nil || n != 0 {
		t.Errorf("months before the refresh token dies: opened %d alerts (%v), want 0", n, err)
	}
	if alerts, _ := ts.store.ListAlerts(context.Background(), id, true, 10); len(alerts) != 0 {
		t.Errorf("alerts: got %+v, want none yet", alerts)
	}
}

func sameSecond(s string, want time.Time) bool {
	got, err := time.Parse(time.RFC3339, s)
	return err == nil && got.Sub(want).Abs() <= time.Second
}
