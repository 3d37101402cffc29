package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// apiBody says what a state-changing API route does with its body.
type apiBody int

const (
	jsonObject     apiBody = iota // decodes a JSON object; {} is not enough
	jsonPatch                     // decodes a JSON object; {} (and null) change nothing
	noBodyAccepted                // takes no body: none, {} or null
	opaqueBody                    // the proxy: any body is the upstream's, passed on unread (TestProxyEndToEnd)
)

// apiBodies classifies every state-changing API route. A route missing here
// fails TestMalformedAPIBodies: decide what its body is before adding it.
var apiBodies = map[string]apiBody{
	"POST /api/v1/integrations":                jsonObject,
	"PUT /api/v1/integrations/:key":            jsonObject,
	"DELETE /api/v1/integrations/:key":         noBodyAccepted,
	"POST /api/v1/integrations/:key/accounts":  jsonObject,
	"PATCH /api/v1/accounts/:id":               jsonPatch,
	"PUT /api/v1/accounts/:id/credentials":     jsonObject,
	"POST /api/v1/accounts/:id/connect-link":   noBodyAccepted,
	"POST /api/v1/accounts/:id/refresh":        noBodyAccepted,
	"POST /api/v1/accounts/:id/disconnect":     noBodyAccepted,
	"POST /api/v1/accounts/:id/reset-identity": noBodyAccepted,
	"DELETE /api/v1/accounts/:id":              noBodyAccepted,
	"POST /api/v1/accounts/:id/request":        jsonObject,
	"POST /api/v1/discovery":                   jsonObject,
	"POST /api/v1/redirect-uri/check":          noBodyAccepted,
	"POST /api/v1/accounts/:id/proxy":          opaqueBody,
	"POST /api/v1/accounts/:id/proxy/*":        opaqueBody,
	"PUT /api/v1/accounts/:id/proxy":           opaqueBody,
	"PUT /api/v1/accounts/:id/proxy/*":         opaqueBody,
	"PATCH /api/v1/accounts/:id/proxy":         opaqueBody,
	"PATCH /api/v1/accounts/:id/proxy/*":       opaqueBody,
	"DELETE /api/v1/accounts/:id/proxy":        opaqueBody,
	"DELETE /api/v1/accounts/:id/proxy/*":      opaqueBody,
	"OPTIONS /api/v1/accounts/:id/proxy":       opaqueBody,
	"OPTIONS /api/v1/accounts/:id/proxy/*":     opaqueBody,
}

// malformedJSON are bodies no route may accept.
var malformedJSON = []struct{ name, body string }{
	{"not JSON", "name=acme&key=acme"},
	{"truncated", `{"name": "ac`},
	{"wrong type", `{"name": 5, "parameters": "x", "url": []}`},
	{"unknown field", `{"bogus": true}`},
	{"huge string", `"` + strings.Repeat("x", 100_000) + `"`},
	{"huge field", `{"name": "` + strings.Repeat("n", 100_000) + `", "url": "` + strings.Repeat("u", 100_000) + `"}`},
	{"array", `[{"name": "a"}]`},
	{"number", `42`},
	{"trailing data", `{} {}`},
	{"invalid UTF-8 in a string", "{\"name\": \"\xff\xfe\"}"},
}

