package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"airlock/store"
)

// TestIntegrationSecretSealedAndNeverShown stores secrets through the form
// and the API, then looks for them in every page and answer, as every role,
// and in the raw SQLite files.
func TestIntegrationSecretSealedAndNeverShown(t *testing.T) {
	ts := newTestServer(t)
	const formSecret, apiSecret = "form-secret-Q1w2E3r4", "api-secret-Z9x8C7v6"
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/integrations/new")
	if r := admin.post("/integrations", integrationForm(fullIntegration("acme"), formSecret)); r.status != http.StatusSeeOther {
		t.Fatalf("create through the form: got %d", r.status)
	}
	builderKey := ts.apiKey(store.RoleBuilder)
	if r := ts.api("POST", "/api/v1/integrations", builderKey, integrationJSON(t, machineIntegration("billing"), apiSecret)); r.status != 201 {
		t.Fatalf("create through the API: got %d %s", r.status, r.body)
	}
	var seen []string
	look := func(what string, r response) {
		t.Helper()
		seen = append(seen, what)
		for _, s := range []string{formSecret, apiSecret} {
			if strings.Contains(r.body, s) || strings.Contains(r.body, url.QueryEscape(s)) {
				t.Errorf("%s (%d) contains a client secret", what, r.status)
			}
		}
	}
	for _, role := range []string{store.RoleViewer, store.RoleBuilder, store.RoleAdmin} {
		c := ts.signedIn(role)
		for _, key := range []string{"acme", "billing"} {
			for _, p := range []string{"/integrations", "/integrations/" + key, "/integrations/" + key + "/edit",
				"/integrations/" + key + "/export", "/integrations/" + key + "/delete", "/integrations?q=" + key} {
				look(role+" GET "+p, c.get(p))
			}
			c.get("/integrations/new")
			bad := integrationForm(fullIntegration(key), formSecret)
			bad.Set("name", "")
			look(role+" failed update of "+key, c.post("/integrations/"+key, bad))
			look(role+" failed htmx update of "+key, c.post("/integrations/"+key, bad, "HX-Request", "true"))
			look(role+" preview", c.post("/integrations/preview", bad, "HX-Request", "true"))
			look(role+" row button", c.post("/integrations/form", url.Values{"op": {"add-parameter"}, "oauth2.client_secret": {formSecret}}, "HX-Request", "true"))
		}
		key := ts.apiKey(role)
		look(role+" API list", ts.api("GET", "/api/v1/integrations", key, ""))
		look(role+" API get", ts.api("GET", "/api/v1/integrations/acme", key, ""))
		look(role+" API put", ts.api("PUT", "/api/v1/integrations/billing", key, integrationJSON(t, machineIntegration("billing"), "")))
	}
	builder := ts.signedIn(store.RoleBuilder)
	if got := builder.get("/integrations/acme").body; !strings.Contains(got, "set, ends in …E3r4") {
		t.Error("builder's detail page: want \"set, ends in …E3r4\"")
	}
	if got := builder.get("/integrations/acme/edit").body; !strings.Contains(got, "Set, ends in …E3r4 — leave blank to keep it.") {
		t.Error("builder's edit page: want the secret's help \"Set, ends in …E3r4 — leave blank to keep it.\"")
	}
	viewer := ts.signedIn(store.RoleViewer)
	if got := viewer.get("/integrations/acme").body; strings.Contains(got, "E3r4") || !strings.Contains(got, "<dd>set</dd>") {
		t.Error("viewer's detail page: want the secret only as \"set\", without its last characters")
	}
	if len(seen) < 60 {
		t.Fatalf("looked at %d answers, want every page for every role", len(seen))
	}
	ts.store.Close()
	raw := readDBFiles(t, ts.store.Path())
	for _, s := range []string{formSecret, apiSecret} {
		if strings.Contains(raw, s) {
			t.Errorf("the SQLite files contain the client secret %q in clear", s)
		}
	}
	if !strings.Contains(raw, "client-{region}") {
		t.Error("the SQLite files do not contain the integration at all: the search is looking in the wrong place")
	}
}

