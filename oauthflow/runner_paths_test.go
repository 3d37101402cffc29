package oauthflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestRunnerRedirectStaysUnderTheBasePath: an API under /api/v2/ that
// redirects elsewhere on its own origin (another tenant, an admin path, a
// traversal form the server would resolve) gets its 3xx returned as is; the
// token never reaches the other path. A redirect inside the base is followed.
func TestRunnerRedirectStaysUnderTheBasePath(t *testing.T) {
	var mu sync.Mutex
	var outside []string // requests outside /api/v2/ and what they carried
	location := ""
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case "/api/v2/moved":
			mu.Lock()
			loc := location
			mu.Unlock()
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
		case "/api/v2/final":
			if r.Header.Get("Authorization") == "" {
				t.Error("the redirect inside the base path lost the token")
			}
			w.WriteHeader(http.StatusOK)
		default:
			mu.Lock()
			outside = append(outside, r.URL.RawPath+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer upstream.Close()
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	e.in.APIBaseURLs = []string{upstream.URL + "/api/v2/"}
	e.connect()
	r := e.newRunner(0, nil)
	for _, tc := range []struct {
		location string
		want     int
	}{
		{"/api/v2/final", http.StatusOK},
		{upstream.URL + "/api/v2/final", http.StatusOK},
		{"/admin/keys", http.StatusFound},
		{"/api/v1/me", http.StatusFound},
		{upstream.URL + "/api/v2x/me", http.StatusFound},
		{"/api/v2/../../admin", http.StatusFound}, // the client resolves it to /admin
		{"/api/v2/..;/admin", http.StatusFound},
		{"/api/v2/%2e%2e/admin", http.StatusFound},
		{"/api/v2/%2E%2e;/admin", http.StatusFound},
		{"/api/v2/.%2E/admin", http.StatusFound},
		{"/api/v2/a%2fb", http.StatusFound},
		{"/api/v2/a%2Fb", http.StatusFound},
		{"/api/v2/a%5cb", http.StatusFound},
		{"/api/v2/..%5C..%5Cadmin", http.StatusFound},
	} {
		t.Run(tc.location, func(t *testing.T) {
			mu.Lock()
			location, outside = tc.location, nil
			mu.Unlock()
			resp, err := r.Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: upstream.URL + "/api/v2/moved"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.want {
				t.Errorf("status: got %d, want %d", resp.Status, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(outside) > 0 {
				t.Errorf("the redirect was followed outside the base path: %q", outside)
			}
		})
	}
}

// TestRunnerRefusesTraversalForms: request paths a server could resolve
// outside the base path are refused before anything is sent.
func TestRunnerRefusesTraversalForms(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	base := e.provider.URL() + "/api/"
	e.in.APIBaseURLs = []string{base + "v2/"}
	e.in.Parameters = []oauthflow.Parameter{{Name: "tenant"}}
	e.connect()
	calls, tokenCalls := e.provider.APICalls(), e.provider.TokenCalls()
	for _, tc := range []struct {
		url    string
		tenant string
	}{
		{base + "v2/..;/v1/me", ""},
		{base + "v2/..;jsessionid=1/v1/me", ""},
		{base + "v2/.;/me", ""},
		{base + "v2/%2e%2e/v1/me", ""},
		{base + "v2/%2E%2E/v1/me", ""},
		{base + "v2/.%2e/v1/me", ""},
		{base + "v2/%2e/me", ""},
		{base + "v2/file%2Ejson", ""},
		{base + "v2/..%2fv1/me", ""},
		{base + "v2/a%2Fb", ""},
		{base + "v2/..%5cv1%5Cme", ""},
		{base + "v2/a%5Cb", ""},
		{base + `v2/..\v1\me`, ""},
		{base + "v2/%252e%252e/v1/me", ""},
		{base + "v2/{tenant}/me", "a/b"},
		{base + "v2/{tenant}/me", `..\x`},
		{base + "v2/{tenant}/me", "..;"},
	} {
		t.Run(tc.url+" "+tc.tenant, func(t *testing.T) {
			acct := e.acct
			acct.Parameters = map[string]string{"tenant": tc.tenant}
			_, err := e.newRunner(0, nil).Do(context.Background(), acct, e.in, oauthflow.Request{URL: tc.url})
			var re *oauthflow.RequestError
			if !errors.As(err, &re) || re.Field != "url" || !strings.Contains(re.Msg, "path") {
				t.Errorf("got %v, want a RequestError on url about the path", err)
			}
		})
	}
	if e.provider.APICalls() != calls || e.provider.TokenCalls() != tokenCalls {
		t.Error("a refused URL caused a call")
	}
	// Ordinary paths still work, a dot inside a name among them.
	for _, p := range []string{"v2/me", "v2/files/report.v1.json", "v2/a;b=c", "v2/~user/x-y_z"} {
		if _, err := e.newRunner(0, nil).Do(context.Background(), e.acct, e.in, oauthflow.Request{URL: base + p}); err != nil {
			t.Errorf("%s: got %v, want it sent", p, err)
		}
	}
}
