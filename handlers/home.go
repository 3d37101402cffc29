package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/views"
)

// home is the dashboard.
func (h *Handler) home(c echo.Context) error {
	return h.render(c, http.StatusOK, views.Home(h.userPage(c, "Dashboard", "home"), views.HomeView{}))
}
