package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
)

// accountJSON is the API's account shape. It never carries a token.
type accountJSON struct {
	ID              string              `json:"id"`
	Integration     string              `json:"integration"`
	Name            string              `json:"name"`
	Parameters      map[string]string   `json:"parameters"`
	Status          string              `json:"status"`
	ConnectURL      *string             `json:"connect_url"`
	ExpiresAt       *string             `json:"expires_at"`
	Scopes          []string            `json:"scopes"`
	HasRefreshToken bool                `json:"has_refresh_token"`
	Warnings        []oauthflow.Warning `json:"warnings"`
	LastRefreshedAt *string             `json:"last_refreshed_at"`
	LastError       *string             `json:"last_error"`
	Captured        map[string]string   `json:"captured"` // issue 14 part B
	Identity        *string             `json:"identity"`
	// RefreshTokenExpiresAt is when the refresh token dies (issue 14), null when unknown.
	RefreshTokenExpiresAt *string `json:"refresh_token_expires_at"`
	// Credentials (issue 17) are masked hints, never the values: a secret
	// field as "set, ends in …1234", a plain one as it is.
	Credentials map[string]string `json:"credentials"`
}

func rfc3339OrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func toAccountJSON(a oauthflow.Account, connectURL string) accountJSON {
	j := accountJSON{
		ID: a.ID, Integration: a.IntegrationKey, Name: a.Name, Parameters: a.Parameters, Status: a.Status,
		ExpiresAt: rfc3339OrNil(a.ExpiresAt), Scopes: a.Scopes, HasRefreshToken: a.HasRefreshToken,
		Warnings: a.Warnings, LastRefreshedAt: rfc3339OrNil(a.LastRefreshedAt),
		RefreshTokenExpiresAt: rfc3339OrNil(a.RefreshTokenExpiresAt),
	}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	if j.Warnings == nil {
		j.Warnings = []oauthflow.Warning{}
	}
	if a.Status == oauthflow.StatusPending || a.Status == oauthflow.StatusDisconnected {
		j.ExpiresAt, j.RefreshTokenExpiresAt = nil, nil
	}
	if connectURL != "" {
		j.ConnectURL = &connectURL
	}
	if a.LastError != "" {
		j.LastError = &a.LastError
	}
	j.Captured = a.Captured
	if j.Captured == nil {
		j.Captured = map[string]string{}
	}
	if a.Identity != "" {
		j.Identity = &a.Identity
	}
	j.Credentials = maskedCredentials(a.CredentialHints)
	return j
}

// maskedCredentials copies the stored hints ("set, ends in …1234" for a
// secret field, a plain field's value), never nil.
func maskedCredentials(hints map[string]string) map[string]string {
	out := make(map[string]string, len(hints))
	for k, v := range hints {
		out[k] = v
	}
	return out
}

// accountInput is the body of account create and update.
type accountInput struct {
	Name       *string           `json:"name"`
	Parameters map[string]string `json:"parameters"`
}

// accountCreateInput is the body of account create: credentials for the
// integrations that are not OAuth 2.0 (issue 17).
type accountCreateInput struct {
	Name        *string           `json:"name"`
	Parameters  map[string]string `json:"parameters"`
	Credentials map[string]string `json:"credentials"`
}

// credentialsInput is the body of PUT /api/v1/accounts/{id}/credentials.
type credentialsInput struct {
	Credentials map[string]string `json:"credentials"`
}

// apiAccountCredentials: PUT /api/v1/accounts/{id}/credentials replaces
// the account's credentials and connects it with them (custom_token: after
// a fetch; a failed one still answers 200, status error and last_error).
func (h *Handler) apiAccountCredentials(c echo.Context) error {
	var body credentialsInput
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.Credentials == nil {
		return apiErr("invalid_fields", "Some fields are not valid: see fields.", map[string]string{"credentials": "Give the credentials, e.g. {\"token\": \"…\"}."})
	}
	me, _ := currentIdentity(c)
	res, err := h.accounts.SetCredentials(c.Request().Context(), c.Param("id"), body.Credentials, me.Label())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(res.Account, ""))
}

