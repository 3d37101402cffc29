package handlers

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestSalesforceLike: no expires_in; the API host is the instance_url of the
// token answer, which the API base URL uses as its whole origin. A token
// the provider expires early is refreshed on the API's 401, and the
// refresh answer's instance_url updates the captured value.
func TestSalesforceLike(t *testing.T) {
	ts := newTestServer(t)
	login := newQuirkFakeB(t, ts.clock.Now, "")
	instance := newQuirkFakeB(t, ts.clock.Now, "")
	instance.access = nil
	login.noExpiresIn = true
	login.tokenExtra = func() map[string]any {
		return map[string]any{"instance_url": instance.URL(), "id": "https://login.example/id/00Dxx/005xx" + login.user}
	}
	instance.check = login.valid
	def := quirkDef("sf", login, map[string]any{
		"capture":  []map[string]any{{"name": "instance_url", "from": "token_response", "path": "instance_url", "allowed_hosts": []string{"127.0.0.1", "*.salesforce.com"}}},
		"identity": map[string]any{"from": "token_response", "path": "id"},
	}, map[string]any{"api_base_urls": []string{"{instance_url}/services/data/"}})
	id, key := ts.quirkAccount(t, def)
	c := ts.signedIn("builder")
	if r := quirkConnect(t, c, id); r.status != http.StatusSeeOther {
		t.Fatalf("callback: got %d, want 303\n%s", r.status, r.body)
	}
	a := ts.accountOf(t, id, key)
	if a.Status != "connected" || a.Captured["instance_url"] != instance.URL() {
		t.Fatalf("got status %s captured %v, want connected with instance_url %s", a.Status, a.Captured, instance.URL())
	}
	if a.Identity == nil || *a.Identity != "https://login.example/id/00Dxx/005xxuser-1" {
		t.Errorf("got identity %v, want the id of user-1", a.Identity)
	}
	if !hasWarning(a, "unknown_expiry") {
		t.Errorf("got warnings %v, want unknown_expiry (no expires_in)", a.Warnings)
	}
	out := ts.send(t, id, key, "{instance_url}/services/data/v59.0/sobjects")
	if out.Status != 200 || out.Refreshed {
		t.Fatalf("first request: got %d refreshed=%v, want 200 without refresh\n%s", out.Status, out.Refreshed, out.Body)
	}
	login.expireAll()
	out = ts.send(t, id, key, instance.URL()+"/services/data/v59.0/query")
	if out.Status != 200 || !out.Refreshed || out.RefreshReason != "rejected" {
		t.Fatalf("after expiry: got %d refreshed=%v reason=%q, want 200 after a refresh on rejection", out.Status, out.Refreshed, out.RefreshReason)
	}
	if _, refreshes, _, _ := login.counts(); refreshes != 1 {
		t.Errorf("got %d refreshes, want 1", refreshes)
	}
	_, _, apiCalls, _ := instance.counts()
	if apiCalls != 3 {
		t.Errorf("got %d calls at the instance, want 3 (ok, 401, retry)", apiCalls)
	}
	page := c.get("/accounts/" + id)
	if !containsAll(page.body, "instance_url", instance.URL()) {
		t.Errorf("the account page does not show the captured instance_url")
	}
	salesforceRefreshCaptures(t, ts, login, instance, id, key)
}

// salesforceRefreshCaptures: a refresh answer's instance_url outside the
// allowed hosts is not stored (the token is); one inside replaces it.
func salesforceRefreshCaptures(t *testing.T, ts *testServer, login, instance *quirkFakeB, id, key string) {
	moved := newQuirkFakeB(t, ts.clock.Now, "")
	moved.check = login.valid
	login.tokenExtra = func() map[string]any { return map[string]any{"instance_url": "https://evil.test"} }
	login.expireAll()
	if out := ts.send(t, id, key, "{instance_url}/services/data/v59.0/limits"); out.Status != 200 || !out.Refreshed {
		t.Fatalf("refresh with a refused instance_url: got %d refreshed=%v, want 200 after a refresh", out.Status, out.Refreshed)
	}
	if got := ts.accountOf(t, id, key).Captured["instance_url"]; got != instance.URL() {
		t.Errorf("got instance_url %s after a refused value, want %s kept", got, instance.URL())
	}
	login.tokenExtra = func() map[string]any { return map[string]any{"instance_url": moved.URL()} }
	login.expireAll()
	ts.send(t, id, key, "{instance_url}/services/data/v59.0/limits") // refreshed at the old instance, which now has moved
	if got := ts.accountOf(t, id, key).Captured["instance_url"]; got != moved.URL() {
		t.Fatalf("got instance_url %s, want the refresh answer's %s", got, moved.URL())
	}
	if out := ts.send(t, id, key, "{instance_url}/services/data/v59.0/limits"); out.Status != 200 {
		t.Errorf("request at the new instance: got %d, want 200", out.Status)
	}
	if _, _, calls, _ := moved.counts(); calls != 1 {
		t.Errorf("got %d calls at the new instance, want 1", calls)
	}
}

