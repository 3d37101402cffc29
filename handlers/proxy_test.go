package handlers

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// The proxy through the real router, every answer checked against the
// OpenAPI document by the contract check (apiContract): the upstream's
// answers pass as they came, Airlock's own errors in the Error shape with
// Airlock-Error. The streaming cases (server-sent events, 50 MB, flat
// memory) run against the binary: TestProxyEndToEnd, TestProxyStreamsInFlatMemory.
func TestProxyThroughTheRouter(t *testing.T) {
	ts := newTestServer(t)
	p, _, acct := ts.connected(fakeprovider.Options{AccessTTL: 2 * time.Hour}, nil)
	builder, viewer := ts.apiKey(store.RoleBuilder), ts.apiKey(store.RoleViewer)
	proxy := "/api/v1/accounts/" + acct.ID + "/proxy"
	cases := []struct {
		name, method, path, key, body string
		fail                          int // the upstream's next answer, 0 for none
		status                        int
		airlockError, refreshed       string
	}{
		{"GET below the base URL", "GET", proxy + "/orders/7?x=1", builder, "", 0, 200, "", ""},
		{"the base URL itself", "GET", proxy, builder, "", 0, 200, "", ""},
		{"POST with a body", "POST", proxy + "/orders", builder, `{"n":1}`, 0, 200, "", ""},
		{"HEAD", "HEAD", proxy + "/orders", builder, "", 0, 200, "", ""},
		{"a 401 refreshes and retries once", "PUT", proxy + "/orders/7", builder, `{"n":2}`, 401, 200, "", "rejected"},
		{"the upstream's 500 passes as it came", "DELETE", proxy + "/orders/7", builder, "", 500, 500, "", ""},
		{"the upstream's 404 passes as it came", "GET", proxy + "/missing", builder, "", 404, 404, "", ""},
		{"unknown account", "GET", "/api/v1/accounts/nosuch/proxy/orders", builder, "", 0, 404, "not_found", ""},
		{"dot segment", "GET", proxy + "/a/%2e%2e/b", builder, "", 0, 422, "invalid_fields", ""},
		{"viewer key", "POST", proxy + "/orders", viewer, "{}", 0, 403, "forbidden", ""},
		{"no key", "GET", proxy + "/orders", "", "", 0, 401, "unauthorized", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != 0 {
				p.FailNextAPI(tc.fail, 1)
			}
			calls := p.APICalls()
			r := ts.api(tc.method, tc.path, tc.key, tc.body)
			if r.status != tc.status || r.header.Get("Airlock-Error") != tc.airlockError || r.header.Get("Airlock-Refreshed") != tc.refreshed {
				t.Fatalf("got %d Airlock-Error=%q Airlock-Refreshed=%q, want %d %q %q (%.200s)", r.status, r.header.Get("Airlock-Error"),
					r.header.Get("Airlock-Refreshed"), tc.status, tc.airlockError, tc.refreshed, r.body)
			}
			if tc.airlockError != "" && p.APICalls() != calls {
				t.Errorf("Airlock's own error reached the upstream (%d calls)", p.APICalls()-calls)
			}
			if tc.status != 200 || tc.method == "HEAD" {
				return
			}
			var echo fakeprovider.APIEcho
			if err := json.Unmarshal([]byte(r.body), &echo); err != nil || !echo.OK || echo.Method != tc.method || echo.Body != tc.body {
				t.Errorf("got %+v (%v), want the upstream's echo of %s with body %q", echo, err, tc.method, tc.body)
			}
			if want := "/api" + strings.TrimPrefix(strings.SplitN(tc.path, "?", 2)[0], proxy); echo.Path != want && !(want == "/api" && echo.Path == "/api/") {
				t.Errorf("path: got %q, want %q", echo.Path, want)
			}
		})
	}
}

// TestContractChecksAirlockError: the contract check refuses an Airlock
// error without its header, a header that disagrees with the body, and a
// header on a body that is not the Error shape; it lets the proxy pass the
// upstream's errors, which carry no header.
func TestContractChecksAirlockError(t *testing.T) {
	router, err := contractRouter()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, header, body string
		status                           int
		wantErr                          bool
	}{
		{"error with its header", "GET", "/api/v1/accounts/a1", "not_found", `{"error":{"code":"not_found","message":"No such account."}}`, 404, false},
		{"error without the header", "GET", "/api/v1/accounts/a1", "", `{"error":{"code":"not_found","message":"No such account."}}`, 404, true},
		{"header and body disagree", "GET", "/api/v1/accounts/a1", "conflict", `{"error":{"code":"not_found","message":"No such account."}}`, 404, true},
		{"proxy: the upstream's 404", "GET", "/api/v1/accounts/a1/proxy/a/b", "", `not here`, 404, false},
		{"proxy: Airlock's error", "GET", "/api/v1/accounts/a1/proxy/a/b", "needs_reconnect", `{"error":{"code":"needs_reconnect","message":"Reconnect."}}`, 409, false},
		{"proxy: header on another shape", "GET", "/api/v1/accounts/a1/proxy/a", "not_found", `{"error":{"code":"not_found","message":"x","extra":1}}`, 404, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("Authorization", "Bearer k")
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			if tc.header != "" {
				rec.Header().Set("Airlock-Error", tc.header)
			}
			rec.WriteHeader(tc.status)
			rec.WriteString(tc.body)
			err := checkContract(router, r, nil, rec)
			if (err != nil) != tc.wantErr {
				t.Errorf("got %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}
