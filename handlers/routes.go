package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"airlock/store"
)

// routes is the one route table. Every route names the permission it needs;
// console routes check a signed-in user, API routes a Bearer key, both through
// the same rule (allows).
func (h *Handler) routes(e *echo.Echo) {
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}))
	// echo applies these anew on every request: what a middleware prepares
	// once it prepares outside the func(next) it returns (secureHeaders).
	e.Use(h.countRequests, h.logRequests, h.secureHeaders(), h.publicOnly, h.oversizeCookies, middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: "4M", Skipper: func(c echo.Context) bool { return isProxyRoute(c.Path()) }}))

	// Unauthenticated plumbing.
	h.add(e, permNone, "GET", "/healthz", h.healthz)
	h.add(e, permNone, "GET", "/readyz", h.readyz)
	h.add(e, permNone, "GET", "/static/:version/*", h.static)
	h.add(e, permNone, "GET", "/metrics", h.metricsEndpoint) // loopback peers or admin keys, checked inside

	// The console: a browser session and CSRF protection on everything.
	pub := withMiddleware{e: e, mw: []echo.MiddlewareFunc{h.withSession, h.csrf}}
	h.add(pub, permNone, "GET", "/setup", h.setupPage)
	h.add(pub, permNone, "POST", "/setup", h.setupSubmit)
	h.add(pub, permNone, "GET", "/signin", h.signinPage)
	h.add(pub, permNone, "POST", "/signin", h.signinSubmit)
	h.add(pub, permNone, "POST", "/signout", h.signout)
	h.add(pub, permNone, "POST", OIDCStartPath, h.oidcStart)
	h.add(pub, permNone, "GET", OIDCCallbackPath, h.oidcCallback)

	// The realm callback and connect links: public, protected by state.
	h.add(pub, permNone, "GET", CallbackPath, h.callback)
	h.add(pub, permNone, "GET", "/connect/done", h.connectDone)
	links := withMiddleware{e: e, mw: []echo.MiddlewareFunc{h.withSessionKind(store.SessionConnect), h.csrf}}
	h.add(links, permNone, "GET", "/connect/:token", h.connectLink)

	con := &consoleRoutes{h: h, g: pub}
	con.add(permRead, "GET", "/", h.home)
	con.add(permRead, "GET", "/account/password", h.passwordPage)
	con.add(permRead, "POST", "/account/password", h.passwordSubmit)
	con.add(permAdmin, "GET", "/users", h.usersPage)
	con.add(permAdmin, "POST", "/users", h.userCreate)
	con.add(permAdmin, "POST", "/users/:id", h.userUpdate)
	con.add(permAdmin, "POST", "/users/:id/reset-password", h.userResetPassword)
	con.add(permAdmin, "POST", "/users/:id/delete", h.userDelete)
	con.add(permAdmin, "GET", "/settings", h.settingsPage)
	con.add(permAdmin, "GET", "/settings/sign-in", h.signinSettingsPage)
	con.add(permAdmin, "POST", "/settings/api-keys", h.apiKeyCreate)
	con.add(permAdmin, "POST", "/settings/api-keys/:id/disable", h.apiKeyDisable)
	con.add(permAdmin, "POST", "/settings/api-keys/:id/delete", h.apiKeyDelete)
	con.add(permAdmin, "POST", "/settings/webhook", h.webhookSave)
	con.add(permAdmin, "POST", "/settings/webhook/secret", h.webhookSecret)
	con.add(permAdmin, "POST", "/settings/webhook/test", h.webhookTest)
	con.add(permAdmin, "POST", "/settings/webhook/deliveries/:id/resend", h.webhookResend)
	con.add(permAdmin, "GET", "/audit", h.auditPage)

	h.builderRoutes(con)
	h.accountRoutes(con)
	h.apiRoutes(e)
}

