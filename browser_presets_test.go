package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPresetAndDiscovery builds one integration from a preset (found
// through the htmx search) and one from "Fill from issuer" against a fake
// issuer, saves both, and runs the redirect-URI check on the page.
func TestBrowserPresetAndDiscovery(t *testing.T) {
	var iss *httptest.Server
	iss = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/oauth-authorization-server" && r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.URL, "authorization_endpoint": iss.URL + "/authorize",
			"token_endpoint": iss.URL + "/token", "revocation_endpoint": iss.URL + "/revoke",
			"scopes_supported": []string{"openid", "offline_access"}, "code_challenge_methods_supported": []string{"S256"},
			"authorization_response_iss_parameter_supported": true})
	}))
	t.Cleanup(iss.Close)
	rs := startServer(t, t.TempDir(), map[string]string{"AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true"})
	b := newBrowser(t)
	setupAdmin(t, b, rs)

	b.do("search the presets",
		chromedp.Navigate(rs.URL+"/integrations/new"),
		chromedp.WaitVisible(chromedp.ID("preset-chooser")),
		fill("preset-q", "line"),
		chromedp.WaitNotPresent(chromedp.ID("preset-hubspot")),
		chromedp.WaitVisible(chromedp.ID("preset-linear")),
	)
	b.shot("preset-search")
	b.do("start from the Linear preset",
		chromedp.Click(chromedp.ID("preset-linear")),
		chromedp.WaitVisible(chromedp.ID("preset-notes")),
	)
	if got := b.value("#f-oauth2-token_url"); got != "https://api.linear.app/oauth/token" {
		t.Errorf("token URL from the preset: got %q, want Linear's", got)
	}
	b.do("add the client and save",
		fill("f-oauth2-client_id", "linear-client"),
		fill("f-oauth2-client_secret", "linear-secret-1234"),
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("section-oauth2")),
		chromedp.WaitVisible(chromedp.ID("preset-notes")),
	)
	b.shot("preset-saved")
	b.do("check the redirect URI",
		chromedp.Click(chromedp.ID("redirect-check-button")),
		chromedp.WaitVisible(chromedp.CSS(`#redirect-check[data-result="reachable"]`)),
	)

	// Notion takes no scope: the preset ticks "The provider takes no scope",
	// the save goes through with an empty scope, and the page notes it.
	b.do("start from the Notion preset",
		chromedp.Navigate(rs.URL+"/integrations/new"),
		chromedp.WaitVisible(chromedp.ID("preset-chooser")),
		fill("preset-q", "notion"),
		chromedp.WaitVisible(chromedp.ID("preset-notion")),
		chromedp.Click(chromedp.ID("preset-notion")),
		chromedp.WaitVisible(chromedp.ID("preset-notes")),
		chromedp.WaitVisible(chromedp.CSS(`#f-oauth2-scope_optional:checked`)),
	)
	if got := b.value("#f-oauth2-scope"); got != "" {
		t.Errorf("scope from the Notion preset: got %q, want empty", got)
	}
	b.do("save Notion without a scope",
		fill("f-oauth2-client_id", "notion-client"),
		fill("f-oauth2-client_secret", "notion-secret-1234"),
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("section-oauth2")),
		chromedp.WaitVisible(chromedp.CSS(`#lint li[data-code="no_scope"]`)),
	)
	b.shot("preset-no-scope")

	b.do("fill from issuer",
		chromedp.Navigate(rs.URL+"/integrations/new"),
		chromedp.WaitVisible(chromedp.ID("discover-issuer")),
		fill("f-name", "Fake IdP"),
		fill("f-key", "fakeidp"),
		fill("discover-issuer", iss.URL),
		chromedp.Click(chromedp.ID("discover-fill")),
		chromedp.WaitVisible(chromedp.ID("discover-filled")),
	)
	if got := b.value("#f-oauth2-token_url"); got != iss.URL+"/token" {
		t.Errorf("token URL from discovery: got %q, want %s/token", got, iss.URL)
	}
	if got := b.value("#f-oauth2-issuer"); got != iss.URL {
		t.Errorf("issuer from discovery: got %q, want %s", got, iss.URL)
	}
	if got := b.text("#discover-filled"); !strings.Contains(got, "Token URL") {
		t.Errorf("what was filled: got %q, want it listed", got)
	}
	b.shot("discovered")
	b.do("save the discovered integration",
		fill("f-oauth2-client_id", "fake-client"),
		fill("f-oauth2-client_secret", "fake-secret-5678"),
		chromedp.Click(chromedp.CSS(`.form-actions button.primary`)),
		chromedp.WaitVisible(chromedp.ID("section-oauth2")),
	)
	if loc := b.location(); !strings.HasSuffix(loc, "/integrations/fakeidp") {
		t.Errorf("after save: at %s, want /integrations/fakeidp", loc)
	}
}
