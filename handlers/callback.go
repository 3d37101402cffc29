package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// callback is the realm's OAuth redirect URI. It refuses, with 400 and
// without calling the token endpoint, a request whose state is missing,
// unknown, expired, used or from another browser, one carrying an `error`,
// and one whose `iss` does not match the expected issuer. Otherwise it
// exchanges the code at the token endpoint recorded in the pending flow and
// redirects to a URL without code or state.
func (h *Handler) callback(c echo.Context) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	state := q.Get("state")
	if state == "" {
		return h.callbackRefused(c, "The provider sent no state", "The answer from the provider is incomplete, so Airlock cannot tell which connection it belongs to. Start the connection again from the account page.")
	}
	flow, err := h.store.TakeFlow(ctx, state, sessionHash(c))
	switch {
	case errors.Is(err, store.ErrFlowOtherSession):
		// The flow stays: the browser that started it can still complete it.
		return h.callbackRefused(c, "Started in another browser", "This sign-in was started in a different browser or session, so Airlock refused it. Start the connection again in this browser.")
	case errors.Is(err, store.ErrNotFound):
		return h.callbackRefused(c, "Unknown sign-in", "Airlock did not start this sign-in (or it was cleaned up long ago). Start the connection again from the account page.")
	case errors.Is(err, store.ErrFlowUsed):
		return h.callbackRefused(c, "This sign-in was already used", "Each sign-in link works once. If the account is not connected, start the connection again.")
	case errors.Is(err, store.ErrFlowExpired):
		return h.callbackRefused(c, "This sign-in expired", "More than 10 minutes passed between leaving Airlock and coming back. Start the connection again.")
	case err != nil:
		return err
	}
	acct, err := h.store.GetAccount(ctx, flow.AccountID)
	if err != nil {
		return h.callbackRefused(c, "The account is gone", "The account this sign-in was for no longer exists.")
	}
	in, err := h.store.IntegrationWithSecret(ctx, flow.IntegrationID)
	if err != nil {
		return err
	}
	if perr := q.Get("error"); perr != "" {
		said := perr
		if d := q.Get("error_description"); d != "" {
			said += ": " + d
		}
		msg := "The provider answered " + oauthflow.ScrubProviderText(said, oauthflow.SecretsFor(in, acct.Parameters, oauthflow.Token{}))
		h.recordCallbackFailure(ctx, acct.Account, msg)
		return h.callbackRefused(c, "The provider did not grant access", msg+". Start the connection again, and approve the access on the provider's page.")
	}
	if in.OAuth2.Issuer != "" && q.Get("iss") != in.OAuth2.Issuer {
		iss := oauthflow.ScrubProviderText(q.Get("iss"), oauthflow.SecretsFor(in, acct.Parameters, oauthflow.Token{}))
		msg := "The answer came from issuer \"" + iss + "\", but this integration expects \"" + in.OAuth2.Issuer + "\""
		if q.Get("iss") == "" {
			msg = "The answer carries no iss, but this integration expects issuer \"" + in.OAuth2.Issuer + "\""
		}
		h.recordCallbackFailure(ctx, acct.Account, msg)
		return h.callbackRefused(c, "Wrong issuer", msg+". This can be a mix-up attack; check the integration's expected issuer, then start again.")
	}
	code := q.Get("code")
	if code == "" {
		return h.callbackRefused(c, "The provider sent no code", "The answer from the provider has no authorization code. Start the connection again.")
	}
	release, claimed, err := h.claimLink(c, flow)
	if !claimed {
		return err // the refusal page is written, or the error is for the error handler
	}
	in.OAuth2.TokenURL = flow.TokenURL // the endpoint recorded at the start, never one from the request
	tok, err := h.tokens.ExchangeCode(ctx, in, acct.Parameters, code, flow.Verifier, flow.RedirectURI)
	if err != nil {
		release()
		h.recordCallbackFailure(ctx, acct.Account, err.Error())
		status := http.StatusBadGateway
		if oauthflow.Classify(err) != oauthflow.KindTemporary {
			status = http.StatusBadRequest
		}
		msg := err.Error() + ". Check the integration, then start the connection again."
		if _, serr := h.sessionIdentity(c); serr != nil {
			// Someone who opened a connect link: the details (endpoints, settings)
			// are for the console's users, who find them on the account.
			msg = "The provider approved, but Airlock could not complete the connection. Tell the person who sent you the link: the reason is on the account in Airlock."
		}
		return h.renderCallback(c, status, views.CallbackView{Title: "The connection could not be completed", Message: msg})
	}
	actor := "connect link"
	if id, err := h.sessionIdentity(c); err == nil {
		actor = id.Email
	}
	if _, err := h.mgr.Connect(ctx, acct.Account, in, tok, actor); err != nil {
		release()
		return err
	}
	h.reqs.forgetAccount(acct.ID)
	if err := h.store.SpendConnectLinks(ctx, acct.ID); err != nil {
		return err
	}
	if flow.ConnectLink != "" {
		return c.Redirect(http.StatusSeeOther, "/connect/done")
	}
	if err := h.flash(c, "success", "Connected "+acct.Name+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts/"+acct.ID)
}

