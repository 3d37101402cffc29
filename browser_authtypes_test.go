package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// credFake is an API taking an API token, HTTP Basic or a token from its
// own custom token endpoint.
func credFake(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			var body map[string]string
			json.NewDecoder(r.Body).Decode(&body)
			if body["key"] != "browser-key-4321" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `{"data":{"token":"ct-browser-token","ttl":3600}}`)
			return
		}
		u, p, _ := r.BasicAuth()
		ok := r.Header.Get("X-Api-Key") == "browser-token-1234" || (u == "ann" && p == "pw-secret-5678") ||
			r.Header.Get("Authorization") == "Bearer ct-browser-token"
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserAuthTypes builds an api_token, a basic and a custom_token
// integration through the builder form, adds an account to each through the
// account form with its credentials, and uses it.
func TestBrowserAuthTypes(t *testing.T) {
	api := credFake(t)
	dir := t.TempDir()
	rs := startServer(t, dir, map[string]string{"AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true"})
	b := newBrowser(t)
	acceptDialogs(b)
	setupAdmin(t, b, rs)
	key := adminKey(t, dir)
	customJSON := `{"method": "POST", "url": "` + api.URL + `/auth/token", "body": "{\"key\":\"{api_key}\"}", "body_format": "json", "response": {"token": "data.token", "expires_in": "data.ttl"}}`
	for _, tt := range []struct {
		typ, key string
		hidden   []string // sections this type does not show
		creds    map[string]string
		hint     string
	}{
		{"api_token", "tok", []string{"f-oauth2-token_url", "f-custom_token"}, map[string]string{"cred-token": "browser-token-1234"}, "set, ends in …1234"},
		{"basic", "bas", []string{"f-oauth2-token_url", "f-token-name"}, map[string]string{"cred-username": "ann", "cred-password": "pw-secret-5678"}, "set, ends in …5678"},
		{"custom_token", "cus", []string{"f-oauth2-token_url"}, map[string]string{"cred-api_key": "browser-key-4321"}, "set, ends in …4321"},
	} {
		b.do(tt.typ+": open the form and choose the type",
			chromedp.Navigate(rs.URL+"/integrations/new"),
			chromedp.WaitVisible(chromedp.ID("f-auth_type")),
			chromedp.SetValue(chromedp.ID("f-auth_type"), tt.typ),
			fill("f-name", "Type "+tt.typ),
			fill("f-key", tt.key),
			chromedp.Click(chromedp.ID("add-base-url")),
			chromedp.WaitVisible(chromedp.ID("f-api_base_urls-0")),
			fill("f-api_base_urls-0", api.URL+"/"),
		)
		for _, id := range tt.hidden {
			if vis := runB(b, "visible "+id, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && e.offsetParent !== null })()`, id))); vis {
				t.Errorf("%s: %s is shown, want only the type's sections", tt.typ, id)
			}
		}
		if tt.typ == "api_token" {
			b.do("token placement", chromedp.SetValue(chromedp.ID("f-token-name"), "X-Api-Key"), chromedp.SetValue(chromedp.ID("f-token-template"), "{token}"))
		}
		if tt.typ == "custom_token" {
			b.do("custom token fields",
				fill("f-credential_fields", "api_key | API key | secret"),
				chromedp.SetValue(chromedp.ID("f-custom_token"), customJSON),
			)
		}
		topShot(b, tt.typ+"-form")
		b.do(tt.typ+": create", chromedp.Click(chromedp.CSS(`.form-actions button.primary`)))
		for i := 0; i < 50 && !strings.HasSuffix(b.location(), "/integrations/"+tt.key); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.HasSuffix(b.location(), "/integrations/"+tt.key) {
			topShot(b, tt.typ+"-refused")
			t.Fatalf("%s: the form was refused: %s", tt.typ, b.text("main"))
		}
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(rs.URL + "/integrations/" + tt.key + "/accounts/new"),
			chromedp.WaitVisible(chromedp.ID("account-name")), fill("account-name", "prod")}
		for id, v := range tt.creds {
			steps = append(steps, fill(id, v))
		}
		b.do(tt.typ+": add an account", steps...)
		if typ := runB(b, "secret input", chromedp.Evaluate[string](`[...document.querySelectorAll("input[name^='credentials.']")].map(i => i.name + "=" + i.type).join(",")`)); !strings.Contains(typ, "=password") {
			t.Errorf("%s: credential inputs %s, want the secret one a password input", tt.typ, typ)
		}
		b.do(tt.typ+": save the account",
			chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
			chromedp.WaitVisible(chromedp.ID("account-credentials")),
		)
		if got := b.text("#account-credentials"); !strings.Contains(got, tt.hint) {
			t.Errorf("%s: credentials shown as %q, want %q", tt.typ, got, tt.hint)
		}
		if got := b.text("#status-title"); !strings.Contains(got, "connected") {
			t.Errorf("%s: status %q, want connected", tt.typ, got)
		}
		topShot(b, tt.typ+"-account")
		id := strings.TrimPrefix(b.location(), rs.URL+"/accounts/")
		status, out := apiCall(t, "POST", rs.URL+"/api/v1/accounts/"+id+"/request", key, map[string]any{"url": api.URL + "/me"})
		if status != 200 || out["status"] != float64(200) {
			t.Errorf("%s: request through the account: %d %v", tt.typ, status, out)
		}
	}
}
