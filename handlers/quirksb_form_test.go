package handlers

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

// TestQuirksCaptureForm: the console form's captured-values fields save
// what the JSON API returns, come back on the edit page, and show their
// errors beside the field.
func TestQuirksCaptureForm(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	page := admin.get("/integrations/new")
	if !containsAll(page.body, "Captured values and identity", `name="oauth2.capture"`, `name="oauth2.userinfo_url"`,
		`name="oauth2.identity.from"`, `name="oauth2.identity.path"`, `name="oauth2.required_scopes"`) {
		t.Fatal("the new integration form lacks the captured values and identity fields")
	}
	f := integrationForm(fullIntegration("sf"), "s3cret-value")
	f.Set("oauth2.capture", "instance_url token_response instance_url *.salesforce.com,*.force.com\nrealm_id callback realmId\n")
	f.Set("oauth2.userinfo_url", "https://{serverName}.example.com/userinfo")
	f.Set("oauth2.identity.from", "id_token")
	f.Set("oauth2.identity.path", "sub")
	f.Set("oauth2.required_scopes", "openid offline_access")
	f.Set("api_base_urls[1]", "{instance_url}/services/data/")
	if r := admin.post("/integrations", f); r.status != http.StatusSeeOther {
		t.Fatalf("create: got %d, want 303\n%s", r.status, r.body)
	}
	got := ts.getIntegration("sf")
	want := []oauthflow.Capture{{Name: "instance_url", From: "token_response", Path: "instance_url", AllowedHosts: []string{"*.salesforce.com", "*.force.com"}},
		{Name: "realm_id", From: "callback", Path: "realmId"}}
	if len(got.OAuth2.Capture) != 2 || got.OAuth2.Capture[0].Name != want[0].Name || !slices.Equal(got.OAuth2.Capture[0].AllowedHosts, want[0].AllowedHosts) ||
		got.OAuth2.Capture[1].Path != "realmId" {
		t.Errorf("got captures %+v, want %+v", got.OAuth2.Capture, want)
	}
	if got.OAuth2.Identity == nil || *got.OAuth2.Identity != (oauthflow.Identity{From: "id_token", Path: "sub"}) ||
		got.OAuth2.UserinfoURL != "https://{serverName}.example.com/userinfo" || !slices.Equal(got.OAuth2.RequiredScopes, []string{"openid", "offline_access"}) {
		t.Errorf("got identity %v userinfo %q scopes %v", got.OAuth2.Identity, got.OAuth2.UserinfoURL, got.OAuth2.RequiredScopes)
	}
	edit := admin.get("/integrations/sf/edit")
	if !containsAll(edit.body, "instance_url token_response instance_url *.salesforce.com,*.force.com", "realm_id callback realmId", "openid offline_access") {
		t.Error("the edit page does not show the stored captures and scopes")
	}
	bad := integrationForm(fullIntegration("sf2"), "s3cret-value")
	bad.Set("oauth2.capture", "instance_url token_response instance_url\n")
	bad.Set("api_base_urls[1]", "{instance_url}/services/data/")
	r := admin.post("/integrations", bad)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="f-oauth2-capture-error"`) || !strings.Contains(r.body, "Line 1 (allowed hosts)") {
		t.Errorf("capture without allowed hosts: got %d, want 422 with the error beside the captures field", r.status)
	}
	bad.Set("oauth2.capture", "only-two words\n")
	if r := admin.post("/integrations", bad); !strings.Contains(r.body, "Line 1: write name, source and path") {
		t.Errorf("malformed capture line: got %d, want the line's error", r.status)
	}
}