// linkClaimTTL bounds a connect link's claim when the process dies during
// the exchange (which itself ends within the outbound timeout).
const linkClaimTTL = 2 * time.Minute

// claimLink claims the connect link that started flow, if any, for its code
// exchange: two browsers that opened one link cannot both exchange. It
// returns the function that gives the claim back when the exchange (or the
// save after it) fails; claimed is false when the callback was refused (the
// page is written) or failed (err). A success spends the link with every
// other link of the account.
func (h *Handler) claimLink(c echo.Context, flow store.PendingFlow) (release func(), claimed bool, err error) {
	if flow.ConnectLink == "" {
		return func() {}, true, nil
	}
	ctx := c.Request().Context()
	err = h.store.ClaimConnectLink(ctx, flow.ConnectLink, flow.StateHash, linkClaimTTL)
	switch {
	case errors.Is(err, store.ErrLinkSpent), errors.Is(err, store.ErrNotFound):
		return nil, false, h.callbackRefused(c, "This link was already used", "The account is already connected. If it needs connecting again, ask for a new link.")
	case errors.Is(err, store.ErrLinkInUse):
		return nil, false, h.callbackRefused(c, "This link is in use", "The account is being connected with this link in another browser right now. If that does not succeed, open the link again.")
	case err != nil:
		return nil, false, err
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := h.store.ReleaseConnectLink(rctx, flow.ConnectLink, flow.StateHash); err != nil {
			h.log.Warn("release connect link", "account_id", flow.AccountID, "err", err)
		}
	}, true, nil
}

// recordCallbackFailure puts a failed connection on the account and its activity.
func (h *Handler) recordCallbackFailure(ctx context.Context, acct oauthflow.Account, msg string) {
	ev := oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Error: msg, Kind: oauthflow.KindConfig}
	if err := h.store.RecordRefreshFailure(ctx, acct.ID, ev); err != nil {
		h.log.Warn("record callback failure", "account_id", acct.ID, "err", err)
	}
}

func (h *Handler) callbackRefused(c echo.Context, title, msg string) error {
	return h.renderCallback(c, http.StatusBadRequest, views.CallbackView{Title: title, Message: msg})
}

func (h *Handler) renderCallback(c echo.Context, status int, v views.CallbackView) error {
	p := h.page(c, v.Title, "")
	if id, err := h.sessionIdentity(c); err == nil {
		c.Set(ctxIdentity, id)
		p.User = h.pageUser(c)
	}
	return h.render(c, status, views.Callback(p, v))
}

// connectLink opens a connect link: the browser gets a session (an anonymous,
// 30-minute one unless it has one) and is sent to the provider at once.
func (h *Handler) connectLink(c echo.Context) error {
	ctx := c.Request().Context()
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	link, err := h.store.GetConnectLink(ctx, c.Param("token"))
	if errors.Is(err, store.ErrLinkSpent) {
		return h.renderCallback(c, http.StatusGone, views.CallbackView{Title: "This link was already used",
			Message: "The account was connected with this link. If it needs connecting again, ask for a new link."})
	}
	if errors.Is(err, store.ErrNotFound) {
		return h.renderCallback(c, http.StatusNotFound, views.CallbackView{Title: "This link does not work",
			Message: "The link is mistyped or expired (links work for 30 minutes). Ask the person who sent it for a new one."})
	}
	if err != nil {
		return err
	}
	acct, err := h.store.GetAccount(ctx, link.AccountID)
	if err != nil {
		return err
	}
	in, err := h.store.GetIntegrationByID(ctx, acct.IntegrationID)
	if err != nil {
		return err
	}
	if in.OAuth2.GrantType != oauthflow.GrantAuthorizationCode {
		return h.renderCallback(c, http.StatusConflict, views.CallbackView{Title: "Nothing to sign in to",
			Message: "This account uses client credentials and connects without a person signing in."})
	}
	authURL, err := h.startFlow(c, acct.Account, in, link.TokenHash)
	if err != nil {
		return h.renderCallback(c, http.StatusConflict, views.CallbackView{Title: "Cannot connect yet", Message: err.Error()})
	}
	return c.Redirect(http.StatusSeeOther, authURL)
}

// connectDone is where a connect-link flow ends.
func (h *Handler) connectDone(c echo.Context) error {
	return h.render(c, http.StatusOK, views.Callback(h.page(c, "Connected", ""), views.CallbackView{
		Title: "Connected — you can close this window", Message: "The account is connected. Nothing else is needed here.", Success: true}))
}
