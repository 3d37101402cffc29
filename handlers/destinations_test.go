package handlers

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// integrationDoc is an integration as the API returns it, for editing.
func (ts *testServer) integrationDoc(key string) map[string]any {
	ts.t.Helper()
	r := ts.api("GET", "/api/v1/integrations/"+key, ts.apiKey(store.RoleAdmin), "")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		ts.t.Fatalf("GET integration: %d %s", r.status, r.body)
	}
	delete(doc["oauth2"].(map[string]any), "client_secret_set")
	return doc
}

func (ts *testServer) putIntegration(key, apiKey string, doc map[string]any) response {
	ts.t.Helper()
	b, _ := json.Marshal(doc)
	return ts.api("PUT", "/api/v1/integrations/"+key, apiKey, string(b))
}

// apiFields is the fields map of an API error answer.
func apiFields(t *testing.T, r response) (string, map[string]string) {
	t.Helper()
	var e apiError
	json.Unmarshal([]byte(r.body), &e)
	return e.Error.Code, e.Error.Fields
}

// TestBuilderCannotSendTheAccessTokenToAnotherHost is the attack of issue 11
// point 1: a builder changed the API base URLs of an integration with a
// connected account to a host of their own, then sent a request through the
// account, and that host received "Authorization: Bearer <access token>".
// Now every change that moves a credential destination of an integration
// with accounts is a 403 forbidden for a builder, on the API and in the
// console form, and the request is refused before anything is sent.
func TestBuilderCannotSendTheAccessTokenToAnotherHost(t *testing.T) {
	ts := newTestServer(t)
	p, in, acct := ts.connected(fakeprovider.Options{}, nil)
	attacker := ts.provider(fakeprovider.Options{})
	builder := ts.apiKey(store.RoleBuilder)

	moves := []struct {
		name, path string
		change     func(doc map[string]any)
	}{
		{"base URL replaced", "api_base_urls[0]", func(doc map[string]any) { doc["api_base_urls"] = []string{attacker.APIURL()} }},
		{"base URL added", "api_base_urls[1]", func(doc map[string]any) { doc["api_base_urls"] = []string{p.APIURL(), attacker.APIURL()} }},
		{"token moved to the query", "token.in", func(doc map[string]any) {
			doc["token"] = map[string]any{"name": "access_token", "template": "{token}", "in": "query"}
		}},
		{"token header renamed", "token.name", func(doc map[string]any) {
			doc["token"] = map[string]any{"name": "X-Forward-To-Log", "template": "Bearer {token}", "in": "header"}
		}},
		{"revoke endpoint moved", "oauth2.revoke_url", func(doc map[string]any) {
			doc["oauth2"].(map[string]any)["revoke_url"] = attacker.RevokeURL()
		}},
	}
	for _, m := range moves {
		t.Run(m.name, func(t *testing.T) {
			doc := ts.integrationDoc(in.Key)
			m.change(doc)
			r := ts.putIntegration(in.Key, builder, doc)
			code, fields := apiFields(t, r)
			if r.status != 403 || code != "forbidden" || !strings.Contains(fields[m.path], "An admin must make this change") {
				t.Errorf("got %d %s, want 403 forbidden on %s", r.status, r.body, m.path)
			}
		})
	}
	// The request the attack then sent is refused, and nothing reaches the attacker.
	if st, code := ts.requestStatus(builder, acct.ID, attacker.APIURL()+"me"); st != 422 || code != "invalid_fields" {
		t.Errorf("request to the attacker: got %d %s, want 422 invalid_fields", st, code)
	}
	if n := attacker.APICalls(); n != 0 {
		t.Errorf("the attacker's host received %d requests (%+v), want none", n, attacker.LastAPIRequest().Header)
	}

	// In the console the message stands beside the field, with a 403.
	c := ts.signedIn(store.RoleBuilder)
	c.get("/integrations/" + in.Key + "/edit")
	stored, _ := ts.store.GetIntegration(context.Background(), in.Key)
	stored.APIBaseURLs = []string{attacker.APIURL()}
	r := c.post("/integrations/"+in.Key, integrationForm(stored, ""))
	if r.status != 403 || !strings.Contains(r.body, `id="f-api_base_urls-0-error"`) || !strings.Contains(r.body, "An admin must make this change") {
		t.Errorf("console: got %d, want 403 with the message beside API base URL 1", r.status)
	}
	if got, _ := ts.store.GetIntegration(context.Background(), in.Key); got.APIBaseURLs[0] != p.APIURL() {
		t.Errorf("base URLs after the refused edits: %v", got.APIBaseURLs)
	}

	// An admin may; a builder may still make changes that move nothing.
	doc := ts.integrationDoc(in.Key)
	doc["api_base_urls"] = []string{p.APIURL() + "v2/"}
	if r := ts.putIntegration(in.Key, builder, doc); r.status != 200 {
		t.Errorf("builder narrowing the base URL on its origin: got %d %s, want 200", r.status, r.body)
	}
	doc["api_base_urls"] = []string{p.APIURL(), attacker.APIURL()}
	if r := ts.putIntegration(in.Key, ts.apiKey(store.RoleAdmin), doc); r.status != 200 {
		t.Errorf("admin adding a base URL: got %d %s, want 200", r.status, r.body)
	}
}

