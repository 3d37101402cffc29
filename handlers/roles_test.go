package handlers

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"airlock/store"
)

// wantRoutePerms is every route and the permission it needs. A new route that
// is not listed here fails TestEveryRouteIsClassified, so nobody can add a
// route without deciding who may use it.
var wantRoutePerms = map[string]perm{
	"GET /healthz":                                 permNone,
	"GET /readyz":                                  permNone,
	"GET /static/:version/*":                       permNone,
	"GET /metrics":                                 permNone,
	"GET /setup":                                   permNone,
	"POST /setup":                                  permNone,
	"GET /signin":                                  permNone,
	"POST /signin":                                 permNone,
	"POST /signout":                                permNone,
	"GET /":                                        permRead,
	"GET /account/password":                        permRead,
	"POST /account/password":                       permRead,
	"GET /users":                                   permAdmin,
	"POST /users":                                  permAdmin,
	"POST /users/:id":                              permAdmin,
	"POST /users/:id/reset-password":               permAdmin,
	"POST /users/:id/delete":                       permAdmin,
	"GET /settings/sign-in":                        permAdmin,
	"POST /settings/api-keys/:id/delete":           permAdmin,
	"POST /settings/webhook/test":                  permAdmin,
	"POST /auth/oidc/start":                        permNone,
	"GET /auth/oidc/callback":                      permNone,
	"GET /settings":                                permAdmin,
	"POST /settings/api-keys":                      permAdmin,
	"POST /settings/api-keys/:id/disable":          permAdmin,
	"POST /settings/webhook":                       permAdmin,
	"POST /settings/webhook/secret":                permAdmin,
	"POST /settings/webhook/deliveries/:id/resend": permAdmin,
	"GET /audit":                                   permAdmin,
	"GET /api/v1/whoami":                           permRead,
	"GET /api/v1/presets":                          permRead,
	"GET /api/v1/presets/:name":                    permRead,
	"POST /api/v1/discovery":                       permBuild,
	"POST /api/v1/redirect-uri/check":              permBuild,
	"POST /redirect-uri/check":                     permBuild,
	"GET /integrations":                            permRead,
	"GET /integrations/new":                        permBuild,
	"POST /integrations":                           permBuild,
	"GET /integrations/import":                     permBuild,
	"POST /integrations/import":                    permBuild,
	"POST /integrations/form":                      permBuild,
	"POST /integrations/preview":                   permBuild,
	"GET /integrations/:key":                       permRead,
	"GET /integrations/:key/edit":                  permBuild,
	"POST /integrations/:key":                      permBuild,
	"GET /integrations/:key/delete":                permBuild,
	"POST /integrations/:key/delete":               permBuild,
	"GET /integrations/:key/export":                permRead,
	"GET /api/v1/integrations":                     permRead,
	"POST /api/v1/integrations":                    permBuild,
	"GET /api/v1/integrations/:key":                permRead,
	"PUT /api/v1/integrations/:key":                permBuild,
	"DELETE /api/v1/integrations/:key":             permBuild,

	// Accounts, the callback, connect links, requests.
	"GET /internal/sessions/v1/auth/callback":  permNone,
	"GET /connect/done":                        permNone,
	"GET /connect/:token":                      permNone,
	"GET /accounts":                            permRead,
	"GET /accounts/:id":                        permRead,
	"GET /accounts/:id/traces":                 permRead,
	"GET /accounts/:id/traces/:trace":          permRead,
	"GET /accounts/:id/traces/:trace/json":     permRead,
	"GET /activity":                            permRead,
	"POST /alerts/:id/ack":                     permBuild,
	"GET /integrations/:key/accounts/new":      permBuild,
	"POST /integrations/:key/accounts":         permBuild,
	"GET /accounts/:id/edit":                   permBuild,
	"POST /accounts/:id":                       permBuild,
	"POST /accounts/:id/connect":               permBuild,
	"POST /accounts/:id/refresh":               permBuild,
	"POST /accounts/:id/connect-link":          permBuild,
	"POST /accounts/:id/disconnect":            permBuild,
	"POST /accounts/:id/reset-identity":        permBuild,
	"POST /accounts/:id/credentials":           permBuild,
	"POST /accounts/:id/delete":                permBuild,
	"POST /accounts/:id/request":               permBuild,
	"POST /accounts/:id/check":                 permBuild,
	"POST /api/v1/integrations/:key/accounts":  permBuild,
	"GET /api/v1/integrations/:key/accounts":   permRead,
	"GET /api/v1/accounts/:id":                 permRead,
	"PATCH /api/v1/accounts/:id":               permBuild,
	"PUT /api/v1/accounts/:id/credentials":     permBuild,
	"POST /api/v1/accounts/:id/connect-link":   permBuild,
	"POST /api/v1/accounts/:id/refresh":        permBuild,
	"POST /api/v1/accounts/:id/disconnect":     permBuild,
	"POST /api/v1/accounts/:id/reset-identity": permBuild,
	"DELETE /api/v1/accounts/:id":              permBuild,
	"POST /api/v1/accounts/:id/request":        permBuild,
	"GET /api/v1/accounts/:id/token":           permAdmin,
	"GET /api/v1/accounts/:id/traces":          permRead,
	"GET /api/v1/traces/:id":                   permRead,
	"GET /api/v1/audit":                        permAdmin,
	"GET /api/v1/openapi.json":                 permNone,
	"GET /api":                                 permRead,
	// The proxy, every method in proxyMethods.
	"GET /api/v1/accounts/:id/proxy":       permBuild,
	"GET /api/v1/accounts/:id/proxy/*":     permBuild,
	"HEAD /api/v1/accounts/:id/proxy":      permBuild,
	"HEAD /api/v1/accounts/:id/proxy/*":    permBuild,
	"POST /api/v1/accounts/:id/proxy":      permBuild,
	"POST /api/v1/accounts/:id/proxy/*":    permBuild,
	"PUT /api/v1/accounts/:id/proxy":       permBuild,
	"PUT /api/v1/accounts/:id/proxy/*":     permBuild,
	"PATCH /api/v1/accounts/:id/proxy":     permBuild,
	"PATCH /api/v1/accounts/:id/proxy/*":   permBuild,
	"DELETE /api/v1/accounts/:id/proxy":    permBuild,
	"DELETE /api/v1/accounts/:id/proxy/*":  permBuild,
	"OPTIONS /api/v1/accounts/:id/proxy":   permBuild,
	"OPTIONS /api/v1/accounts/:id/proxy/*": permBuild,
}

