package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"

	"airlock/store"
)

// routeParam is an Echo path parameter; a trailing * (the proxy's rest of
// the path) is written {path} in the document.
var routeParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// docPath is an Echo route path in OpenAPI's syntax.
func docPath(p string) string {
	p = routeParam.ReplaceAllString(p, "{$1}")
	if strings.HasSuffix(p, "/*") {
		p = strings.TrimSuffix(p, "*") + "{path}"
	}
	return p
}

// routeDrift compares the router's /api/v1 routes with the document's
// operations, both ways, and each route's permission with the
// operation's x-airlock-role. Methods OpenAPI cannot describe (Echo's Any
// also registers CONNECT, PROPFIND and REPORT) are left out.
func routeDrift(routes []*echo.Route, perms map[string]perm, doc docObject) []string {
	documented := map[string]string{}
	for p, item := range asObject(doc["paths"]) {
		for _, m := range openapiMethods {
			if op := asObject(asObject(item)[m]); op != nil {
				documented[strings.ToUpper(m)+" "+p] = str(op["x-airlock-role"])
			}
		}
	}
	var problems []string
	served := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/api/v1/") || !slices.Contains(openapiMethods, strings.ToLower(r.Method)) {
			continue
		}
		key := r.Method + " " + docPath(r.Path)
		served[key] = true
		role, ok := documented[key]
		switch {
		case !ok:
			problems = append(problems, key+" is a route but is not in the document: add it to a file in handlers/openapi/")
		case docRoles[role] != perms[r.Method+" "+r.Path]:
			problems = append(problems, key+": the document says x-airlock-role "+role+", the route needs "+perms[r.Method+" "+r.Path].String())
		}
	}
	for key := range documented {
		if !served[key] {
			problems = append(problems, key+" is in the document but no route serves it")
		}
	}
	sort.Strings(problems)
	return problems
}

