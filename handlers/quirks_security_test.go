package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// TestRefreshURLIsACredentialDestination: the refresh endpoint receives the
// refresh token and the client secret, so it follows the token URL's rules.
// A builder may not point it at another host while accounts use the
// integration; an admin must re-enter the secret to; and a token keeps
// refreshing at the endpoint recorded with it, whatever the URL says now.
func TestRefreshURLIsACredentialDestination(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "figma", ts.clock.Now, time.Hour)
	attacker := newQuirkFake(t, "figma", ts.clock.Now, time.Hour)
	builder, admin := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleAdmin)
	a := quirkAccount(t, ts, builder, quirkDoc(f, "figma", "authorization_code", map[string]any{"refresh_url": f.url("/refresh")}, nil))

	doc := ts.integrationDoc("figma")
	doc["oauth2"].(map[string]any)["refresh_url"] = attacker.url("/refresh")
	r := ts.putIntegration("figma", builder, doc)
	if code, fields := apiFields(t, r); r.status != http.StatusForbidden || code != "forbidden" || !strings.Contains(fields["oauth2.refresh_url"], "An admin must make this change") {
		t.Fatalf("builder moves the refresh URL: got %d %s, want 403 on oauth2.refresh_url", r.status, r.body)
	}
	r = ts.putIntegration("figma", admin, doc)
	if _, fields := apiFields(t, r); r.status != http.StatusUnprocessableEntity || fields["oauth2.client_secret"] == "" {
		t.Fatalf("admin moves it without the secret: got %d %s, want 422 on oauth2.client_secret", r.status, r.body)
	}
	doc["oauth2"].(map[string]any)["client_secret"] = "csecret"
	if r = ts.putIntegration("figma", admin, doc); r.status != http.StatusOK {
		t.Fatalf("admin moves it with the secret: got %d %s", r.status, r.body)
	}
	ts.clock.Add(time.Hour)
	quirkRequest(t, ts, f, builder, a.ID, "expiring")
	if got, moved := f.count("/refresh refresh_token"), attacker.count("/refresh refresh_token"); got != 1 || moved != 0 {
		t.Errorf("refreshes at the recorded endpoint %d, at the new URL %d, want 1 and 0", got, moved)
	}
	tok, err := ts.store.LoadToken(context.Background(), a.ID)
	if err != nil || tok.Endpoints.Refresh != f.url("/refresh") {
		t.Errorf("recorded refresh endpoint: got %q, %v, want %q", tok.Endpoints.Refresh, err, f.url("/refresh"))
	}
}

// TestRefreshURLHostParameterNeedsAllowedValues: like the token URL, a
// parameter in the refresh URL's host must be pinned.
func TestRefreshURLHostParameterNeedsAllowedValues(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "figma", ts.clock.Now, time.Hour)
	doc := quirkDoc(f, "figma", "authorization_code", map[string]any{"refresh_url": "https://{region}/refresh"},
		map[string]any{"parameters": []any{map[string]any{"name": "region"}}})
	r := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleBuilder), doc)
	if code, fields := apiFields(t, r); r.status != http.StatusUnprocessableEntity || code != "invalid_fields" || !strings.Contains(fields["oauth2.refresh_url"], "region") {
		t.Errorf("got %d %s, want 422 invalid_fields on oauth2.refresh_url", r.status, r.body)
	}
}

// TestRejectedRulesValidatedOnSave: a bad rule is a 422 naming its index
// and field.
func TestRejectedRulesValidatedOnSave(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "slack", ts.clock.Now, time.Hour)
	doc := quirkDoc(f, "slack", "authorization_code", nil, map[string]any{"rejected_responses": []any{
		map[string]any{"statuses": []int{200}, "body_path": "ok", "equals": "false"},
		map[string]any{"body_path": "error", "matches": "(token"}}})
	r := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleBuilder), doc)
	if code, fields := apiFields(t, r); r.status != http.StatusUnprocessableEntity || code != "invalid_fields" ||
		!strings.Contains(fields["rejected_responses[1].matches"], "regular expression") {
		t.Errorf("got %d %s, want 422 invalid_fields on rejected_responses[1].matches", r.status, r.body)
	}
}
