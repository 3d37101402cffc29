package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes is the one route table. Every route names the permission it needs;
// console routes check a signed-in user, API routes a Bearer key, both through
// the same rule (allows).
func (h *Handler) routes(e *echo.Echo) {
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	e.Use(h.logRequests, h.secureHeaders, h.oversizeCookies)

	// Unauthenticated plumbing.
	h.add(e, permNone, "GET", "/healthz", h.healthz)
	h.add(e, permNone, "GET", "/readyz", h.readyz)
	h.add(e, permNone, "GET", "/static/:version/*", h.static)

	// The console: a browser session and CSRF protection on everything.
	pub := e.Group("", h.withSession, h.csrf)
	h.add(pub, permNone, "GET", "/setup", h.setupPage)
	h.add(pub, permNone, "POST", "/setup", h.setupSubmit)
	h.add(pub, permNone, "GET", "/signin", h.signinPage)
	h.add(pub, permNone, "POST", "/signin", h.signinSubmit)
	h.add(pub, permNone, "POST", "/signout", h.signout)

	con := &consoleRoutes{h: h, g: pub}
	con.add(permRead, "GET", "/", h.home)
	con.add(permRead, "GET", "/account/password", h.passwordPage)
	con.add(permRead, "POST", "/account/password", h.passwordSubmit)
	con.add(permAdmin, "GET", "/users", h.usersPage)
	con.add(permAdmin, "POST", "/users", h.userCreate)
	con.add(permAdmin, "POST", "/users/:id", h.userUpdate)
	con.add(permAdmin, "GET", "/settings", h.settingsPage)
	con.add(permAdmin, "POST", "/settings/api-keys", h.apiKeyCreate)
	con.add(permAdmin, "POST", "/settings/api-keys/:id/disable", h.apiKeyDisable)

	// The JSON API: Bearer API keys only, never cookies, outside CSRF.
	api := &apiRoutes{h: h, g: e.Group("/api/v1")}
	api.add(permRead, "GET", "/whoami", h.whoami)
}

type router interface {
	Add(method, path string, handler echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// add registers a route and records its permission.
func (h *Handler) add(r router, p perm, method, path string, fn echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	rt := r.Add(method, path, fn, m...)
	h.routePerms[method+" "+rt.Path] = p
}

type consoleRoutes struct {
	h *Handler
	g *echo.Group
}

func (r *consoleRoutes) add(p perm, method, path string, fn echo.HandlerFunc) {
	r.h.add(r.g, p, method, path, fn, r.h.requireUser(p))
}

type apiRoutes struct {
	h *Handler
	g *echo.Group
}

func (r *apiRoutes) add(p perm, method, path string, fn echo.HandlerFunc) {
	r.h.add(r.g, p, method, path, fn, r.h.requireKey(p))
}
