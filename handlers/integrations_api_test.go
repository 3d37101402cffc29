package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

// TestIntegrationAPIRoundTrip sends every field through POST, GET, list and
// PUT and gets each back as sent, with client_secret_set and never the secret.
func TestIntegrationAPIRoundTrip(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleBuilder)
	for _, tc := range []struct {
		name string
		in   oauthflow.Integration
	}{
		{"authorization code, every option away from default", fullIntegration("acme")},
		{"client credentials, token in the query", machineIntegration("billing")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const secret = "s3cret-value-WXYZ"
			want := tc.in
			want.OAuth2.ClientSecretSet = true
			r := ts.api("POST", "/api/v1/integrations", key, integrationJSON(t, tc.in, secret))
			if r.status != http.StatusCreated {
				t.Fatalf("POST: got %d, want 201\n%s", r.status, r.body)
			}
			sameIntegration(t, "POST answer", decodeIntegration(t, r.body), want)
			r = ts.api("GET", "/api/v1/integrations/"+tc.in.Key, key, "")
			sameIntegration(t, "GET answer", decodeIntegration(t, r.body), want)
			if !strings.Contains(r.body, `"client_secret_set":true`) || strings.Contains(r.body, "client_secret\"") {
				t.Errorf("GET: got %s, want client_secret_set true and no client_secret", r.body)
			}
			// PUT the same integration without a secret: the stored one stays.
			r = ts.api("PUT", "/api/v1/integrations/"+tc.in.Key, key, integrationJSON(t, tc.in, ""))
			if r.status != http.StatusOK {
				t.Fatalf("PUT: got %d, want 200\n%s", r.status, r.body)
			}
			sameIntegration(t, "PUT answer", decodeIntegration(t, r.body), want)
			if got := ts.getIntegration(tc.in.Key).OAuth2.ClientSecretLast4; got != "WXYZ" {
				t.Errorf("secret after a PUT without one: last4 got %q, want WXYZ (kept)", got)
			}
			for _, body := range []string{r.body, ts.api("GET", "/api/v1/integrations?q="+tc.in.Key, key, "").body} {
				if strings.Contains(body, secret) {
					t.Errorf("an API answer contains the client secret: %s", body)
				}
			}
		})
	}
	var list integrationList
	r := ts.api("GET", "/api/v1/integrations", key, "")
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Items) != 2 || list.NextCursor != "" {
		t.Errorf("list: got %d items, next %q (%v), want 2 items and an empty next_cursor", len(list.Items), list.NextCursor, err)
	}
}

// malformedBody is a broken body and the answer it must get.
type malformedBody struct {
	name   string
	body   string
	status int
	field  string // a JSON path the error must name, if any
}

