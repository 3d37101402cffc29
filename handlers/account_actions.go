package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/views"
)

// accountConnect starts a connection: the consent redirect for an
// authorization-code integration, an immediate token for client credentials.
func (h *Handler) accountConnect(c echo.Context) error {
	res, err := h.accounts.Connect(c.Request().Context(), c.Param("id"), oauthflow.ConnectRequest{Session: h.flowSession(c)})
	switch {
	case err != nil:
		return err
	case !res.ClientCredentials:
		return seeOther(c, res.AuthURL)
	}
	kind, msg, link := "success", "Connected: a client-credentials token was issued.", ""
	if res.Failure != nil {
		kind, msg = "error", "The token request failed: "+res.Failure.Error()
		link = h.newestTrace(c.Request().Context(), c.Param("id"))
	}
	if err := h.flashLink(c, kind, msg, link); err != nil {
		return err
	}
	return seeOther(c, "/accounts/"+c.Param("id"))
}

// accountRefresh refreshes now and answers with the status partial.
func (h *Handler) accountRefresh(c echo.Context) error {
	res, err := h.accounts.Refresh(c.Request().Context(), c.Param("id"), actorLabel(c))
	switch {
	case err != nil:
		return err
	case res.Refused:
		return res.Err
	case res.Err != nil:
		return h.accountStatusPartial(c, res.Account.ID, nil, "")
	}
	return h.accountStatusPartial(c, res.Account.ID, nil, "Refreshed: a new token is stored.")
}

// accountStatusPartial answers an htmx action with the refreshed status card
// (or, without htmx, redirects back to the account page).
func (h *Handler) accountStatusPartial(c echo.Context, id string, link *views.ConnectLinkVM, notice string) error {
	if !isHTMX(c) && link == nil {
		if notice != "" {
			if err := h.flash(c, "success", notice); err != nil {
				return err
			}
		}
		return seeOther(c, "/accounts/"+id)
	}
	v, err := h.accountView(c, id)
	if err != nil {
		return err
	}
	v.ConnectLink = link
	if !isHTMX(c) {
		return h.render(c, http.StatusOK, views.AccountPage(h.userPage(c, v.Account.Name, "accounts"), v))
	}
	v.Notice = notice
	return h.render(c, http.StatusOK, views.AccountStatusUpdate(v))
}

// accountConnectLink makes a 30-minute connect link and shows it.
func (h *Handler) accountConnectLink(c echo.Context) error {
	link, exp, err := h.accounts.ConnectLink(c.Request().Context(), c.Param("id"), actorLabel(c))
	if err != nil {
		return err
	}
	return h.accountStatusPartial(c, c.Param("id"), &views.ConnectLinkVM{URL: link, Expires: exp.Format("15:04 MST")}, "")
}

// accountDisconnect revokes and deletes the tokens.
func (h *Handler) accountDisconnect(c echo.Context) error {
	d, err := h.accounts.Disconnect(c.Request().Context(), c.Param("id"), actorLabel(c))
	if err != nil {
		return err
	}
	notice := "Disconnected: the tokens were revoked at the provider and deleted here."
	switch {
	case !d.RevokeEndpoint:
		notice = "Disconnected: the tokens were deleted here. The integration has no revoke endpoint, so the provider was not told."
	case !d.Revoked:
		notice = "Disconnected: the tokens were deleted here, but the provider did not confirm the revocation (see Activity)."
	}
	return h.accountStatusPartial(c, d.Account.ID, nil, notice)
}

// accountDelete disconnects (revoking) and removes the account.
func (h *Handler) accountDelete(c echo.Context) error {
	d, err := h.accounts.Delete(c.Request().Context(), c.Param("id"), actorLabel(c))
	if err != nil {
		return err
	}
	if err := h.flash(c, "success", "Account "+d.Account.Name+" deleted; its tokens were revoked where the provider allows it."); err != nil {
		return err
	}
	return seeOther(c, "/integrations/"+url.PathEscape(d.Account.IntegrationKey))
}