// TestZohoLike: the region's accounts-server arrives on the callback, and
// the token endpoint (and revocation) live there; the token expires and is
// refreshed at the recorded endpoint.
func TestZohoLike(t *testing.T) {
	ts := newTestServer(t)
	region := newQuirkFakeB(t, ts.clock.Now, "")
	region.callbackExtra = func() url.Values { return url.Values{"accounts-server": {region.URL()}, "location": {"eu"}} }
	def := quirkDef("zoho", region, map[string]any{
		"authorization_url": region.URL() + "/authorize",
		"token_url":         "{accounts_server}/token",
		"revoke_url":        "{accounts_server}/revoke",
		"capture": []map[string]any{
			{"name": "accounts_server", "from": "callback", "path": "accounts-server", "allowed_hosts": []string{"127.0.0.1", "*.zoho.eu", "*.zoho.com"}},
			{"name": "location", "from": "callback", "path": "location"},
		},
	}, map[string]any{"api_base_urls": []string{region.URL() + "/crm/v2/"}})
	id, key := ts.quirkAccount(t, def)
	c := ts.signedIn("builder")
	if r := quirkConnect(t, c, id); r.status != http.StatusSeeOther {
		t.Fatalf("callback: got %d, want 303\n%s", r.status, r.body)
	}
	a := ts.accountOf(t, id, key)
	if a.Captured["accounts_server"] != region.URL() || a.Captured["location"] != "eu" {
		t.Fatalf("got captured %v, want the accounts server and location", a.Captured)
	}
	if out := ts.send(t, id, key, region.URL()+"/crm/v2/Leads"); out.Status != 200 {
		t.Fatalf("request: got %d, want 200", out.Status)
	}
	ts.clock.Add(2 * time.Hour)
	out := ts.send(t, id, key, region.URL()+"/crm/v2/Leads")
	if out.Status != 200 || !out.Refreshed || out.RefreshReason != "expiring" {
		t.Fatalf("after expiry: got %d refreshed=%v reason=%q, want a refresh before the request", out.Status, out.Refreshed, out.RefreshReason)
	}
	if tokens, refreshes, _, _ := region.counts(); tokens != 2 || refreshes != 1 {
		t.Errorf("got %d token calls (%d refreshes), want 2 (1) at the accounts server", tokens, refreshes)
	}
}

// TestQuickBooksLike: realmId arrives on the callback and is part of every
// API path; refresh tokens rotate, and each rotated one is used next.
func TestQuickBooksLike(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFakeB(t, ts.clock.Now, "")
	f.rotate = true
	f.callbackExtra = func() url.Values { return url.Values{"realmId": {"9130"}} }
	def := quirkDef("qbo", f, map[string]any{
		"capture": []map[string]any{{"name": "realm_id", "from": "callback", "path": "realmId"}},
	}, map[string]any{"api_base_urls": []string{f.URL() + "/v3/company/{realm_id}/"}})
	id, key := ts.quirkAccount(t, def)
	c := ts.signedIn("builder")
	if r := quirkConnect(t, c, id); r.status != http.StatusSeeOther {
		t.Fatalf("callback: got %d, want 303\n%s", r.status, r.body)
	}
	for round := 0; round < 3; round++ {
		out := ts.send(t, id, key, f.URL()+"/v3/company/{realm_id}/companyinfo/{realm_id}")
		if out.Status != 200 || out.Refreshed != (round > 0) {
			t.Fatalf("round %d: got %d refreshed=%v, want 200 (refreshed after the first)\n%s", round, out.Status, out.Refreshed, out.Body)
		}
		ts.clock.Add(2 * time.Hour)
	}
	if _, refreshes, _, _ := f.counts(); refreshes != 2 {
		t.Errorf("got %d refreshes, want 2 (each with the rotated refresh token)", refreshes)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.apiPaths {
		if p != "/v3/company/9130/companyinfo/9130" {
			t.Errorf("got API path %s, want /v3/company/9130/companyinfo/9130", p)
		}
	}
	n := len(f.apiPaths)
	f.mu.Unlock()
	out := ts.api("POST", "/api/v1/accounts/"+id+"/request", key, `{"method":"GET","url":"`+f.URL()+`/v3/company/1111/x"}`)
	f.mu.Lock()
	if out.status != http.StatusUnprocessableEntity || len(f.apiPaths) != n {
		t.Errorf("a request for another realm: got %d %s (%d calls sent), want 422 and nothing sent", out.status, out.body, len(f.apiPaths)-n)
	}
}