// malformedBodies breaks a valid body in every way a client might.
func malformedBodies(t *testing.T, valid string) []malformedBody {
	withField := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("the valid body has no %s", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	return []malformedBody{
		{"not JSON", "name=acme&key=acme", 400, ""},
		{"empty", "", 400, ""},
		{"truncated", valid[:len(valid)/2], 400, ""},
		{"array", "[1,2]", 400, ""},
		{"string", `"acme"`, 400, ""},
		{"null", "null", 422, "key"},
		{"trailing data", valid + `{"key":"x"}`, 400, ""},
		{"name is a number", withField(`"name":"Acme CRM fresh"`, `"name":5`), 400, "name"},
		{"parameters is a string", withField(`"parameters":[`, `"parameters":"x","zz":[`), 400, "parameters"},
		{"refresh window is a string", withField(`"refresh_window_seconds":600`, `"refresh_window_seconds":"600"`), 400, "oauth2.refresh_window_seconds"},
		{"refresh window overflows", withField(`"refresh_window_seconds":600`, `"refresh_window_seconds":1e400`), 400, ""},
		{"pkce is a string", withField(`"pkce":false`, `"pkce":"yes"`), 400, "oauth2.pkce"},
		{"status is a string", withField(`"rejected_statuses":[401`, `"rejected_statuses":["401"`), 400, "oauth2.rejected_statuses"},
		{"extra parameter value is a number", withField(`"prompt":"consent"`, `"prompt":1`), 400, "oauth2.authorization_params"},
		{"health check is a list", withField(`"health_check":{`, `"health_check":[],"zz":{`), 400, "health_check"},
		{"unknown top-level field", withField(`"name":`, `"colour":"red","name":`), 400, "colour"},
		{"unknown nested field", withField(`"scope":`, `"scopes":"x","scope":`), 400, "scopes"},
		{"read-only id field", withField(`"name":`, `"id":7,"name":`), 400, "id"},
		{"huge name", withField(`"name":"Acme CRM fresh"`, `"name":"`+strings.Repeat("n", 100_000)+`"`), 422, "name"},
		{"huge scope", withField(`"scope":"openid profile offline_access"`, `"scope":"`+strings.Repeat("s ", 200_000)+`"`), 422, "oauth2.scope"},
		{"body over 1 MiB", withField(`"name":"Acme CRM fresh"`, `"name":"`+strings.Repeat("n", 1<<20)+`"`), 400, ""},
		{"deeply nested", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 400, ""},
		{"key with a dash", withField(`"key":"fresh"`, `"key":"fre-sh"`), 422, "key"},
		{"reserved key", withField(`"key":"fresh"`, `"key":"new"`), 422, "key"},
		{"undeclared placeholder", withField(`"token_url":"https://{serverName}`, `"token_url":"https://{tenant}`), 422, "oauth2.token_url"},
		{"bad request parameter location", withField(`"in":"query"`, `"in":"cookie"`), 422, "request_parameters[1].in"},
		{"template without token", withField(`"template":"Token {token}"`, `"template":"Token"`), 422, "token.template"},
	}
}

// TestIntegrationAPIMalformedBodies sends broken bodies to every builder
// route that takes one: each gets 400 or 422 in the error shape, never a 500.
func TestIntegrationAPIMalformedBodies(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleBuilder)
	ts.createIntegration(fullIntegration("existing"), "secret-1234")
	valid := integrationJSON(t, fullIntegration("fresh"), "secret-5678")
	cases := malformedBodies(t, valid)
	routes := []struct{ method, path string }{{"POST", "/api/v1/integrations"}, {"PUT", "/api/v1/integrations/existing"}}
	for _, rt := range routes {
		for _, tc := range cases {
			t.Run(rt.method+" "+tc.name, func(t *testing.T) {
				r := ts.api(rt.method, rt.path, key, tc.body)
				e, ok := apiErrorOf(r.body)
				wantCode := map[int]string{400: "bad_json", 422: "invalid_fields"}[tc.status]
				if r.status != tc.status || !ok || e.Code != wantCode {
					t.Fatalf("got %d %s, want %d %s in the error shape", r.status, truncate(r.body, 300), tc.status, wantCode)
				}
				if _, named := e.Fields[tc.field]; tc.field != "" && !named {
					t.Errorf("fields: got %v, want one for %s", e.Fields, tc.field)
				}
			})
		}
	}
	if ts.integrationExists("fresh") {
		t.Error("a malformed body created an integration")
	}
	if got := ts.getIntegration("existing"); got.Name != "Acme CRM existing" {
		t.Errorf("a malformed PUT changed the integration: name %q", got.Name)
	}
	if strings.Contains(ts.logs.String(), "status=500") {
		t.Error("the log has a 500")
	}
}

