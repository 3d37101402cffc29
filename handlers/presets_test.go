package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/presets"
	"airlock/store"
)

// fakeIssuer serves RFC 8414 and OpenID documents like a real provider;
// named is the issuer the documents claim ("" for the server's own URL).
func fakeIssuer(t *testing.T, named string, iss bool) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		issuer := named
		if issuer == "" {
			issuer = srv.URL
		}
		doc := map[string]any{"issuer": issuer, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
			"revocation_endpoint": srv.URL + "/revoke", "scopes_supported": []string{"openid", "offline_access", "read"},
			"code_challenge_methods_supported": []string{"S256"}, "token_endpoint_auth_methods_supported": []string{"client_secret_post"},
			"authorization_response_iss_parameter_supported": iss}
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
		case "/.well-known/openid-configuration":
			doc["userinfo_endpoint"] = srv.URL + "/userinfo"
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPresetAPI(t *testing.T) {
	ts := newTestServer(t)
	viewer := ts.apiKey(store.RoleViewer)
	r := ts.api("GET", "/api/v1/presets", viewer, "")
	var list struct {
		Items []struct {
			Name       string                `json:"name"`
			Title      string                `json:"title"`
			GrantTypes []string              `json:"grant_types"`
			Parameters []oauthflow.Parameter `json:"parameters"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/presets: got %d %v, want 200 and a list\n%s", r.status, err, r.body)
	}
	names := map[string]bool{}
	for _, it := range list.Items {
		names[it.Name] = true
		if it.Title == "" || len(it.GrantTypes) == 0 || it.Parameters == nil {
			t.Errorf("item %+v: want a title, grant types and a parameters list", it)
		}
	}
	if !names["linear"] {
		t.Errorf("list: got %v, want linear among them", names)
	}
	r = ts.api("GET", "/api/v1/presets/linear", viewer, "")
	var one presetTemplate
	if err := json.Unmarshal([]byte(r.body), &one); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/presets/linear: got %d %v\n%s", r.status, err, r.body)
	}
	if one.Integration.OAuth2.TokenURL != "https://api.linear.app/oauth/token" || len(one.Sources) == 0 || one.Notes == "" {
		t.Errorf("linear: got token_url %q, %d sources, notes %q; want the template with sources and notes", one.Integration.OAuth2.TokenURL, len(one.Sources), one.Notes)
	}
	if strings.Contains(r.body, "client_secret\"") {
		t.Errorf("preset answer names a client secret: %s", r.body)
	}
	if r := ts.api("GET", "/api/v1/presets/nope", viewer, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown preset: got %d, want 404", r.status)
	}
	if r := ts.api("GET", "/api/v1/presets", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no key: got %d, want 401", r.status)
	}
}

func TestCreateFromPreset(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleBuilder)
	tests := []struct {
		name, body string
		status     int
		check      func(t *testing.T, got integrationBody)
	}{
		{"preset fills what the body leaves out", `{"preset":"linear","oauth2":{"client_id":"abc","client_secret":"s3cret"}}`, 201,
			func(t *testing.T, got integrationBody) {
				if got.Key != "linear" || got.Preset != "linear" || got.OAuth2.TokenURL != "https://api.linear.app/oauth/token" ||
					got.OAuth2.ClientID != "abc" || !got.OAuth2.PKCE || got.OAuth2.RevokeURL != "https://api.linear.app/oauth/revoke" {
					t.Errorf("got %+v, want linear's template with client id abc", got.Integration)
				}
			}},
		{"body wins over the preset", `{"preset":"linear","key":"lin2","name":"Linear two","oauth2":{"client_id":"abc","client_secret":"s3cret","scope":"read write"}}`, 201,
			func(t *testing.T, got integrationBody) {
				if got.Key != "lin2" || got.Name != "Linear two" || got.OAuth2.Scope != "read write" || got.OAuth2.AuthorizationURL != "https://linear.app/oauth/authorize" {
					t.Errorf("got %+v, want the body's key, name and scope over linear's", got.Integration)
				}
			}},
		{"unknown preset", `{"preset":"nope","oauth2":{"client_id":"abc","client_secret":"s3cret"}}`, 422, nil},
		{"a builder may not take a preset's allowed_values", `{"preset":"shopify","oauth2":{"client_id":"abc","client_secret":"s3cret"}}`, 403,
			func(t *testing.T, got integrationBody) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.api("POST", "/api/v1/integrations", key, tt.body)
			if r.status != tt.status {
				t.Fatalf("got %d, want %d\n%s", r.status, tt.status, r.body)
			}
			if tt.check == nil {
				if e, _ := apiErrorOf(r.body); e.Fields["preset"] == "" {
					t.Errorf("got %s, want a field error on preset", r.body)
				}
				return
			}
			if r.status != http.StatusCreated {
				return
			}
			var got integrationBody
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
			if got.Warnings == nil {
				t.Errorf("warnings: got null, want a list")
			}
		})
	}
	// The JSON of a saved integration may be sent back as it is (warnings are read-only).
	body := ts.api("GET", "/api/v1/integrations/linear", key, "").body
	if r := ts.api("PUT", "/api/v1/integrations/linear", key, body); r.status != http.StatusOK {
		t.Errorf("PUT the GET answer: got %d, want 200\n%s", r.status, r.body)
	}
}

func TestDiscoveryAPI(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleBuilder)
	good := fakeIssuer(t, "", true)
	bad := fakeIssuer(t, "https://other.example", false)
	r := ts.api("POST", "/api/v1/discovery", key, `{"issuer":"`+good.URL+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("discovery: got %d, want 200\n%s", r.status, r.body)
	}
	var d map[string]any
	_ = json.Unmarshal([]byte(r.body), &d)
	for _, f := range []string{"authorization_url", "token_url", "revoke_url", "issuer", "userinfo_url", "pkce", "client_auth", "scopes_supported", "suggested_scope", "warnings"} {
		if _, ok := d[f]; !ok {
			t.Errorf("answer lacks %q: %s", f, r.body)
		}
	}
	if d["token_url"] != good.URL+"/token" || d["client_auth"] != "body" || d["pkce"] != true || d["suggested_scope"] != "openid offline_access" {
		t.Errorf("got %s, want the fake issuer's endpoints, body auth, PKCE and openid offline_access", r.body)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"mismatching issuer", `{"issuer":"` + bad.URL + `"}`, "names issuer https://other.example"},
		{"not a URL", `{"issuer":"nope"}`, "absolute https URL"},
		{"empty", `{}`, "Issuer is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.api("POST", "/api/v1/discovery", key, tc.body)
			e, _ := apiErrorOf(r.body)
			if r.status != http.StatusUnprocessableEntity || e.Code != "invalid_fields" || !strings.Contains(e.Fields["issuer"], tc.want) {
				t.Errorf("got %d %s, want 422 invalid_fields on issuer saying %q", r.status, r.body, tc.want)
			}
		})
	}
	if r := ts.api("POST", "/api/v1/discovery", ts.apiKey(store.RoleViewer), `{"issuer":"`+good.URL+`"}`); r.status != http.StatusForbidden {
		t.Errorf("viewer: got %d, want 403", r.status)
	}
}