// TestIntegrationRoles: a viewer sees integrations but can change nothing;
// a builder can edit.
func TestIntegrationRoles(t *testing.T) {
	ts := newTestServer(t)
	ts.createIntegration(fullIntegration("acme"), "secret-1234")
	viewer, builder := ts.signedIn(store.RoleViewer), ts.signedIn(store.RoleBuilder)
	for _, tc := range []struct {
		c          *client
		role, path string
		status     int
		want, not  []string
	}{
		{viewer, "viewer", "/integrations", 200, []string{"Acme CRM acme"}, []string{"/integrations/new", "/integrations/import"}},
		{viewer, "viewer", "/integrations/acme", 200, []string{"export", "Redirect URI"}, []string{"/integrations/acme/edit", "/integrations/acme/delete"}},
		{viewer, "viewer", "/integrations/acme/export", 200, []string{`"key": "acme"`}, nil},
		{viewer, "viewer", "/integrations/acme/edit", 403, nil, nil},
		{viewer, "viewer", "/integrations/new", 403, nil, nil},
		{viewer, "viewer", "/integrations/acme/delete", 403, nil, nil},
		{builder, "builder", "/integrations", 200, []string{"/integrations/new", "/integrations/import"}, nil},
		{builder, "builder", "/integrations/acme", 200, []string{"/integrations/acme/edit", "/integrations/acme/delete"}, nil},
	} {
		r := tc.c.get(tc.path)
		if r.status != tc.status {
			t.Errorf("%s GET %s: got %d, want %d", tc.role, tc.path, r.status, tc.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s GET %s: lacks %q", tc.role, tc.path, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(r.body, w) {
				t.Errorf("%s GET %s: shows %q", tc.role, tc.path, w)
			}
		}
	}
	f := integrationForm(fullIntegration("acme"), "")
	f.Set("name", "Renamed by someone")
	viewer.get("/integrations")
	if r := viewer.post("/integrations/acme", f); r.status != http.StatusForbidden {
		t.Errorf("viewer update: got %d, want 403", r.status)
	}
	if r := viewer.post("/integrations/acme/delete", nil); r.status != http.StatusForbidden {
		t.Errorf("viewer delete: got %d, want 403", r.status)
	}
	f.Del("_csrf") // the viewer's post added the viewer's token
	builder.get("/integrations")
	if r := builder.post("/integrations/acme", f); r.status != http.StatusSeeOther {
		t.Fatalf("builder update: got %d, want 303", r.status)
	}
	if got := ts.getIntegration("acme").Name; got != "Renamed by someone" {
		t.Errorf("name after the builder's edit: got %q", got)
	}
}

// TestIntegrationListSearchAndPages: the empty state, 25 a page with a next
// link, and an htmx search that returns only the table.
func TestIntegrationListSearchAndPages(t *testing.T) {
	ts := newTestServer(t)
	builder, viewer := ts.signedIn(store.RoleBuilder), ts.signedIn(store.RoleViewer)
	if r := builder.get("/integrations"); !strings.Contains(r.body, "No integrations yet") || !strings.Contains(r.body, "Build your first integration") {
		t.Error("empty list for a builder: want the empty state inviting the first integration")
	}
	if r := viewer.get("/integrations"); !strings.Contains(r.body, "No integrations yet") || strings.Contains(r.body, "Build your first integration") {
		t.Error("empty list for a viewer: want the empty state without the build button")
	}
	for i := range 30 {
		ts.createIntegration(machineIntegration(fmt.Sprintf("svc%02d", i)), "secret-1234")
	}
	ts.createIntegration(fullIntegration("zebra"), "secret-1234")
	rows := func(body string) int { return strings.Count(body, `<td><code>`) }
	first := builder.get("/integrations")
	if n := rows(first.body); n != 25 || !strings.Contains(first.body, `rel="next"`) {
		t.Fatalf("first page: got %d rows, want 25 and a next link", n)
	}
	next := regexpFind(t, first.body, `href="(/integrations\?cursor=[^"]+)" rel="next"`)
	second := builder.get(strings.ReplaceAll(next, "&amp;", "&"))
	if n := rows(second.body); n != 6 || strings.Contains(second.body, `rel="next"`) || !strings.Contains(second.body, "First page") {
		t.Errorf("second page: got %d rows, want 6, no next link, a link to the first page", n)
	}
	r := builder.get("/integrations?q=ZEB", "HX-Request", "true", "HX-Target", "integrations-table")
	if strings.Contains(r.body, "<html") || !strings.Contains(r.body, `id="integrations-table"`) || rows(r.body) != 1 || !strings.Contains(r.body, "zebra") {
		t.Errorf("htmx search: got %q, want only the table with zebra", truncate(r.body, 300))
	}
	r = builder.get("/integrations?q=nothing-like-this")
	if !strings.Contains(r.body, "No integration matches") || !strings.Contains(r.body, `value="nothing-like-this"`) {
		t.Error("search without a match: want the no-match message and the query kept in the box")
	}
	if r := builder.get("/integrations?cursor=%25%25%25"); r.status != 200 || rows(r.body) != 25 {
		t.Errorf("mangled cursor: got %d with %d rows, want the first page", r.status, rows(r.body))
	}
}

