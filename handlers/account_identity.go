package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
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
	return h.accountStatusPartial(c, a.ID, nil, "Identity reset: the next connect records whoever signs in at the provider.")
}