// builderRoutes are the console's integration pages.
func (h *Handler) builderRoutes(con *consoleRoutes) {
	// Integrations (the builder). Static paths (new, import, form, preview)
	// win over :key; those words are reserved as keys.
	con.add(permRead, "GET", "/integrations", h.integrationsPage)
	con.add(permBuild, "GET", "/integrations/new", h.integrationNew)
	con.add(permBuild, "POST", "/integrations", h.integrationCreate)
	con.add(permBuild, "GET", "/integrations/import", h.integrationImportPage)
	con.add(permBuild, "POST", "/integrations/import", h.integrationImport)
	con.add(permBuild, "POST", "/integrations/form", h.integrationFormRows)
	con.add(permBuild, "POST", "/integrations/preview", h.integrationPreview)
	con.add(permRead, "GET", "/integrations/:key", h.integrationDetail)
	con.add(permBuild, "GET", "/integrations/:key/edit", h.integrationEdit)
	con.add(permBuild, "POST", "/integrations/:key", h.integrationUpdate)
	con.add(permBuild, "GET", "/integrations/:key/delete", h.integrationDeletePage)
	con.add(permBuild, "POST", "/integrations/:key/delete", h.integrationDelete)
	con.add(permRead, "GET", "/integrations/:key/export", h.integrationExport)
	con.add(permBuild, "POST", "/redirect-uri/check", h.consoleRedirectCheck)

}

// accountRoutes are the console's account pages and actions.
func (h *Handler) accountRoutes(con *consoleRoutes) {
	con.add(permRead, "GET", "/accounts", h.accountsPage)
	con.add(permRead, "GET", "/accounts/:id", h.accountPage)
	con.add(permRead, "GET", "/accounts/:id/traces", h.tracesPage)
	con.add(permRead, "GET", "/accounts/:id/traces/:trace", h.tracePage)
	con.add(permRead, "GET", "/accounts/:id/traces/:trace/json", h.traceDownload)
	con.add(permRead, "GET", "/activity", h.activityPage)
	con.add(permRead, "GET", "/api", h.apiReferencePage)
	con.add(permBuild, "POST", "/alerts/:id/ack", h.alertAck)
	con.add(permBuild, "GET", "/integrations/:key/accounts/new", h.accountNewPage)
	con.add(permBuild, "POST", "/integrations/:key/accounts", h.accountCreate)
	con.add(permBuild, "GET", "/accounts/:id/edit", h.accountEditPage)
	con.add(permBuild, "POST", "/accounts/:id", h.accountUpdate)
	con.add(permBuild, "POST", "/accounts/:id/connect", h.accountConnect)
	con.add(permBuild, "POST", "/accounts/:id/refresh", h.accountRefresh)
	con.add(permBuild, "POST", "/accounts/:id/connect-link", h.accountConnectLink)
	con.add(permBuild, "POST", "/accounts/:id/disconnect", h.accountDisconnect)
	con.add(permBuild, "POST", "/accounts/:id/delete", h.accountDelete)
	con.add(permBuild, "POST", "/accounts/:id/request", h.accountRequest)
	con.add(permBuild, "POST", "/accounts/:id/check", h.accountCheck)
	con.add(permBuild, "POST", "/accounts/:id/reset-identity", h.accountResetIdentity)
	con.add(permBuild, "POST", "/accounts/:id/credentials", h.accountCredentials)

}