// apiAccountCreate: POST /api/v1/integrations/{key}/accounts. An
// authorization-code account comes back pending with a connect_url; a
// client-credentials account gets its token at once (connected, or error with
// last_error — still 201).
func (h *Handler) apiAccountCreate(c echo.Context) error {
	var body accountCreateInput
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	res, err := h.accounts.Create(c.Request().Context(), c.Param("key"), oauthflow.NewAccount{Name: trimmed(body.Name),
		Parameters: body.Parameters, Actor: me.Label(), Connect: true, Credentials: body.Credentials})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAccountJSON(res.Account, res.ConnectURL))
}

// trimmed is an optional name without surrounding space ("" when absent).
func trimmed(name *string) string {
	if name == nil {
		return ""
	}
	return strings.TrimSpace(*name)
}

// apiAccountGet: GET /api/v1/accounts/{id}.
func (h *Handler) apiAccountGet(c echo.Context) error {
	r, err := h.apiAccount(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(r.Account, ""))
}

// apiAccount loads the route's account or answers 404 in the API's shape.
func (h *Handler) apiAccount(c echo.Context) (store.AccountRow, error) {
	r, err := h.store.GetAccount(c.Request().Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return r, apiErr("not_found", "No account has the id "+c.Param("id")+".", nil)
	}
	return r, err
}

// apiAccountList: GET /api/v1/integrations/{key}/accounts.
func (h *Handler) apiAccountList(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := h.store.GetIntegration(ctx, c.Param("key"))
	if errors.Is(err, store.ErrNotFound) {
		return apiErr("not_found", "No integration has the key "+c.Param("key")+".", nil)
	}
	if err != nil {
		return err
	}
	p, err := readListParams(c)
	if err != nil {
		return err
	}
	rows, next, err := h.store.ListAccounts(ctx, store.AccountFilter{IntegrationID: in.ID, Q: p.Q}, p.Limit, p.Cursor)
	if errors.Is(err, store.ErrNotFound) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	items := make([]accountJSON, 0, len(rows))
	for _, r := range rows {
		items = append(items, toAccountJSON(r.Account, ""))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

// apiAccountPatch: PATCH /api/v1/accounts/{id} with name and/or parameters;
// changed parameters of a credential destination revoke and delete the
// tokens first (see Accounts.Update).
func (h *Handler) apiAccountPatch(c echo.Context) error {
	var body accountInput
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ch := oauthflow.AccountChange{Parameters: body.Parameters}
	if body.Name != nil {
		name := trimmed(body.Name)
		ch.Name = &name
	}
	ch.Actor = actorLabel(c)
	upd, err := h.accounts.Update(c.Request().Context(), c.Param("id"), ch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccountJSON(upd.Account, ""))
}

// apiConnectLink: POST /api/v1/accounts/{id}/connect-link.
func (h *Handler) apiConnectLink(c echo.Context) error {
	me, _ := currentIdentity(c)
	link, exp, err := h.accounts.ConnectLink(c.Request().Context(), c.Param("id"), me.Label())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"connect_url": link, "expires_at": exp.UTC().Format(time.RFC3339)})
}

// apiAccountRefresh: POST /api/v1/accounts/{id}/refresh → the account, the
// refresh's error (if any) in last_error.
func (h *Handler) apiAccountRefresh(c echo.Context) error {
	me, _ := currentIdentity(c)
	res, err := h.accounts.Refresh(c.Request().Context(), c.Param("id"), me.Label())
	if err != nil {
		return err
	}
	j := toAccountJSON(res.Account, "")
	if res.Err != nil {
		msg := res.Err.Error()
		j.LastError = &msg
	}
	return c.JSON(http.StatusOK, j)
}

// apiAccountDisconnect: POST /api/v1/accounts/{id}/disconnect → {"revoked": bool}.
func (h *Handler) apiAccountDisconnect(c echo.Context) error {
	return h.apiDisconnect(c, false)
}

// apiAccountDelete: DELETE /api/v1/accounts/{id} → {"revoked": bool}.
func (h *Handler) apiAccountDelete(c echo.Context) error {
	return h.apiDisconnect(c, true)
}

func (h *Handler) apiDisconnect(c echo.Context, remove bool) error {
	do := h.accounts.Disconnect
	if remove {
		do = h.accounts.Delete
	}
	d, err := do(c.Request().Context(), c.Param("id"), actorLabel(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"revoked": d.Revoked})
}
