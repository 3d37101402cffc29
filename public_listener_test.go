package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"airlock/handlers"
	"airlock/oauthflow/fakeidp"
)

// publicNotFound is the public listener's answer to what it does not serve.
const publicNotFound = "404 page not found\n"

// TestPublicListenerServesOnlyThePublicRoutes runs the real server with
// AIRLOCK_PUBLIC_ADDR on a second loopback port: there the OAuth callback,
// connect links, the single sign-on callback, static files and /healthz
// answer as on AIRLOCK_ADDR, and everything else — the console, the API,
// /readyz, /metrics, other methods — is a plain 404. AIRLOCK_ADDR serves
// all of it.
func TestPublicListenerServesOnlyThePublicRoutes(t *testing.T) {
	idp := fakeidp.New("airlock", "idp-secret", nil)
	t.Cleanup(idp.Close)
	pubAddr := freeAddr(t)
	rs := startServer(t, t.TempDir(), map[string]string{
		"AIRLOCK_PUBLIC_ADDR": pubAddr, "AIRLOCK_OIDC_ISSUER": idp.URL(), "AIRLOCK_OIDC_CLIENT_ID": "airlock",
		"AIRLOCK_OIDC_CLIENT_SECRET": "idp-secret", "AIRLOCK_OIDC_ADMIN_GROUPS": "admins",
	})
	if !strings.Contains(rs.logs.String(), "public_addr="+pubAddr) {
		t.Errorf("the start-up log does not name the public listener:\n%s", rs.logs.String())
	}
	pub := "http://" + pubAddr
	main := rs.URL
	asset := regexp.MustCompile(`/static/[0-9a-f]+/app\.css`).FindString(fetch(t, "GET", main+"/setup").body)
	if asset == "" {
		t.Fatal("no stylesheet link on the setup page")
	}
	cases := []struct {
		method, path string
		public       bool
	}{
		{"GET", "/healthz", true},
		{"GET", asset, true},
		{"GET", handlers.CallbackPath + "?state=" + strings.Repeat("s", 43) + "&code=c", true},
		{"GET", handlers.CallbackPath, true},
		{"GET", "/connect/done", true},
		{"GET", "/connect/" + strings.Repeat("t", 43), true},
		{"GET", handlers.OIDCCallbackPath + "?state=" + strings.Repeat("s", 43) + "&code=c", true},
		{"GET", "/", false},
		{"GET", "/setup", false},
		{"GET", "/signin", false},
		{"POST", "/signin", false},
		{"POST", handlers.OIDCStartPath, false},
		{"GET", "/integrations", false},
		{"GET", "/settings", false},
		{"GET", "/readyz", false},
		{"GET", "/metrics", false},
		{"GET", "/api/v1/whoami", false},
		{"POST", "/api/v1/integrations", false},
		{"POST", "/healthz", false},
		{"POST", handlers.CallbackPath, false},
		{"GET", "/static/../readyz", true}, // the static route, which redirects to its current version
		{"GET", "/nowhere", false},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			m, p := fetch(t, tc.method, main+tc.path), fetch(t, tc.method, pub+tc.path)
			if m.body == publicNotFound {
				t.Errorf("AIRLOCK_ADDR answered the public listener's 404 (%d)", m.status)
			}
			if !tc.public {
				if p.status != http.StatusNotFound || p.body != publicNotFound {
					t.Errorf("public listener: got %d %q, want the plain 404", p.status, truncateText(p.body, 200))
				}
				return
			}
			if p.status != m.status || p.body == publicNotFound {
				t.Errorf("public listener: got %d, want %d as on AIRLOCK_ADDR", p.status, m.status)
			}
		})
	}
}

type fetched struct {
	status int
	body   string
}

func fetch(t *testing.T, method, url string) fetched {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, string(b)}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