// apiRoutes are the JSON API: Bearer API keys only, never cookies, outside CSRF.
func (h *Handler) apiRoutes(e *echo.Echo) {
	api := &apiRoutes{h: h, g: e.Group("/api/v1")}
	h.add(api.g, permNone, "GET", "/openapi.json", h.openapiJSON) // public: the API's shape, no data (openapi.go)
	api.add(permRead, "GET", "/whoami", h.whoami)
	api.add(permRead, "GET", "/integrations", h.apiIntegrationList)
	api.add(permBuild, "POST", "/integrations", h.apiIntegrationCreate)
	api.add(permRead, "GET", "/integrations/:key", h.apiIntegrationGet)
	api.add(permBuild, "PUT", "/integrations/:key", h.apiIntegrationPut)
	api.action(permBuild, "DELETE", "/integrations/:key", h.apiIntegrationDelete)
	api.add(permRead, "GET", "/presets", h.apiPresetList)
	api.add(permRead, "GET", "/presets/:name", h.apiPresetGet)
	api.add(permBuild, "POST", "/discovery", h.apiDiscovery)
	api.action(permBuild, "POST", "/redirect-uri/check", h.apiRedirectCheck)

	// Accounts API.
	api.add(permBuild, "POST", "/integrations/:key/accounts", h.apiAccountCreate)
	api.add(permRead, "GET", "/integrations/:key/accounts", h.apiAccountList)
	api.add(permRead, "GET", "/accounts/:id", h.apiAccountGet)
	api.add(permBuild, "PATCH", "/accounts/:id", h.apiAccountPatch)
	api.add(permBuild, "PUT", "/accounts/:id/credentials", h.apiAccountCredentials)
	api.action(permBuild, "POST", "/accounts/:id/connect-link", h.apiConnectLink)
	api.action(permBuild, "POST", "/accounts/:id/refresh", h.apiAccountRefresh)
	api.action(permBuild, "POST", "/accounts/:id/disconnect", h.apiAccountDisconnect)
	api.action(permBuild, "POST", "/accounts/:id/reset-identity", h.apiResetIdentity)
	api.action(permBuild, "DELETE", "/accounts/:id", h.apiAccountDelete)
	api.add(permBuild, "POST", "/accounts/:id/request", h.apiRequest)
	api.add(permAdmin, "GET", "/accounts/:id/token", h.apiToken)
	api.add(permRead, "GET", "/accounts/:id/traces", h.apiTraceList)
	api.add(permRead, "GET", "/traces/:id", h.apiTraceGet)
	api.add(permAdmin, "GET", "/audit", h.apiAuditList)
	// The proxy: any method, the path after /proxy joined to the base URL.
	for _, m := range proxyMethods {
		api.add(permBuild, m, "/accounts/:id/proxy", h.apiProxy)
		api.add(permBuild, m, "/accounts/:id/proxy/*", h.apiProxy)
	}

	// What the public listener (AIRLOCK_PUBLIC_ADDR) serves: what browsers
	// outside the organisation and providers must reach, nothing else.
	h.servePublicly("GET /healthz", "GET /static/:version/*", "GET "+CallbackPath, "GET /connect/done",
		"GET /connect/:token", "GET "+OIDCCallbackPath)
}

type router interface {
	Add(method, path string, handler echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// add registers a route and records its permission.
// The route's middleware is put around fn here, once: echo applies a route's
// middleware anew on every request (a closure per layer per request).
func (h *Handler) add(r router, p perm, method, path string, fn echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	for i := len(m) - 1; i >= 0; i-- { // m[0] outermost, as echo orders them
		fn = m[i](fn)
	}
	rt := r.Add(method, path, fn)
	h.routePerms[method+" "+rt.Path] = p
}

// withMiddleware registers routes with middleware in front of each one. An
// echo.Group with middleware would also catch every unmatched path (it adds
// "/*" routes so its middleware runs on 404s), giving unknown API paths a
// session cookie and a CSRF refusal instead of a 404.
type withMiddleware struct {
	e  *echo.Echo
	mw []echo.MiddlewareFunc
}

// Add registers a route behind the middleware, then the route's own.
func (w withMiddleware) Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	all := append(append([]echo.MiddlewareFunc{}, w.mw...), m...)
	for i := len(all) - 1; i >= 0; i-- { // once, as Handler.add does
		h = all[i](h)
	}
	return w.e.Add(method, path, h)
}

type consoleRoutes struct {
	h *Handler
	g router
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

// action registers an API route that takes no body (refresh, delete …).
func (r *apiRoutes) action(p perm, method, path string, fn echo.HandlerFunc) {
	r.h.add(r.g, p, method, path, fn, r.h.requireKey(p), noBody)
}