// TestIntegrationAPIStatuses covers the other error codes of the API.
func TestIntegrationAPIStatuses(t *testing.T) {
	ts := newTestServer(t)
	builder, viewer := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleViewer)
	used := ts.createIntegration(fullIntegration("used"), "secret-1234")
	ts.addAccounts(used, 2)
	ts.createIntegration(fullIntegration("other"), "secret-1234")
	renamed := func(from, to string) string {
		in := fullIntegration(from)
		in.Key = to
		return integrationJSON(t, in, "")
	}
	cases := []struct {
		name, method, path, key, body string
		status                        int
		code, field                   string
	}{
		{"no key", "GET", "/api/v1/integrations", "", "", 401, "unauthorized", ""},
		{"viewer reads", "GET", "/api/v1/integrations/used", viewer, "", 200, "", ""},
		{"viewer creates", "POST", "/api/v1/integrations", viewer, integrationJSON(t, fullIntegration("v"), "s-123456"), 403, "forbidden", ""},
		{"viewer deletes", "DELETE", "/api/v1/integrations/used", viewer, "", 403, "forbidden", ""},
		{"unknown key", "GET", "/api/v1/integrations/nope", builder, "", 404, "not_found", ""},
		{"put unknown key", "PUT", "/api/v1/integrations/nope", builder, renamed("used", "nope"), 404, "not_found", ""},
		{"delete unknown key", "DELETE", "/api/v1/integrations/nope", builder, "", 404, "not_found", ""},
		{"duplicate key", "POST", "/api/v1/integrations", builder, integrationJSON(t, fullIntegration("other"), "s-123456"), 409, "conflict", "key"},
		{"secret required on create", "POST", "/api/v1/integrations", builder, integrationJSON(t, fullIntegration("nosecret"), ""), 422, "invalid_fields", "oauth2.client_secret"},
		{"key change while accounts use it", "PUT", "/api/v1/integrations/used", builder, renamed("used", "usedtwo"), 422, "invalid_fields", "key"},
		{"key change onto another", "PUT", "/api/v1/integrations/other", builder, renamed("other", "used"), 409, "conflict", "key"},
		{"limit too big", "GET", "/api/v1/integrations?limit=201", builder, "", 422, "invalid_fields", "limit"},
		{"limit not a number", "GET", "/api/v1/integrations?limit=ten", builder, "", 422, "invalid_fields", "limit"},
		{"bad cursor", "GET", "/api/v1/integrations?cursor=%25%25", builder, "", 422, "invalid_fields", "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.api(tc.method, tc.path, tc.key, tc.body)
			if r.status != tc.status {
				t.Fatalf("got %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if tc.code == "" {
				return
			}
			e, ok := apiErrorOf(r.body)
			if !ok || e.Code != tc.code {
				t.Fatalf("got %s, want code %s in the error shape", r.body, tc.code)
			}
			if _, named := e.Fields[tc.field]; tc.field != "" && !named {
				t.Errorf("fields: got %v, want one for %s", e.Fields, tc.field)
			}
		})
	}
	if got := ts.getIntegration("used").Key; got != "used" {
		t.Errorf("key after a refused change: got %q, want used", got)
	}
	r := ts.api("DELETE", "/api/v1/integrations/used", builder, "")
	if r.status != 200 || strings.TrimSpace(r.body) != `{"deleted_accounts":2}` {
		t.Errorf("delete: got %d %s, want 200 {\"deleted_accounts\":2}", r.status, r.body)
	}
}

// TestIntegrationAPIPagination walks the list with limit and next_cursor.
func TestIntegrationAPIPagination(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleViewer)
	for _, k := range []string{"a1", "a2", "a3", "b1", "b2"} {
		ts.createIntegration(machineIntegration(k), "secret-1234")
	}
	for _, tc := range []struct {
		q     string
		limit string
		want  []string
	}{
		{"", "2", []string{"a1", "a2", "a3", "b1", "b2"}},
		{"a", "2", []string{"a1", "a2", "a3"}},
		{"B1", "", []string{"b1"}},
		{"Billing b2", "1", []string{"b2"}},
		{"zzz", "", nil},
	} {
		var got []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			r := ts.api("GET", "/api/v1/integrations?q="+strings.ReplaceAll(tc.q, " ", "+")+"&limit="+tc.limit+"&cursor="+cursor, key, "")
			var l integrationList
			if err := json.Unmarshal([]byte(r.body), &l); err != nil || r.status != 200 {
				t.Fatalf("q=%q: got %d %s", tc.q, r.status, r.body)
			}
			for _, it := range l.Items {
				got = append(got, it.Key)
			}
			if cursor = l.NextCursor; cursor == "" {
				break
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("q=%q limit=%s: got %v, want %v", tc.q, tc.limit, got, tc.want)
		}
	}
}