// TestOpenAPIDocumentsEveryAPIRoute walks the route table: every /api/v1
// route is in the document with its role, and the document has nothing
// else. Removing or adding one entry makes it fail (the subtests show it).
func TestOpenAPIDocumentsEveryAPIRoute(t *testing.T) {
	ts := newTestServer(t)
	doc, err := buildOpenAPI(openapiFiles, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range ts.echo.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			n++
		}
	}
	if n < 17 {
		t.Fatalf("found %d /api/v1 routes: the route table was not read", n)
	}
	for _, p := range routeDrift(ts.echo.Routes(), ts.h.routePerms, doc) {
		t.Error(p)
	}
	t.Run("an entry removed", func(t *testing.T) {
		d, _ := buildOpenAPI(openapiFiles, "")
		delete(asObject(asObject(d["paths"])["/api/v1/accounts/{id}"]), "patch")
		got := routeDrift(ts.echo.Routes(), ts.h.routePerms, d)
		want := []string{"PATCH /api/v1/accounts/{id} is a route but is not in the document: add it to a file in handlers/openapi/"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("an entry without a route", func(t *testing.T) {
		d, _ := buildOpenAPI(openapiFiles, "")
		objectAt(asObject(d["paths"]), "/api/v1/nothing")["get"] = docObject{"x-airlock-role": "viewer"}
		got := routeDrift(ts.echo.Routes(), ts.h.routePerms, d)
		want := []string{"GET /api/v1/nothing is in the document but no route serves it"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("a wrong role", func(t *testing.T) {
		d, _ := buildOpenAPI(openapiFiles, "")
		asObject(asObject(asObject(d["paths"])["/api/v1/accounts/{id}/token"])["get"])["x-airlock-role"] = "builder"
		got := routeDrift(ts.echo.Routes(), ts.h.routePerms, d)
		want := []string{"GET /api/v1/accounts/{id}/token: the document says x-airlock-role builder, the route needs admin"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestDocPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/api/v1/whoami", "/api/v1/whoami"},
		{"/api/v1/integrations/:key/accounts", "/api/v1/integrations/{key}/accounts"},
		{"/api/v1/accounts/:id/proxy/*", "/api/v1/accounts/{id}/proxy/{path}"},
	} {
		if got := docPath(tc.in); got != tc.want {
			t.Errorf("docPath(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestOpenAPIServedPublicly: the document is served without a key, is the
// one the contract check uses, names this deployment as its server, and
// its error codes are the server's table.
func TestOpenAPIServedPublicly(t *testing.T) {
	ts := newTestServer(t)
	r := ts.api("GET", OpenAPIPath, "", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("got %d %q, want 200 application/json", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum     []string       `json:"enum"`
					Statuses map[string]int `json:"x-airlock-statuses"`
				} `json:"ErrorCode"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: got %q, want 3.1.0", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != ts.srv.URL {
		t.Errorf("servers: got %+v, want %s", doc.Servers, ts.srv.URL)
	}
	var want []string
	for _, cs := range codeStatuses {
		want = append(want, cs.code)
		if got := doc.Components.Schemas.ErrorCode.Statuses[cs.code]; got != cs.status {
			t.Errorf("status of %s: got %d, want %d", cs.code, got, cs.status)
		}
	}
	if got := doc.Components.Schemas.ErrorCode.Enum; !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum: got %v, want %v", got, want)
	}
}

// TestOpenAPIFragmentsMerge: route groups merge, and a clash between two
// of them is an error that names it rather than one silently winning.
func TestOpenAPIFragmentsMerge(t *testing.T) {
	base, err := openapiFiles.ReadFile("openapi/base.json")
	if err != nil {
		t.Fatal(err)
	}
	op := `{"paths": {"/api/v1/x": {"get": {"x-airlock-role": "viewer", "responses": {"200": {"description": "ok"}}}}}}`
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // "" for success
	}{
		{"two groups", map[string]string{"a.json": op, "b.json": `{"components": {"schemas": {"Y": {"type": "string"}}}}`}, ""},
		{"same route twice", map[string]string{"a.json": op, "b.json": op}, `paths["/api/v1/x"].get is defined in another file too`},
		{"same component twice", map[string]string{"a.json": `{"components": {"schemas": {"WhoAmI": {}}}}`}, "components.schemas.WhoAmI is defined in another file too"},
		{"info outside base", map[string]string{"a.json": `{"info": {}}`}, `"info" belongs in base.json`},
		{"no role", map[string]string{"a.json": strings.Replace(op, `"x-airlock-role": "viewer", `, "", 1)}, "GET /api/v1/x: x-airlock-role must be"},
		{"not JSON", map[string]string{"a.json": `{`}, "a.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"openapi/base.json": {Data: base}}
			for name, body := range tc.files {
				fsys["openapi/"+name] = &fstest.MapFile{Data: []byte(body)}
			}
			doc, err := buildOpenAPI(fsys, "")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				resp := asObject(asObject(asObject(asObject(doc["paths"])["/api/v1/x"])["get"])["responses"])
				for _, s := range []string{"200", "401", "500", "503"} {
					if resp[s] == nil {
						t.Errorf("responses: got %v, want %s among them", resp, s)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestContractCheckCatchesDrift: the contract check every API test runs
// fails on an answer the document does not allow, and on a request the
// document refuses but the server accepted.
func TestContractCheckCatchesDrift(t *testing.T) {
	router, err := contractRouter()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, auth, reqBody string
		status                            int
		respBody                          string
		ok                                bool
	}{
		{"documented answer", "GET", "/api/v1/whoami", "Bearer k", "", 200, `{"name": "ci", "role": "viewer"}`, true},
		{"extra field", "GET", "/api/v1/whoami", "Bearer k", "", 200, `{"name": "ci", "role": "viewer", "id": 1}`, false},
		{"undocumented status", "GET", "/api/v1/whoami", "Bearer k", "", 418, `{"error": {"code": "internal", "message": "x"}}`, false},
		{"wrong code for the status", "GET", "/api/v1/integrations/x", "Bearer k", "", 404, `{"error": {"code": "conflict", "message": "x"}}`, false},
		{"documented error", "GET", "/api/v1/integrations/x", "Bearer k", "", 404, `{"error": {"code": "not_found", "message": "x"}}`, true},
		{"no key, refused", "GET", "/api/v1/whoami", "", "", 401, `{"error": {"code": "unauthorized", "message": "x"}}`, true},
		{"no key, accepted", "GET", "/api/v1/whoami", "", "", 200, `{"name": "ci", "role": "viewer"}`, false},
		{"unknown field accepted", "POST", "/api/v1/accounts/a/request", "Bearer k", `{"url": "https://x.test/", "bogus": 1}`, 200,
			`{"status": 200, "headers": {}, "body": "", "body_encoding": "utf8", "body_truncated": false, "duration_ms": 1, "refreshed": false, "refresh_reason": ""}`, false},
		{"unknown route, 404 envelope", "GET", "/api/v1/nothing", "Bearer k", "", 404, `{"error": {"code": "not_found", "message": "x"}}`, true},
		{"unknown route answered", "GET", "/api/v1/nothing", "Bearer k", "", 200, `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://127.0.0.1"+tc.path, strings.NewReader(tc.reqBody))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			var e apiError
			if json.Unmarshal([]byte(tc.respBody), &e) == nil && tc.status >= 400 {
				rec.Header().Set("Airlock-Error", e.Error.Code) // as the error handler does (TestContractChecksAirlockError)
			}
			rec.WriteHeader(tc.status)
			rec.WriteString(tc.respBody)
			err := checkContract(router, req, []byte(tc.reqBody), rec)
			if (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestAPIReferencePage: any signed-in role sees the document as a page,
// every operation under its tag with its method, path and role, the error
// codes and the schemas, from local assets only.
func TestAPIReferencePage(t *testing.T) {
	ts := newTestServer(t)
	r := ts.signedIn(store.RoleViewer).get("/api")
	if r.status != http.StatusOK {
		t.Fatalf("got %d, want 200", r.status)
	}
	doc, _ := buildOpenAPI(openapiFiles, "")
	for p, item := range asObject(doc["paths"]) {
		for _, m := range openapiMethods {
			if op := asObject(asObject(item)[m]); op != nil && !strings.Contains(r.body, `id="op-`+str(op["operationId"])+`"`) {
				t.Errorf("the page has no section for %s %s", strings.ToUpper(m), p)
			}
		}
	}
	for _, want := range []string{`<h2 id="tag-Integrations">Integrations</h2>`, `<code class="api-path">/api/v1/accounts/{id}/token</code>`,
		`admin or above`, `href="#schema-Account"`, `id="schema-Account"`, `<code>needs_reconnect</code>`, `aria-current="page"`,
		`href="/api/v1/openapi.json"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).FindString(r.body); m != "" {
		t.Errorf("the page loads a remote asset: %s", m)
	}
}
