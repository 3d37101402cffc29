package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// auditBody is GET /api/v1/audit's answer.
type auditBody struct {
	Items []struct {
		ID    int64     `json:"id"`
		At    time.Time `json:"at"`
		Actor struct {
			Kind, ID, Name string
		} `json:"actor"`
		Address    string          `json:"address"`
		ObjectType string          `json:"object_type"`
		ObjectID   string          `json:"object_id"`
		Action     string          `json:"action"`
		Details    json.RawMessage `json:"details"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (ts *testServer) auditAPI(t *testing.T, key, query string) auditBody {
	t.Helper()
	r := ts.api("GET", "/api/v1/audit?"+query, key, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/audit?%s: got %d, want 200\n%s", query, r.status, r.body)
	}
	var b auditBody
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return b
}

// storedAudit is every audit row as the database holds it, for grepping.
func storedAudit(t *testing.T, ts *testServer) string {
	t.Helper()
	rows, _, err := ts.store.ListAudit(context.Background(), store.AuditFilter{}, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

// TestAuditThroughTheConsoleAndAPI: changes made in the console and through
// the API are recorded with who made them and from where, secrets only as
// "changed", and the API's filters find them.
func TestAuditThroughTheConsoleAndAPI(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	adminKey, builderKey := ts.apiKey(store.RoleAdmin), ts.apiKey(store.RoleBuilder)
	const clientSecret, hookToken = "api-client-secret-XYZ98765", "hook-token-QRS54321"

	if r := admin.post("/users", url.Values{"email": {"new@example.com"}, "role": {"builder"}}); r.status >= 400 {
		t.Fatalf("create user: got %d\n%s", r.status, truncate(r.body, 500))
	}
	if r := ts.api("POST", "/api/v1/integrations", builderKey, integrationJSON(t, machineIntegration("billing"), clientSecret)); r.status != http.StatusCreated {
		t.Fatalf("create integration: got %d\n%s", r.status, r.body)
	}
	admin.get("/settings")
	if r := admin.post("/settings/webhook", url.Values{"url": {"https://hooks.example.com/in?token=" + hookToken}}); r.status != http.StatusSeeOther {
		t.Fatalf("save webhook: got %d\n%s", r.status, truncate(r.body, 500))
	}

	cases := []struct {
		name, query, action, actorKind, actorName, detail string
	}{
		{"user made in the console", "object_type=user&object_id=2&actor=admin-", store.ActionUserCreate, "user", "admin-", `"email":"new@example.com"`},
		{"integration made with a key", "object_type=integration&object_id=billing", store.ActionIntegrationCreate, "api_key", "test builder", `"oauth2.client_secret":"changed"`},
		{"webhook URL", "object_type=setting&object_id=webhook_url", store.ActionSettingChange, "user", "admin-", `"webhook_url":"changed"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := ts.auditAPI(t, adminKey, c.query)
			if len(b.Items) != 1 {
				t.Fatalf("got %d rows, want 1: %+v", len(b.Items), b.Items)
			}
			e := b.Items[0]
			if e.Action != c.action || e.Actor.Kind != c.actorKind || !strings.HasPrefix(e.Actor.Name, c.actorName) {
				t.Errorf("got %s by %s %q, want %s by %s %q…", e.Action, e.Actor.Kind, e.Actor.Name, c.action, c.actorKind, c.actorName)
			}
			if e.Address != "127.0.0.1" {
				t.Errorf("address: got %q, want 127.0.0.1", e.Address)
			}
			if !strings.Contains(string(e.Details), c.detail) {
				t.Errorf("details: got %s, want %s in them", e.Details, c.detail)
			}
		})
	}
	all := storedAudit(t, ts)
	for _, secret := range []string{clientSecret, hookToken, "hooks.example.com"} {
		if strings.Contains(all, secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
	if b := ts.auditAPI(t, adminKey, "since=2000-01-01&until="+time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)); len(b.Items) != 0 {
		t.Errorf("until yesterday: got %d rows, want 0", len(b.Items))
	}
	if b := ts.auditAPI(t, adminKey, "since="+time.Now().UTC().Format(time.DateOnly)+"&limit=1"); len(b.Items) != 1 || b.NextCursor == "" {
		t.Errorf("today, one a page: got %d rows and cursor %q, want 1 and a cursor", len(b.Items), b.NextCursor)
	}
}

