package handlers

import (
	"encoding/json"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// TestRequestAPIReportsAFailedRefreshAfterRejection: when the API rejects the
// token and the refresh Airlock then tries fails (the provider revoked the
// grant), the answer says a refresh was tried, why, how it failed and that
// the account now needs a reconnect.
func TestRequestAPIReportsAFailedRefreshAfterRejection(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
	key := ts.apiKey(store.RoleBuilder)
	p.RevokeAll()
	p.FailNextAPI(401, 1)
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`)
	if r.status != 200 {
		t.Fatalf("request: got %d %s, want 200 carrying the upstream's 401", r.status, r.body)
	}
	var out struct {
		Status        int    `json:"status"`
		Refreshed     bool   `json:"refreshed"`
		RefreshReason string `json:"refresh_reason"`
		RefreshError  *struct {
			Code          string `json:"code"`
			Message       string `json:"message"`
			AccountStatus string `json:"account_status"`
		} `json:"refresh_error"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != 401 || out.Refreshed || out.RefreshReason != "rejected" {
		t.Errorf("got status %d refreshed %v reason %q, want 401, false, rejected", out.Status, out.Refreshed, out.RefreshReason)
	}
	if out.RefreshError == nil || out.RefreshError.Code != "needs_reconnect" || out.RefreshError.AccountStatus != "needs_reconnect" || out.RefreshError.Message == "" {
		t.Errorf("refresh_error: got %+v, want code and account_status needs_reconnect with a message", out.RefreshError)
	}
	// A request that needed no refresh carries no refresh_error at all.
	ok := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/request", key, `{"url": "`+p.APIURL()+`me"}`)
	if ok.status == 200 && json.Valid([]byte(ok.body)) {
		var m map[string]any
		json.Unmarshal([]byte(ok.body), &m)
		if _, has := m["refresh_error"]; has {
			t.Errorf("a later answer carries refresh_error: %s", ok.body)
		}
	}
}
