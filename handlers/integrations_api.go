package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// integrationList is the API's list answer.
type integrationList struct {
	Items      []oauthflow.Integration `json:"items"`
	NextCursor string                  `json:"next_cursor"`
}

// newIntegrationBase is what a JSON create or replace is decoded onto: the
// zero integration with PKCE on, since a missing "pkce" cannot be told from
// false afterwards. Not oauthflow.DefaultIntegration: its filled-in token
// defaults would stop Normalize from choosing the query defaults when the
// JSON says "in": "query".
func newIntegrationBase() oauthflow.Integration {
	return oauthflow.Integration{OAuth2: oauthflow.OAuth2{PKCE: true}}
}

// invalidFields is the API's 422 for validation problems.
func invalidFields(fe oauthflow.FieldErrors) error {
	msg := fmt.Sprintf("The integration has %s: see fields.", views.Plural(len(fe), "problem", "problems"))
	return apiErr("invalid_fields", msg, fe)
}

func integrationNotFound(key string) error {
	return apiErr("not_found",
		fmt.Sprintf("No integration has the key %q: check it, or list them with GET /api/v1/integrations.", truncate(key, 64)), nil)
}

// getIntegrationAPI reads the :key integration, as a 404 not_found when it
// does not exist.
func (h *Handler) getIntegrationAPI(c echo.Context) (oauthflow.Integration, error) {
	in, err := h.store.GetIntegration(c.Request().Context(), c.Param("key"))
	if errors.Is(err, store.ErrNotFound) {
		return in, integrationNotFound(c.Param("key"))
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
	out := integrationList{Items: make([]oauthflow.Integration, 0, len(items)), NextCursor: next}
	for _, it := range items {
		out.Items = append(out.Items, publicIntegration(it.Integration))
	}
	return c.JSON(http.StatusOK, out)
}

// apiIntegrationGet returns one integration, without its client secret.
func (h *Handler) apiIntegrationGet(c echo.Context) error {
	in, err := h.getIntegrationAPI(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, publicIntegration(in))
}

// apiIntegrationCreate creates an integration; the client secret is required.
func (h *Handler) apiIntegrationCreate(c echo.Context) error {
	in := newIntegrationBase()
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if fe := checkIntegration(&in, oauthflow.ValidateOptions{RequireSecret: true}, nil); fe != nil {
		return invalidFields(fe)
	}
	me, _ := currentIdentity(c)
	if fe, err := h.adminChanges(c.Request().Context(), me, nil, in); err != nil || fe != nil {
		return cmp.Or(err, forbiddenFields(fe))
	}
	saved, err := h.store.CreateIntegration(c.Request().Context(), in)
	if errors.Is(err, store.ErrConflict) {
		msg := fmt.Sprintf("An integration with the key %s already exists: choose another key, or PUT to replace it.", in.Key)
		return apiErr("conflict", msg, map[string]string{"key": msg})
	}
	if err != nil {
		return err
	}
	id, _ := currentIdentity(c)
	h.log.Info("integration saved", "key", saved.Key, "created", true, "by", id.Label())
	return c.JSON(http.StatusCreated, publicIntegration(saved))
}

// apiIntegrationPut replaces the whole integration. An omitted or empty
// client_secret keeps the stored one; the key may change only while no
// account uses the integration.
func (h *Handler) apiIntegrationPut(c echo.Context) error {
	ctx := c.Request().Context()
	old, err := h.getIntegrationAPI(c)
	if err != nil {
		return err
	}
	in := newIntegrationBase()
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if fe := checkIntegration(&in, oauthflow.ValidateOptions{}, nil); fe != nil {
		return invalidFields(fe)
	}
	accounts, err := h.store.CountAccounts(ctx, old.ID)
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	if fe, err := h.adminChanges(ctx, me, &old, in); err != nil || fe != nil {
		return cmp.Or(err, forbiddenFields(fe))
	}
	if fe := secretReentry(old, in); fe != nil {
		return invalidFields(fe)
	}
	saved, err := h.store.UpdateIntegration(ctx, old.Key, in)
	switch {
	case errors.Is(err, store.ErrNotFound): // deleted meanwhile
		return integrationNotFound(old.Key)
	case errors.Is(err, store.ErrKeyInUse):
		fe, _ := storeProblem(err, in.Key, accounts)
		return invalidFields(fe)
	case errors.Is(err, store.ErrConflict):
		msg := fmt.Sprintf("An integration with the key %s already exists: choose another key.", in.Key)
		return apiErr("conflict", msg, map[string]string{"key": msg})
	case err != nil:
		return err
	}
	h.accounts.InvalidateAll()
	id, _ := currentIdentity(c)
	h.log.Info("integration saved", "key", saved.Key, "created", false, "by", id.Label())
	return c.JSON(http.StatusOK, publicIntegration(saved))
}

// apiIntegrationDelete revokes the accounts' tokens, deletes the integration
// and its accounts, and says how many accounts went.
func (h *Handler) apiIntegrationDelete(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := h.getIntegrationAPI(c)
	if err != nil {
		return err
	}
	if err := h.disconnectAllAccounts(ctx, in); err != nil {
		return err
	}
	n, err := h.store.DeleteIntegration(ctx, in.Key)
	if errors.Is(err, store.ErrNotFound) {
		return integrationNotFound(in.Key)
	}
	if err != nil {
		return err
	}
	h.accounts.InvalidateAll()
	id, _ := currentIdentity(c)
	h.log.Info("integration deleted", "key", in.Key, "accounts", n, "by", id.Label())
	return c.JSON(http.StatusOK, map[string]int{"deleted_accounts": n})
}
