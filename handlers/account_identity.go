package handlers

import (
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"airlock/views"
)

// apiResetIdentity: POST /api/v1/accounts/{id}/reset-identity → the
// account, its identity cleared: the next connect records a new one.
func (h *Handler) apiResetIdentity(c echo.Context) error {
	a, err := h.accounts.ResetIdentity(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(a, ""))
}

// accountResetIdentity is the account page's "Reset identity" button.
func (h *Handler) accountResetIdentity(c echo.Context) error {
	a, err := h.accounts.ResetIdentity(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.flash(c, "success", "Identity reset: the next connect records whoever signs in at the provider."); err != nil {
		return err
	}
	return seeOther(c, "/accounts/"+url.PathEscape(a.ID))
}

// capturedKVs are captured values in name order, for the account page.
func capturedKVs(m map[string]string) []views.KV {
	var out []views.KV
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, views.KV{Name: k, Value: m[k]})
	}
	return out
}
