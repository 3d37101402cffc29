package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/store"
)

// TestFreshBuilderFormListsNoProblems: a new builder form opens without a
// list of problems; the live preview names a field only once what was typed
// there is wrong; a submit lists everything still missing.
func TestFreshBuilderFormListsNoProblems(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	page := c.get("/integrations/new")
	if page.status != http.StatusOK || strings.Contains(page.body, "is required") || strings.Contains(page.body, "to fix before saving") {
		t.Errorf("fresh form: got %d with problems listed before anything was typed", page.status)
	}
	preview := func(form url.Values) string {
		return c.post("/integrations/preview", form, "HX-Request", "true").body
	}
	if b := preview(url.Values{"name": {"Acme"}, "oauth2.grant_type": {"authorization_code"}}); strings.Contains(b, "is required") {
		t.Errorf("preview after typing a name lists required fields not yet reached:\n%s", b)
	}
	if b := preview(url.Values{"name": {"Acme"}, "oauth2.grant_type": {"authorization_code"}, "oauth2.token_url": {"not a url"}}); !strings.Contains(b, "f-oauth2-token_url") {
		t.Errorf("preview: a malformed token URL is not named:\n%s", b)
	}
	// A field the person was in and left blank is named.
	if b := preview(url.Values{"name": {"Acme"}, "oauth2.grant_type": {"authorization_code"}, "_touched": {"name,oauth2.scope"}}); !strings.Contains(b, "Scope is required") || strings.Contains(b, "Client ID is required") {
		t.Errorf("preview after leaving the scope blank: want scope named, and only it:\n%s", b)
	}
	r := c.post("/integrations", url.Values{"name": {""}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "is required") {
		t.Errorf("empty submit: got %d, want 422 listing what is required", r.status)
	}
}