func TestIntegrationLintInJSONAndPage(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleAdmin)
	in := machineIntegration("billing") // token in the query
	r := ts.api("POST", "/api/v1/integrations", key, integrationJSON(t, in, "s3cret"))
	if r.status != http.StatusCreated {
		t.Fatalf("create: got %d\n%s", r.status, r.body)
	}
	var got integrationBody
	_ = json.Unmarshal([]byte(r.body), &got)
	if len(got.Warnings) == 0 || got.Warnings[0].Code != oauthflow.LintTokenInQuery || got.Warnings[0].Field != "token.in" {
		t.Errorf("warnings: got %+v, want token_in_query on token.in", got.Warnings)
	}
	page := ts.signedIn(store.RoleViewer).get("/integrations/billing")
	if !strings.Contains(page.body, `data-code="token_in_query"`) {
		t.Errorf("integration page: want the token_in_query warning\n%s", page.body)
	}
}

func TestBuilderFromPresetAndDiscoveryWithoutJS(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleAdmin)
	page := c.get("/integrations/new?q=lin")
	if !strings.Contains(page.body, `id="preset-linear"`) || strings.Contains(page.body, `id="preset-hubspot"`) {
		t.Errorf("search lin: want linear listed and hubspot not")
	}
	page = c.get("/integrations/new?preset=linear")
	form := formOf(t, page.body, "integration-form")
	if form.Get("oauth2.token_url") != "https://api.linear.app/oauth/token" || form.Get("preset") != "linear" {
		t.Fatalf("preset form: got token_url %q preset %q, want linear's", form.Get("oauth2.token_url"), form.Get("preset"))
	}
	if !strings.Contains(page.body, `id="preset-notes"`) {
		t.Errorf("preset form: want the setup notes")
	}
	iss := fakeIssuer(t, "", true)
	form.Set("discover_issuer", iss.URL)
	form.Set("op", "discover")
	r := c.post("/integrations", form)
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="discover-filled"`) {
		t.Fatalf("discover: got %d, want 200 with what was filled\n%s", r.status, r.body)
	}
	filled := formOf(t, r.body, "integration-form")
	if filled.Get("oauth2.token_url") != iss.URL+"/token" || filled.Get("oauth2.issuer") != iss.URL || filled.Get("oauth2.scope") != "read openid offline_access" {
		t.Errorf("filled: got token %q issuer %q scope %q", filled.Get("oauth2.token_url"), filled.Get("oauth2.issuer"), filled.Get("oauth2.scope"))
	}
	if ts.integrationExists("linear") {
		t.Fatalf("discovery saved the integration; want nothing saved until Save")
	}
	filled.Del("op")
	filled.Set("oauth2.client_id", "abc")
	filled.Set("oauth2.client_secret", "s3cret")
	if r := c.post("/integrations", filled); r.status != http.StatusSeeOther {
		t.Fatalf("save: got %d\n%s", r.status, r.body)
	}
	if got := ts.getIntegration("linear"); got.Preset != "linear" || got.OAuth2.TokenURL != iss.URL+"/token" {
		t.Errorf("saved: got preset %q token %q", got.Preset, got.OAuth2.TokenURL)
	}
	if page := c.get("/integrations/linear"); !strings.Contains(page.body, `id="preset-notes"`) {
		t.Errorf("integration page: want the preset's setup notes")
	}
}

func TestDiscoveryLeavesIssuerWithoutIss(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleAdmin)
	iss := fakeIssuer(t, "", false)
	form := formOf(t, c.get("/integrations/new").body, "integration-form")
	form.Set("discover_issuer", iss.URL)
	form.Set("op", "discover")
	r := c.post("/integrations", form)
	if got := formOf(t, r.body, "integration-form"); got.Get("oauth2.issuer") != "" || got.Get("oauth2.token_url") != iss.URL+"/token" {
		t.Errorf("issuer: got %q (token %q), want it left blank for a provider that does not send iss", got.Get("oauth2.issuer"), got.Get("oauth2.token_url"))
	}
	bad := fakeIssuer(t, "https://other.example", true)
	form.Set("discover_issuer", bad.URL)
	if r := c.post("/integrations", form); !strings.Contains(r.body, `id="discover-error"`) {
		t.Errorf("mismatch: want the refusal shown in the form")
	}
}

// TestEveryPresetSavesThroughTheAPI creates an integration from each preset
// as an admin would (client id and secret added, nothing else), so every
// preset passes the whole save path: validation, the admin-only rules, the
// store and the API document. A preset that takes no scope says so in a
// no_scope note.
func TestEveryPresetSavesThroughTheAPI(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.apiKey(store.RoleAdmin)
	cat, err := presets.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cat.All() {
		t.Run(p.Name, func(t *testing.T) {
			body := `{"preset":"` + p.Name + `","oauth2":{"client_id":"cid","client_secret":"s3cret"}}`
			r := ts.api("POST", "/api/v1/integrations", admin, body)
			if r.status != http.StatusCreated {
				t.Fatalf("got %d, want 201\n%s", r.status, r.body)
			}
			var got integrationBody
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			o := got.OAuth2
			noScope := o.GrantType == oauthflow.GrantAuthorizationCode && o.Scope == ""
			if noScope != slices.ContainsFunc(got.Warnings, func(w oauthflow.LintWarning) bool { return w.Code == oauthflow.LintNoScope }) {
				t.Errorf("scope %q, scope_optional %v: got warnings %+v, want no_scope exactly when no scope is sent", o.Scope, o.ScopeOptional, got.Warnings)
			}
			if got.Preset != p.Name || o.ClientID != "cid" {
				t.Errorf("got preset %q, client id %q; want %q, cid", got.Preset, o.ClientID, p.Name)
			}
		})
	}
}

// TestScopeOptionalInTheForm: the console form carries "The provider takes
// no scope" both ways, and without it an empty scope is refused, naming it.
func TestScopeOptionalInTheForm(t *testing.T) {
	ts := newTestServer(t)
	body := `{"preset":"notion","oauth2":{"client_id":"cid","client_secret":"s3cret"}}`
	if r := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleAdmin), body); r.status != http.StatusCreated {
		t.Fatalf("create: got %d, want 201\n%s", r.status, r.body)
	}
	c := ts.signedIn(store.RoleBuilder)
	form := formOf(t, c.get("/integrations/notion/edit").body, "integration-form")
	if got := form.Get("oauth2.scope_optional"); got != "true" {
		t.Fatalf("edit form: oauth2.scope_optional got %q, want the box ticked", got)
	}
	if r := c.post("/integrations/notion", form); r.status != http.StatusSeeOther {
		t.Fatalf("save unchanged: got %d, want 303\n%s", r.status, r.body)
	}
	if in := ts.getIntegration("notion"); !in.OAuth2.ScopeOptional || in.OAuth2.Scope != "" {
		t.Errorf("after a console save: got scope %q, scope_optional %v; want empty, true", in.OAuth2.Scope, in.OAuth2.ScopeOptional)
	}
	form.Del("oauth2.scope_optional")
	r := c.post("/integrations/notion", form)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "The provider takes no scope") {
		t.Errorf("box unticked: got %d, want 422 naming the box", r.status)
	}
}