// TestIntegrationDeleteSaysHowManyAccounts: the confirmation counts the
// accounts, and deleting takes them along.
func TestIntegrationDeleteSaysHowManyAccounts(t *testing.T) {
	ts := newTestServer(t)
	in := ts.createIntegration(fullIntegration("acme"), "secret-1234")
	ts.addAccounts(in, 3)
	c := ts.signedIn(store.RoleBuilder)
	r := c.get("/integrations/acme/delete")
	if !strings.Contains(r.body, "disconnects <strong>3 accounts</strong>") || !strings.Contains(r.body, "revoked at the provider first") {
		t.Errorf("confirmation: want \"disconnects 3 accounts\" and the revocation note\n%s", regexpFind(t, r.body, `(?s)(<p id="delete-summary">.*?</p>)`))
	}
	r = c.post("/integrations/acme/delete", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/integrations" {
		t.Fatalf("delete: got %d to %q, want 303 to /integrations", r.status, r.header.Get("Location"))
	}
	if got := c.get("/integrations").body; !strings.Contains(got, "Integration Acme CRM acme is deleted; 3 accounts disconnected.") {
		t.Error("no flash saying what was deleted")
	}
	if ts.integrationExists("acme") {
		t.Error("the integration is still there")
	}
	if left, _, err := ts.store.ListAccounts(context.Background(), store.AccountFilter{IntegrationID: in.ID}, 10, ""); err != nil || len(left) != 0 {
		t.Errorf("accounts after the delete: got %d (%v), want 0", len(left), err)
	}
	if r := c.post("/integrations/acme/delete", nil); r.status != http.StatusNotFound {
		t.Errorf("deleting it again: got %d, want 404", r.status)
	}
}

// TestIntegrationKeyLockedWhileAccountsUseIt: the form shows the key as
// locked and refuses a change anyway.
func TestIntegrationKeyLockedWhileAccountsUseIt(t *testing.T) {
	ts := newTestServer(t)
	ts.addAccounts(ts.createIntegration(fullIntegration("acme"), "secret-1234"), 1)
	c := ts.signedIn(store.RoleBuilder)
	edit := c.get("/integrations/acme/edit")
	if !strings.Contains(edit.body, "Used by 1 account, so it cannot change.") || !regexpMatch(`id="f-key"[^>]*readonly`, edit.body) {
		t.Error("edit page: want the key read-only with the reason")
	}
	f := formOf(t, edit.body, "integration-form")
	f.Set("key", "acmetwo")
	r := c.post("/integrations/acme", f)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "The key cannot change while 1 account use this integration") {
		t.Errorf("key change: got %d, want 422 naming the account", r.status)
	}
}

// TestIntegrationExportImport exports an integration, deletes it and imports
// the file: it comes back whole, without a secret, and says so.
func TestIntegrationExportImport(t *testing.T) {
	ts := newTestServer(t)
	ts.createIntegration(fullIntegration("acme"), "secret-1234")
	c := ts.signedIn(store.RoleBuilder)
	key := ts.apiKey(store.RoleViewer)
	r := c.get("/integrations/acme/export")
	if r.header.Get("Content-Disposition") != `attachment; filename="acme.json"` || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("export headers: got %q %q", r.header.Get("Content-Disposition"), r.header.Get("Content-Type"))
	}
	if strings.Contains(r.body, `"client_secret"`) {
		t.Error("the export has a client_secret field")
	}
	sameIntegration(t, "export vs API GET", decodeIntegration(t, r.body), decodeIntegration(t, ts.api("GET", "/api/v1/integrations/acme", key, "").body))
	exported := r.body
	if _, err := ts.store.DeleteIntegration(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, json string
		status     int
		want       string
	}{
		{"empty", "", 422, "Paste the integration"},
		{"not JSON", "key: acme", 422, "not valid JSON"},
		{"unknown field", strings.Replace(exported, `"name"`, `"colour": "red", "name"`, 1), 422, "Unknown field &#34;colour&#34;"},
		{"invalid", strings.Replace(exported, `"key": "acme"`, `"key": "ac me"`, 1), 422, "<code>key</code>: Key may contain only letters and digits"},
		{"exported file", exported, 303, ""},
		{"again", exported, 422, "already exists"},
	}
	for _, tc := range cases {
		c.get("/integrations/import")
		r := c.post("/integrations/import", url.Values{"json": {tc.json}})
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("import %s: got %d, want %d with %q\n%s", tc.name, r.status, tc.status, tc.want, truncate(r.body, 200))
		}
	}
	want := fullIntegration("acme")
	sameIntegration(t, "imported", ts.getIntegration("acme"), want)
	if detail := c.get("/integrations/acme").body; !strings.Contains(detail, "Set the client secret before connecting") {
		t.Error("detail page of an imported integration: want \"Set the client secret before connecting\"")
	}
	if r := ts.api("GET", "/api/v1/integrations/acme", key, ""); !strings.Contains(r.body, `"client_secret_set":false`) {
		t.Errorf("API after import: got %s, want client_secret_set false", r.body)
	}
	var generic map[string]any
	if err := json.Unmarshal([]byte(exported), &generic); err != nil || generic["oauth2"].(map[string]any)["client_secret_set"] != true {
		t.Errorf("export: want oauth2.client_secret_set true (%v)", err)
	}
}

func regexpFind(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s", re)
	}
	return m[1]
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
