package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"airlock/oauthflow/fakeprovider"
)

// apiCall sends a JSON request to the running server with an API key.
func apiCall(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// adminKey creates an admin API key on the server's data dir.
func adminKey(t *testing.T, dataDir string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "test"}, envMap(map[string]string{"AIRLOCK_DATA_DIR": dataDir}), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// acceptDialogs accepts every confirm() the page opens (hx-confirm, data-confirm).
func acceptDialogs(b *browser) {
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
}

// TestBrowserConnectRefreshRequestDisconnect connects an account through the
// fake provider's consent page, sees it connected with its expiry, refreshes
// it, sends a test request (the API rejects the first try, so the token is
// refreshed and the note shows), and disconnects it (the provider records the
// revocation).
func TestBrowserConnectRefreshRequestDisconnect(t *testing.T) {
	p := fakeprovider.New(fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	defer p.Close()
	dir := t.TempDir()
	rs := startServer(t, dir, map[string]string{"AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true"})
	b := newBrowser(t)
	acceptDialogs(b)
	setupAdmin(t, b, rs)
	key := adminKey(t, dir)

	status, in := apiCall(t, "POST", rs.URL+"/api/v1/integrations", key, map[string]any{
		"key": "fake", "name": "Fake CRM",
		"oauth2": map[string]any{"grant_type": "authorization_code", "authorization_url": p.AuthorizeURL(), "token_url": p.TokenURL(),
			"revoke_url": p.RevokeURL(), "scope": "read", "client_id": fakeprovider.DefaultClientID, "client_secret": fakeprovider.DefaultClientSecret,
			"client_auth": "basic", "pkce": true},
		"token":         map[string]any{"name": "Authorization", "template": "Bearer {token}", "in": "header"},
		"api_base_urls": []string{p.APIURL()},
	})
	if status != 201 {
		t.Fatalf("create integration: %d %v", status, in)
	}
	status, acct := apiCall(t, "POST", rs.URL+"/api/v1/integrations/fake/accounts", key, map[string]any{"name": "prod"})
	if status != 201 {
		t.Fatalf("create account: %d %v", status, acct)
	}
	id := acct["id"].(string)

	b.do("connect through the consent page",
		chromedp.Navigate(rs.URL+"/accounts/"+id),
		chromedp.WaitVisible(chromedp.ID("connect")),
		chromedp.Click(chromedp.ID("connect")),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
	b.shot("consent")
	b.do("approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("refresh")))
	if loc := b.location(); loc != rs.URL+"/accounts/"+id {
		t.Errorf("after the callback: %s, want the account page without code or state", loc)
	}
	if got := b.text("#status-title"); !strings.Contains(got, "connected") {
		t.Errorf("status: %q", got)
	}
	if got := b.text("#token-expires"); !strings.HasPrefix(got, "in 59 min") && !strings.HasPrefix(got, "in 60 min") {
		t.Errorf("expiry: got %q, want in about an hour", got)
	}
	b.shot("connected")

	before := p.RefreshCalls()
	b.do("refresh now", chromedp.Click(chromedp.ID("refresh")), chromedp.Sleep(300*time.Millisecond), chromedp.WaitVisible(chromedp.ID("refresh")))
	if p.RefreshCalls() != before+1 {
		t.Errorf("refresh calls: got %d, want %d", p.RefreshCalls(), before+1)
	}
	if got := b.text("#last-refreshed"); got != "just now" {
		t.Errorf("last refreshed: %q", got)
	}

	p.FailNextAPI(401, 1)
	b.do("send a test request",
		chromedp.SetValue(chromedp.ID("req-url"), p.APIURL()+"me"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("response-status")),
	)
	if got := b.text("#response-status"); got != "200 OK" {
		t.Errorf("response status: %q", got)
	}
	if got := b.text("#refresh-note"); !strings.Contains(got, "401 from the API, refreshed and retried") {
		t.Errorf("refresh note: %q", got)
	}
	if got := b.text("#response-body"); !strings.Contains(got, `"ok": true`) {
		t.Errorf("response body: %q", got)
	}
	b.shot("request")

	b.do("disconnect", chromedp.Click(chromedp.ID("disconnect")), chromedp.WaitVisible(chromedp.ID("connect")), chromedp.Sleep(200*time.Millisecond))
	if got := b.text("#status-title"); !strings.Contains(got, "disconnected") {
		t.Errorf("status after disconnect: %q", got)
	}
	if revs := p.Revocations(); len(revs) == 0 {
		t.Error("the provider recorded no revocation")
	}
	b.shot("disconnected")
	_ = context.Background
}
