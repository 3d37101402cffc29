package handlers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The public listener (AIRLOCK_PUBLIC_ADDR) is a second address serving the
// same router, restricted to the routes that browsers outside the
// organisation and providers must reach: the OAuth callback, connect links,
// the single sign-on callback, static files and /healthz. Everything else —
// the console, the API, /metrics, /readyz — answers 404 there, as if it did
// not exist, so that the console need not be exposed to the internet.

// publicListenerKey marks a request that came in on the public listener.
type publicListenerKey struct{}

// servePublicly records the routes ("METHOD /path", as in the route table)
// the public listener serves; each must be a route.
func (h *Handler) servePublicly(routes ...string) {
	h.public = map[string]bool{}
	for _, r := range routes {
		if _, ok := h.routePerms[r]; !ok {
			panic(fmt.Sprintf("handlers: public route %s is not in the route table", r)) // a programming error, caught by every test
		}
		h.public[r] = true
	}
}

// PublicHandler is the public listener's handler: the router, told that
// the request came in on the public listener.
func (h *Handler) PublicHandler(e *echo.Echo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), publicListenerKey{}, true)))
	})
}

// publicOnly answers 404, plain and the same for every path, to a request on
// the public listener for a route it does not serve. It runs after routing
// (c.Path is the matched route), so a served path with another method is
// refused too.
func (h *Handler) publicOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Context().Value(publicListenerKey{}) == nil || h.public[r.Method+" "+c.Path()] {
			return next(c)
		}
		return c.String(http.StatusNotFound, "404 page not found\n")
	}
}