// TestNoBaseURLsMeansNowhere: an empty api_base_urls used to let the token go
// to any host without any edit; now a request through such an integration
// is refused, and the API was never called.
func TestNoBaseURLsMeansNowhere(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{}, func(in *oauthflow.Integration) { in.APIBaseURLs = nil })
	st, e := ts.requestError(ts.apiKey(store.RoleBuilder), acct.ID, p.APIURL()+"me")
	want := "This integration has no API base URLs: add the API's origin."
	if st != 422 || e.Code != "invalid_fields" || e.Fields["url"] != want {
		t.Errorf("got %d %+v, want 422 invalid_fields on url %q", st, e, want)
	}
	if n := p.APICalls(); n != 0 {
		t.Errorf("the API received %d requests, want none", n)
	}
}

// TestAnyOriginIsAnAdminsChoice: "*" lets the token go anywhere, so only an
// admin may set it — on create, update and import — and the integration page
// says so while it is set.
func TestAnyOriginIsAnAdminsChoice(t *testing.T) {
	ts := newTestServer(t)
	builder, admin := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleAdmin)
	any := machineIntegration("anyorigin")
	any.APIBaseURLs = []string{"*"}
	r := ts.api("POST", "/api/v1/integrations", builder, integrationJSON(t, any, "secret-1234"))
	if code, fields := apiFields(t, r); r.status != 403 || code != "forbidden" || fields["api_base_urls"] == "" {
		t.Errorf("builder create with *: got %d %s, want 403 forbidden on api_base_urls", r.status, r.body)
	}
	c := ts.signedIn(store.RoleBuilder)
	c.get("/integrations/import")
	r = c.post("/integrations/import", url.Values{"json": {integrationJSON(t, any, "")}})
	if r.status != 403 || !strings.Contains(r.body, "An admin must make this change") {
		t.Errorf("builder import with *: got %d, want 403 with the reason", r.status)
	}
	plain := machineIntegration("plain")
	plain.APIBaseURLs = []string{"https://api.example.net/"}
	if r := ts.api("POST", "/api/v1/integrations", builder, integrationJSON(t, plain, "secret-1234")); r.status != 201 {
		t.Fatalf("builder create: got %d %s", r.status, r.body)
	}
	doc := ts.integrationDoc("plain")
	doc["api_base_urls"] = []string{"*"}
	if r := ts.putIntegration("plain", builder, doc); r.status != 403 {
		t.Errorf("builder update to *: got %d %s, want 403", r.status, r.body)
	}
	if r := ts.api("POST", "/api/v1/integrations", admin, integrationJSON(t, any, "secret-1234")); r.status != 201 {
		t.Fatalf("admin create with *: got %d %s, want 201", r.status, r.body)
	}
	// A builder may edit it otherwise, keeping the admin's *.
	doc = ts.integrationDoc("anyorigin")
	doc["name"] = "Renamed"
	if r := ts.putIntegration("anyorigin", builder, doc); r.status != 200 {
		t.Errorf("builder rename keeping *: got %d %s, want 200", r.status, r.body)
	}
	if page := c.get("/integrations/anyorigin"); !strings.Contains(page.body, "The API base URL is * (any origin)") {
		t.Error("the integration page does not warn that * is set")
	}
	mixed := machineIntegration("mixed")
	mixed.APIBaseURLs = []string{"*", "https://api.example.net/"}
	if r := ts.api("POST", "/api/v1/integrations", admin, integrationJSON(t, mixed, "secret-1234")); r.status != 422 {
		t.Errorf("* beside another base URL: got %d %s, want 422", r.status, r.body)
	}
}

// TestHealthCheckLiesUnderTheBaseURLs: the health check receives the token,
// so it must be under one of the API base URLs.
func TestHealthCheckLiesUnderTheBaseURLs(t *testing.T) {
	ts := newTestServer(t)
	in := fullIntegration("health")
	in.HealthCheck.URL = "https://elsewhere.example.org/me"
	r := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleAdmin), integrationJSON(t, in, "secret-1234"))
	if code, fields := apiFields(t, r); r.status != 422 || code != "invalid_fields" || !strings.Contains(fields["health_check.url"], "under one of the API base URLs") {
		t.Errorf("got %d %s, want 422 on health_check.url", r.status, r.body)
	}
}