// TestAuditAPIRefusesBadFilters names the parameter and the fix.
func TestAuditAPIRefusesBadFilters(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleAdmin)
	for _, q := range []string{"since=yesterday", "until=2026-13-01", "since=2026-02-02&until=2026-02-01", "cursor=zzz", "limit=0"} {
		r := ts.api("GET", "/api/v1/audit?"+q, key, "")
		e, ok := apiErrorOf(r.body)
		if r.status != http.StatusUnprocessableEntity || !ok || e.Code != "invalid_fields" || len(e.Fields) == 0 {
			t.Errorf("%s: got %d %s, want 422 invalid_fields naming the field", q, r.status, r.body)
		}
	}
}

// TestAuditIsForAdmins: builders and viewers get 403 from the page and the
// API; an admin sees the page, with its filters, in the navigation.
func TestAuditIsForAdmins(t *testing.T) {
	ts := newTestServer(t)
	for _, role := range []string{store.RoleBuilder, store.RoleViewer} {
		if r := ts.signedIn(role).get("/audit"); r.status != http.StatusForbidden {
			t.Errorf("%s: page got %d, want 403", role, r.status)
		}
		if r := ts.api("GET", "/api/v1/audit", ts.apiKey(role), ""); r.status != http.StatusForbidden {
			t.Errorf("%s: API got %d, want 403", role, r.status)
		}
	}
	if r := ts.api("GET", "/api/v1/audit", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no key: got %d, want 401", r.status)
	}
	r := ts.signedIn(store.RoleAdmin).get("/audit")
	if r.status != http.StatusOK {
		t.Fatalf("admin: got %d, want 200", r.status)
	}
	for _, want := range []string{`href="/audit" aria-current="page"`, `<label for="audit-actor">`, `<label for="audit-since">`,
		`<caption class="visually-hidden">Audit log, newest first</caption>`, `<th scope="col">Who</th>`, "user.sign_in"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestAuditPageFiltersAndEmptyState: the page filters like the API, says
// what appears there when nothing does, and names a bad date.
func TestAuditPageFiltersAndEmptyState(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	if r := admin.get("/audit?object_type=api_key"); !strings.Contains(r.body, "Nothing in the audit log matches these filters") {
		t.Errorf("filtered, empty: page lacks the no-match text\n%s", truncate(r.body, 3000))
	}
	admin.get("/settings")
	if r := admin.post("/settings/api-keys", url.Values{"name": {"ci"}, "role": {"viewer"}, "expires": {"never"}}); r.status >= 400 {
		t.Fatalf("create key: got %d\n%s", r.status, truncate(r.body, 800))
	}
	r := admin.get("/audit?object_type=api_key")
	if !strings.Contains(r.body, "api_key.create") || strings.Contains(r.body, "user.sign_in") {
		t.Errorf("object_type=api_key: want the key's creation and not the sign-in\n%s", truncate(r.body, 3000))
	}
	if r := admin.get("/audit?until=soon"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "until must be a date") {
		t.Errorf("bad date: got %d, want 422 naming until", r.status)
	}
	// Once everything is pruned away, the unfiltered page says what appears.
	if _, err := ts.store.PruneAudit(context.Background(), -time.Hour); err != nil {
		t.Fatal(err)
	}
	if r := admin.get("/audit"); !strings.Contains(r.body, "Nothing has been recorded yet. Changes to integrations, accounts, users, API keys and settings, and sign-ins, appear here") {
		t.Errorf("empty: page lacks the empty state\n%s", truncate(r.body, 3000))
	}
}

// TestAuditSignIns: a failed password sign-in is recorded under the email
// typed and the address, never with the password; a good one as the user's.
func TestAuditSignIns(t *testing.T) {
	ts := newTestServer(t)
	u := ts.addUser("ann@example.com", store.RoleAdmin)
	c := ts.newClient()
	c.get("/signin")
	const wrong = "wrong-password-MNO24680"
	if r := c.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {wrong}}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d, want 401", r.status)
	}
	if r := c.post("/signin", url.Values{"email": {"ann@example.com"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("right password: got %d, want 303", r.status)
	}
	b := ts.auditAPI(t, ts.apiKey(store.RoleAdmin), "object_type=user")
	var got []string
	for _, e := range b.Items {
		got = append(got, e.Action+" "+e.Actor.Kind+" "+e.Actor.Name+" "+e.Address+" "+string(e.Details))
	}
	want := []string{
		"user.sign_in user ann@example.com 127.0.0.1 {\"method\":\"password\"}",
		"user.sign_in_failed anonymous ann@example.com 127.0.0.1 {\"method\":\"password\",\"reason\":\"wrong email or password\"}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b.Items[0].Actor.ID != strconvFormat(u.ID) {
		t.Errorf("sign-in actor id: got %q, want %d", b.Items[0].Actor.ID, u.ID)
	}
	if all := storedAudit(t, ts); strings.Contains(all, wrong) || strings.Contains(all, testPassword) {
		t.Error("the audit log holds a password")
	}
}

// TestAuditSSOSignIns: single sign-on records the user it creates, the
// sign-in, and a refusal (no group) under the provider's email.
func TestAuditSSOSignIns(t *testing.T) {
	ts, idp := newSSOServer(t)
	ts.addUser("frank@example.com", store.RoleAdmin)
	if r := ts.newClient().ssoSignIn(t, idp, "carol"); r.status != http.StatusForbidden {
		t.Fatalf("carol: got %d, want 403", r.status)
	}
	if r := ts.newClient().ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
		t.Fatalf("alice: got %d, want 303", r.status)
	}
	b := ts.auditAPI(t, ts.apiKey(store.RoleAdmin), "object_type=user")
	var got []string
	for _, e := range b.Items {
		got = append(got, e.Action+" "+e.Actor.Name)
	}
	want := "user.sign_in alice@example.com,user.create alice@example.com,user.sign_in_failed carol@example.com"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if !strings.Contains(string(b.Items[2].Details), `"method":"oidc"`) || !strings.Contains(string(b.Items[0].Details), `"method":"oidc"`) {
		t.Errorf("details: got %s and %s, want method oidc", b.Items[0].Details, b.Items[2].Details)
	}
	if all := storedAudit(t, ts); strings.Contains(all, ssoClientSecret) {
		t.Error("the audit log holds the client secret")
	}
}

// TestAuditAccountsThroughTheService: the accounts service carries the
// key's identity from the API to the store, so each account change is
// recorded as the key's, from its address.
func TestAuditAccountsThroughTheService(t *testing.T) {
	ts := newTestServer(t)
	if _, err := ts.store.CreateIntegration(context.Background(), fullIntegration("crm")); err != nil {
		t.Fatal(err)
	}
	key, admin := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleAdmin)
	r := ts.api("POST", "/api/v1/integrations/crm/accounts", key, `{"name":"Acme","parameters":{"serverName":"acme","region":"eu"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: got %d\n%s", r.status, r.body)
	}
	var acct struct{ ID string }
	if err := json.Unmarshal([]byte(r.body), &acct); err != nil || acct.ID == "" {
		t.Fatalf("create: %v %s", err, r.body)
	}
	steps := []struct{ method, path, body string }{
		{"PATCH", "/api/v1/accounts/" + acct.ID, `{"parameters":{"serverName":"acme2","region":"eu"}}`},
		{"POST", "/api/v1/accounts/" + acct.ID + "/disconnect", ""},
		{"DELETE", "/api/v1/accounts/" + acct.ID, ""},
	}
	for _, s := range steps {
		if r := ts.api(s.method, s.path, key, s.body); r.status >= 300 {
			t.Fatalf("%s %s: got %d\n%s", s.method, s.path, r.status, r.body)
		}
	}
	b := ts.auditAPI(t, admin, "object_type=account&object_id="+acct.ID)
	var got []string
	for _, e := range b.Items {
		if e.Actor.Kind != "api_key" || e.Actor.Name != "test builder" || e.Address != "127.0.0.1" {
			t.Errorf("%s: got actor %+v from %q, want the builder key from 127.0.0.1", e.Action, e.Actor, e.Address)
		}
		got = append(got, e.Action)
	}
	want := "account.delete,account.disconnect,account.update,account.connect_link,account.create"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if len(b.Items) == 5 && !strings.Contains(string(b.Items[2].Details), `"parameters.serverName":{"from":"acme","to":"acme2"}`) {
		t.Errorf("update details: got %s", b.Items[2].Details)
	}
}
