package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/store"
)

// healthz says the process is alive; it touches nothing.
func (h *Handler) healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz says the database answers and takes writes; load balancers send
// traffic only then. While writes fail (a full disk, a lock held too long)
// it answers 503 with the reason, and ready again by itself once they get
// through (a cheap write probe, at most once a second).
func (h *Handler) readyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.log.Error("readiness check failed", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	if err := h.store.WritesOK(ctx); err != nil {
		h.log.Error("readiness check failed: the database refuses writes", "err", err)
		msg := "database refuses writes"
		if reason, fix := store.UnavailableReason(err); reason != "" {
			msg += ": " + reason + "; " + fix
		}
		return c.String(http.StatusServiceUnavailable, msg+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