// stateChanging lists the routes of the table that change state, in order,
// for console (/api/ false) or API routes.
func stateChanging(h *Handler, api bool) []string {
	var out []string
	for r := range h.routePerms {
		method, path, _ := strings.Cut(r, " ")
		if method != http.MethodGet && method != http.MethodHead && strings.HasPrefix(path, "/api/") == api {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// fixture is an authorization-code integration on a fake provider, with
// one parameter, a health check and API base URLs on the provider, a
// connected account, and the other things a route's :id can name: a user,
// an API key, an open alert and its webhook delivery. Each call makes new
// ones, so that a route which wrongly acts on bad input (deletes,
// disconnects) cannot hide behind a 404 later.
type fixture struct {
	key, account                  string
	user, apiKey, alert, delivery int64
}

func (ts *testServer) fixture(p *fakeprovider.Provider, n *int) fixture {
	ts.t.Helper()
	ctx := ts.t.Context()
	*n++
	fx := fixture{key: "fx" + strconvFormat(int64(*n))}
	in := ts.integrationFor(p, fx.key, oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, func(i *oauthflow.Integration) {
		i.APIBaseURLs = []string{p.APIURL()}
		i.Parameters = []oauthflow.Parameter{{Name: "tenant"}}
		i.HealthCheck = &oauthflow.HealthCheck{Method: "GET", URL: p.APIURL() + "health"}
	})
	a := ts.account(in, "acct", map[string]string{"tenant": "acme"})
	fx.account = a.ID
	in, err := ts.store.IntegrationWithSecret(ctx, in.ID)
	if err != nil {
		ts.t.Fatal(err)
	}
	const redirect = "http://127.0.0.1:1/callback"
	verifier := oauthflow.NewVerifier()
	authURL, err := oauthflow.AuthorizationURL(in, a.Parameters, redirect, "state", verifier)
	if err != nil {
		ts.t.Fatal(err)
	}
	cb, err := p.Approve(authURL)
	if err != nil {
		ts.t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	ep, err := oauthflow.ResolveEndpoints(in, a.Parameters)
	if err != nil {
		ts.t.Fatal(err)
	}
	tok, err := ts.tokens.ExchangeCode(ctx, in, a.Parameters, ep, u.Query().Get("code"), verifier, redirect)
	if err != nil {
		ts.t.Fatal(err)
	}
	if _, err := ts.mgr.Connect(ctx, a.Account, in, tok, "test"); err != nil {
		ts.t.Fatal(err)
	}
	fx.user = ts.addUser(fx.key+"@example.com", store.RoleViewer).ID
	_, hash, last4 := store.NewAPIKey()
	k, err := ts.store.CreateAPIKey(ctx, fx.key, store.RoleViewer, hash, last4, "test")
	if err != nil {
		ts.t.Fatal(err)
	}
	fx.apiKey = k.ID
	// A broken second account opens an alert and, with a webhook URL set,
	// queues its delivery (nothing sends it: the test server runs no worker).
	if err := ts.store.SetWebhookURL(ctx, "http://127.0.0.1:1/hook"); err != nil {
		ts.t.Fatal(err)
	}
	broken := ts.account(in, "broken", map[string]string{"tenant": "acme"})
	ev := oauthflow.RefreshEvent{Reason: oauthflow.ReasonManual, Error: "revoked", Kind: oauthflow.KindInvalidGrant, Status: oauthflow.StatusNeedsReconnect}
	if err := ts.store.RecordRefreshFailure(ctx, broken.ID, ev); err != nil {
		ts.t.Fatal(err)
	}
	alerts, err := ts.store.ListAlerts(ctx, broken.ID, true, 1)
	if err != nil || len(alerts) != 1 {
		ts.t.Fatalf("alert: got %d (%v), want 1", len(alerts), err)
	}
	ds, err := ts.store.ListDeliveries(ctx, 1)
	if err != nil || len(ds) != 1 {
		ts.t.Fatalf("deliveries: got %d (%v), want 1", len(ds), err)
	}
	fx.alert, fx.delivery = alerts[0].ID, ds[0].ID
	return fx
}

// path fills a route's parameters with the fixture's resources.
func (fx fixture) path(route string) string {
	id := fx.account
	switch {
	case strings.HasPrefix(route, "/users/"):
		id = strconvFormat(fx.user)
	case strings.HasPrefix(route, "/settings/api-keys/"):
		id = strconvFormat(fx.apiKey)
	case strings.HasPrefix(route, "/alerts/"):
		id = strconvFormat(fx.alert)
	case strings.HasPrefix(route, "/settings/webhook/deliveries/"):
		id = strconvFormat(fx.delivery)
	}
	return strings.NewReplacer(":key", fx.key, ":id", id).Replace(route)
}

// TestMalformedAPIBodies sends every state-changing API route, on resources
// that exist, bodies that are not what it takes: each gets 400 or 422 in the
// API's error shape — never a 500, never a 404 (the resource survives), never
// a success.
func TestMalformedAPIBodies(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{AccessTTL: time.Hour})
	key := ts.apiKey(store.RoleAdmin)
	routes := stateChanging(ts.h, true)
	if len(routes) < 8 {
		t.Fatalf("found %d state-changing API routes: the route table was not read", len(routes))
	}
	n := 0
	for _, r := range routes {
		kind, ok := apiBodies[r]
		if !ok {
			t.Errorf("route %s is not in apiBodies: say what its body is, and test it here", r)
			continue
		}
		if kind == opaqueBody {
			continue
		}
		method, route, _ := strings.Cut(r, " ")
		cases := slices.Clone(malformedJSON)
		switch kind {
		case jsonObject:
			cases = append(cases, struct{ name, body string }{"empty", ""}, struct{ name, body string }{"empty object", "{}"},
				struct{ name, body string }{"null", "null"})
		case jsonPatch:
			cases = append(cases, struct{ name, body string }{"empty", ""})
		}
		for _, tc := range cases {
			t.Run(r+"/"+tc.name, func(t *testing.T) {
				fx := ts.fixture(p, &n)
				got := ts.api(method, fx.path(route), key, tc.body)
				e, shaped := apiErrorOf(got.body)
				want := map[int]string{400: "bad_json", 422: "invalid_fields"}[got.status]
				if want == "" || !shaped || e.Code != want || e.Message == "" {
					t.Errorf("got %d %s, want 400 bad_json or 422 invalid_fields in the error shape", got.status, truncate(got.body, 200))
				}
			})
		}
	}
	// What a body-less route accepts, and a PATCH that changes nothing.
	for r, kind := range apiBodies {
		method, route, _ := strings.Cut(r, " ")
		if kind == jsonObject {
			continue
		}
		for _, body := range []string{"", "{}", " null "} {
			if body == "" && kind == jsonPatch {
				continue
			}
			fx := ts.fixture(p, &n)
			if got := ts.api(method, fx.path(route), key, body); got.status/100 != 2 {
				t.Errorf("%s with body %q: got %d %s, want a success", r, body, got.status, truncate(got.body, 200))
			}
		}
	}
	if strings.Contains(ts.logs.String(), "status=500") {
		t.Error("the log has a 500")
	}
}

// formRoute says how a state-changing console route answers bad input: a
// form is shown again with its errors (422, or 401/429 for sign-in); an
// action answers a redirect, a partial or an error page.
type formRoute struct {
	fields   []string // the form's fields, all filled with bad input
	errorIDs []string // the elements one of which must hold the error (none for an action)
	status   []int    // acceptable statuses
	emptyOK  bool     // an all-empty form is valid (the webhook URL turns off)
	fresh    bool     // needs a deployment without users (setup)
}

var actionStatuses = []int{200, 303, 400, 404, 409, 410, 413, 422}

// consoleForms classifies every state-changing console route. A route
// missing here fails TestMalformedConsoleForms.
var consoleForms = map[string]formRoute{
	"POST /setup":                                  {fields: []string{"code", "email", "password"}, errorIDs: []string{"setup-code-error"}, status: []int{422, 429}, fresh: true},
	"POST /signin":                                 {fields: []string{"email", "password", "next"}, errorIDs: []string{"signin-error"}, status: []int{401, 429}},
	"POST /signout":                                {status: actionStatuses},
	"POST /account/password":                       {fields: []string{"current", "password", "confirm"}, errorIDs: []string{"pw-current-error"}, status: []int{422}},
	"POST /users":                                  {fields: []string{"email", "role"}, errorIDs: []string{"user-email-error", "user-role-error"}, status: []int{422}},
	"POST /users/:id":                              {fields: []string{"action", "role"}, status: actionStatuses},
	"POST /settings/api-keys":                      {fields: []string{"name", "role", "expires"}, errorIDs: []string{"key-name-error", "key-role-error"}, status: []int{422}},
	"POST /settings/api-keys/:id/disable":          {status: actionStatuses},
	"POST /settings/api-keys/:id/delete":           {status: actionStatuses},
	"POST /settings/webhook/test":                  {status: actionStatuses},
	"POST /users/:id/reset-password":               {status: actionStatuses},
	"POST /users/:id/delete":                       {status: actionStatuses},
	"POST /auth/oidc/start":                        {fields: []string{"next"}, status: actionStatuses},
	"POST /settings/webhook":                       {fields: []string{"url"}, errorIDs: []string{"webhook-url-error"}, status: []int{422}, emptyOK: true},
	"POST /settings/webhook/secret":                {status: actionStatuses},
	"POST /settings/webhook/deliveries/:id/resend": {status: actionStatuses},
	"POST /integrations":                           {fields: integrationFields, errorIDs: []string{"f-key-error"}, status: []int{422}},
	"POST /integrations/import":                    {fields: []string{"json"}, errorIDs: []string{"import-json-error"}, status: []int{422}},
	"POST /integrations/form":                      {fields: append([]string{"op"}, integrationFields...), status: actionStatuses},
	"POST /integrations/preview":                   {fields: integrationFields, status: actionStatuses},
	"POST /integrations/:key":                      {fields: integrationFields, errorIDs: []string{"f-key-error"}, status: []int{422}},
	"POST /integrations/:key/delete":               {status: actionStatuses},
	"POST /alerts/:id/ack":                         {status: actionStatuses},
	"POST /redirect-uri/check":                     {status: actionStatuses},
	"POST /integrations/:key/accounts":             {fields: []string{"name", "parameters.tenant"}, errorIDs: []string{"account-name-error", "param-tenant-error"}, status: []int{422}},
	"POST /accounts/:id":                           {fields: []string{"name", "parameters.tenant"}, errorIDs: []string{"account-name-error", "param-tenant-error"}, status: []int{422}},
	"POST /accounts/:id/connect":                   {status: actionStatuses},
	"POST /accounts/:id/refresh":                   {status: actionStatuses},
	"POST /accounts/:id/connect-link":              {status: actionStatuses},
	"POST /accounts/:id/disconnect":                {status: actionStatuses},
	"POST /accounts/:id/reset-identity":            {status: actionStatuses},
	"POST /accounts/:id/delete":                    {status: actionStatuses},
	"POST /accounts/:id/request":                   {fields: []string{"method", "url", "body", "header_name", "header_value"}, status: actionStatuses},
	"POST /accounts/:id/check":                     {status: actionStatuses},
	"POST /accounts/:id/credentials":               {fields: []string{"credentials.token"}, status: actionStatuses},
}

var integrationFields = []string{"key", "name", "oauth2.grant_type", "oauth2.authorization_url", "oauth2.token_url",
	"oauth2.token_method", "oauth2.client_id", "oauth2.client_secret", "oauth2.client_auth", "oauth2.pkce",
	"oauth2.authorization_params", "oauth2.token_params", "oauth2.refresh_window_seconds", "oauth2.rejected_statuses",
	"token.name", "token.template", "token.in", "parameters[0].name", "request_parameters[0].in", "api_base_urls[0]",
	"health_check.url", "health_check.expect_status"}

// badForms are the inputs every field of a form gets. Empty and oversized
// values break a rule of every form; odd text may be a valid name.
var badForms = []struct {
	name       string
	value      string
	mustRefuse bool
}{
	{"empty", "", true},
	{"oversized", strings.Repeat("x", 100_000), true},
	{"markup and control characters", "<script>alert(1)</script>\x00\r\n\x7f{a}}", false},
	{"invalid UTF-8", "\xff\xfe\xfd", false},
}

// TestMalformedConsoleForms posts bad input — empty, 100 KB, markup and
// control characters, invalid UTF-8 — in every field of every state-changing
// console route, signed in as an admin with a valid CSRF token: never a 500;
// a form refuses empty and oversized input by coming back with the error
// beside its field (and odd text either the same way or by saving it); an
// action answers a redirect, a partial or an error page.
func TestMalformedConsoleForms(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{AccessTTL: time.Hour})
	routes := stateChanging(ts.h, false)
	if len(routes) < 20 {
		t.Fatalf("found %d state-changing console routes: the route table was not read", len(routes))
	}
	n := 0
	for _, r := range routes {
		fr, ok := consoleForms[r]
		if !ok {
			t.Errorf("route %s is not in consoleForms: say how it answers bad input, and test it here", r)
			continue
		}
		_, route, _ := strings.Cut(r, " ")
		for _, bad := range badForms {
			if bad.value == "" && fr.emptyOK {
				continue
			}
			t.Run(r+"/"+bad.name, func(t *testing.T) {
				srv := ts
				if fr.fresh {
					srv = newTestServer(t)
				}
				var c *client
				if fr.fresh || route == "/signin" {
					c = srv.newClient()
					c.get(route)
				} else {
					c = srv.signedIn(store.RoleAdmin)
				}
				var fx fixture
				if !fr.fresh { // setup is open only while nobody has an account
					fx = srv.fixture(p, &n)
				}
				form := url.Values{"_csrf": {c.csrf}, "zzz_unknown": {bad.value, bad.value}}
				for _, f := range fr.fields {
					form.Set(f, bad.value)
				}
				got := c.post(fx.path(route), form)
				if accepted := got.status == http.StatusSeeOther; accepted && !bad.mustRefuse && len(fr.errorIDs) > 0 {
					return // odd but valid text, saved
				}
				if !slices.Contains(fr.status, got.status) {
					t.Fatalf("got %d, want one of %v\n%s", got.status, fr.status, truncate(got.body, 500))
				}
				if len(fr.errorIDs) == 0 {
					return
				}
				shown := slices.ContainsFunc(fr.errorIDs, func(id string) bool { return strings.Contains(got.body, `id="`+id+`"`) })
				if !strings.Contains(got.body, "<form") || !shown {
					t.Errorf("got %d without the form and its error (one of #%s)\n%s", got.status, strings.Join(fr.errorIDs, ", #"), truncate(got.body, 500))
				}
			})
		}
	}
	for r := range consoleForms {
		if _, ok := ts.h.routePerms[r]; !ok {
			t.Errorf("consoleForms lists %s, which is not a route", r)
		}
	}
	if strings.Contains(ts.logs.String(), "status=500") {
		t.Error("the log has a 500")
	}
}

// apiQueries lists the API reads that take ?limit=&cursor= (or a numeric
// id), with the bad query parameters each must refuse naming the parameter
// (422 invalid_fields) or, for an id that names nothing, 404 not_found.
var apiQueries = map[string][]struct{ query, code, field string }{
	"GET /api/v1/accounts/:id/traces": {
		{"limit=0", "invalid_fields", "limit"}, {"limit=201", "invalid_fields", "limit"}, {"limit=ten", "invalid_fields", "limit"},
		{"cursor=zz", "invalid_fields", "cursor"}, {"cursor=-1", "invalid_fields", "cursor"},
	},
	"GET /api/v1/traces/:id": {{"", "not_found", ""}},
}

// TestMalformedAPIQueries sends each read of apiQueries its bad query on
// resources that exist (a trace id that is not a number for /traces/:id):
// the API's error shape, naming the parameter, never a 500.
func TestMalformedAPIQueries(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{AccessTTL: time.Hour})
	key := ts.apiKey(store.RoleViewer)
	n := 0
	fx := ts.fixture(p, &n)
	for r, cases := range apiQueries {
		if _, ok := ts.h.routePerms[r]; !ok {
			t.Errorf("apiQueries lists %s, which is not a route", r)
			continue
		}
		_, route, _ := strings.Cut(r, " ")
		path := fx.path(route)
		if strings.HasPrefix(route, "/api/v1/traces/") {
			path = strings.Replace(route, ":id", "not-a-number", 1)
		}
		for _, tc := range cases {
			t.Run(r+"?"+tc.query, func(t *testing.T) {
				got := ts.api("GET", path+"?"+tc.query, key, "")
				e, shaped := apiErrorOf(got.body)
				if !shaped || e.Code != tc.code || e.Message == "" || (tc.field != "" && e.Fields[tc.field] == "") {
					t.Errorf("got %d %s, want %s naming %q", got.status, truncate(got.body, 200), tc.code, tc.field)
				}
			})
		}
	}
}