func TestEveryRouteIsClassified(t *testing.T) {
	ts := newTestServer(t)
	for r, p := range ts.h.routePerms {
		want, ok := wantRoutePerms[r]
		if !ok {
			t.Errorf("route %s (%s) is not in wantRoutePerms: decide who may use it", r, p)
		} else if want != p {
			t.Errorf("route %s: got %s, want %s", r, p, want)
		}
	}
	for r := range wantRoutePerms {
		if _, ok := ts.h.routePerms[r]; !ok {
			t.Errorf("route %s is expected but not registered", r)
		}
	}
}

// TestEachRoleGetsExactlyItsAllowedSet calls every console and API route as
// each role: a route is refused (403) exactly when the role is below the
// route's permission.
func TestEachRoleGetsExactlyItsAllowedSet(t *testing.T) {
	ts := newTestServer(t)
	routes := make([]string, 0, len(ts.h.routePerms))
	for r := range ts.h.routePerms {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, role := range []string{store.RoleViewer, store.RoleBuilder, store.RoleAdmin} {
		browser := ts.signedIn(role)
		key := ts.apiKey(role)
		for _, r := range routes {
			p := ts.h.routePerms[r]
			if p == permNone {
				continue
			}
			method, path, _ := strings.Cut(r, " ")
			path = fillParams(path)
			var status int
			if strings.HasPrefix(path, "/api/") {
				status = ts.api(method, path, key, "").status
			} else if method == http.MethodGet {
				status = browser.get(path).status
			} else {
				browser.get("/account/password")
				status = browser.post(path, url.Values{}).status
			}
			allowed := status != http.StatusForbidden
			if allowed != allows(role, p) {
				t.Errorf("%s as %s: got status %d (allowed=%v), want allowed=%v", r, role, status, allowed, allows(role, p))
			}
		}
	}
}

func TestAnonymousIsSentToSignIn(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("admin@example.com", store.RoleAdmin)
	for r, p := range ts.h.routePerms {
		if p == permNone {
			continue
		}
		method, path, _ := strings.Cut(r, " ")
		path = fillParams(path)
		c := ts.newClient()
		if strings.HasPrefix(path, "/api/") {
			if got := ts.api(method, path, "", "").status; got != http.StatusUnauthorized {
				t.Errorf("%s without a key: got %d, want 401", r, got)
			}
			continue
		}
		var resp response
		if method == http.MethodGet {
			resp = c.get(path)
		} else {
			c.get("/signin")
			resp = c.post(path, url.Values{})
		}
		if resp.status != http.StatusSeeOther || !strings.HasPrefix(resp.header.Get("Location"), "/signin") {
			t.Errorf("%s anonymous: got %d to %q, want 303 to /signin", r, resp.status, resp.header.Get("Location"))
		}
	}
}

// fillParams puts harmless values into route parameters.
func fillParams(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "0"
		}
	}
	return strings.Join(parts, "/")
}
