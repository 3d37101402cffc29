package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
)

// integrationList is the API's list answer.
type integrationList struct {
	Items      []integrationBody `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// newIntegrationBase is what a JSON create or replace is decoded onto: the
// zero integration with PKCE on, since a missing "pkce" cannot be told from
// false afterwards. Not oauthflow.DefaultIntegration: its filled-in token
// defaults would stop Normalize from choosing the query defaults when the
// JSON says "in": "query".
func newIntegrationBase() oauthflow.Integration {
	return oauthflow.Integration{OAuth2: oauthflow.OAuth2{PKCE: true}}
}

// getIntegrationAPI reads the :key integration, as a 404 not_found when it
// does not exist.
func (h *Handler) getIntegrationAPI(c echo.Context) (oauthflow.Integration, error) {
	in, err := h.store.GetIntegration(c.Request().Context(), c.Param("key"))
	if errors.Is(err, store.ErrNotFound) {
		return in, oauthflow.IntegrationNotFound(c.Param("key"))
	}
	return in, err
}

// apiIntegrationList lists integrations: ?q= searches names and keys,
// ?limit= (default 50, at most 200) and ?cursor= page.
func (h *Handler) apiIntegrationList(c echo.Context) error {
	lp, err := readListParams(c)
	if err != nil {
		return err
	}
	items, next, err := h.store.ListIntegrations(c.Request().Context(), lp.Q, lp.Limit, lp.Cursor)
	if errors.Is(err, store.ErrNotFound) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	out := integrationList{Items: make([]integrationBody, 0, len(items)), NextCursor: next}
	for _, it := range items {
		out.Items = append(out.Items, h.integrationOut(it.Integration))
	}
	return c.JSON(http.StatusOK, out)
}

// apiIntegrationGet returns one integration, without its client secret.
func (h *Handler) apiIntegrationGet(c echo.Context) error {
	in, err := h.getIntegrationAPI(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.integrationOut(in))
}

// apiIntegrationCreate creates an integration; the client secret is required.
func (h *Handler) apiIntegrationCreate(c echo.Context) error {
	in, err := h.readIntegrationBody(c)
	if err != nil {
		return err
	}
	if err := h.checkPreset(in); err != nil {
		return err
	}
	saved, err := h.accounts.CreateIntegration(c.Request().Context(), integrationChange(c, in, nil, true))
	if oauthflow.CodeOf(err) == oauthflow.CodeConflict {
		return keyConflict(err, ": choose another key, or PUT to replace it.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, h.integrationOut(saved))
}

// apiIntegrationPut replaces the whole integration. An omitted or empty
// client_secret keeps the stored one; the key may change only while no
// account uses the integration.
func (h *Handler) apiIntegrationPut(c echo.Context) error {
	in, err := h.readIntegrationBody(c)
	if err != nil {
		return err
	}
	if err := h.checkPreset(in); err != nil {
		return err
	}
	saved, err := h.accounts.UpdateIntegration(c.Request().Context(), c.Param("key"), integrationChange(c, in, nil, false))
	if oauthflow.CodeOf(err) == oauthflow.CodeConflict {
		return keyConflict(err, ": choose another key.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.integrationOut(saved))
}

// keyConflict is the API's 409 for a key another integration has, with
// what to do.
func keyConflict(err error, fix string) error {
	msg := oauthflow.ErrorOf(err).Message + fix
	return apiErr(oauthflow.CodeConflict, msg, map[string]string{"key": msg})
}

// apiIntegrationDelete revokes the accounts' tokens, deletes the integration
// and its accounts, and says how many accounts went.
func (h *Handler) apiIntegrationDelete(c echo.Context) error {
	_, n, err := h.accounts.DeleteIntegration(c.Request().Context(), c.Param("key"), actorLabel(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"deleted_accounts": n})
}

// integrationChange is an integration to save, on behalf of the request's
// user or key.
func integrationChange(c echo.Context, in oauthflow.Integration, parsed oauthflow.FieldErrors, requireSecret bool) oauthflow.IntegrationChange {
	me, _ := currentIdentity(c)
	return oauthflow.IntegrationChange{Integration: in, Parsed: parsed, RequireSecret: requireSecret,
		Admin: me.Role == store.RoleAdmin, Actor: me.Label()}
}

// publicIntegration is what leaves Airlock: the integration without its
// client secret, whatever the caller put in it.
func publicIntegration(in oauthflow.Integration) oauthflow.Integration {
	in.OAuth2.ClientSecret = ""
	in.OAuth2.ClientSecretLast4 = ""
	return in
}
