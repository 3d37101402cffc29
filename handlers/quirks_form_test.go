package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// TestQuirksFormRoundTrip: the console form carries every part A quirk; the
// section is closed while empty, open when set, and a bad rule is named
// beside its field.
func TestQuirksFormRoundTrip(t *testing.T) {
	ts := newTestServer(t)
	f := newQuirkFake(t, "slack", ts.clock.Now, time.Hour)
	c := ts.signedIn(store.RoleBuilder)
	page := c.get("/integrations/new")
	if !strings.Contains(page.body, `id="provider-quirks"`) || strings.Contains(page.body, `id="provider-quirks" open`) {
		t.Fatalf("new form: the quirks section should be there and closed")
	}
	doc := quirkDoc(f, "slack", "authorization_code", map[string]any{"token_body": "json", "refresh_url": f.url("/refresh"),
		"refresh_params": map[string]string{"a": "b"},
		"token_response": map[string]any{"access_token": "authed_user.access_token", "expires_at": "x.exp", "expires_at_format": "unix_ms"}},
		map[string]any{"rejected_responses": []any{map[string]any{"statuses": []int{200}, "body_path": "ok", "equals": "false"}}})
	if r := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleBuilder), doc); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	before := ts.getIntegration("slack")
	edit := c.get("/integrations/slack/edit")
	if !strings.Contains(edit.body, "open") || !strings.Contains(edit.body, "authed_user.access_token") {
		t.Fatalf("edit form: the section should be open and filled")
	}
	form := formOf(t, edit.body, "integration-form")
	form.Set("oauth2.client_secret", "csecret")
	if r := c.post("/integrations/slack", form); r.status != http.StatusSeeOther {
		t.Fatalf("save unchanged: got %d %s", r.status, r.body)
	}
	after := ts.getIntegration("slack")
	sameIntegration(t, "after a console save", after, before)

	form.Set("rejected_responses", `[{"statuses": [200], "body_path": "ok", "matches": "(["}]`)
	r := c.post("/integrations/slack", form)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Token rejected rule 1 matches") || !strings.Contains(r.body, "regular expression") {
		t.Errorf("bad rule: got %d, want 422 naming rule 1's matches", r.status)
	}
	export := c.get("/integrations/slack/export")
	for _, want := range []string{`"token_body": "json"`, `"refresh_url"`, `"refresh_params"`, `"token_response"`, `"rejected_responses"`} {
		if !strings.Contains(export.body, want) {
			t.Errorf("export lacks %s", want)
		}
	}
}
