package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// callback is the realm's OAuth redirect URI: the accounts service completes
// the flow (or refuses it, with 400 and without calling the token endpoint:
// see CompleteCallback), and the browser goes on to a URL without code or
// state.
func (h *Handler) callback(c echo.Context) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	if v := c.QueryParam(oauthflow.ProbeParam); v != "" {
		return h.answerProbe(c, v)
	}
	user := ""
	if id, err := h.sessionIdentity(c); err == nil {
		user = id.Email
		h.setActor(c, id)
	}
	done, err := h.accounts.CompleteCallback(c.Request().Context(), oauthflow.CallbackRequest{
		Query: c.Request().URL.Query(), SessionHash: sessionHash(c), User: user})
	if err != nil {
		return h.refusalWithBack(c, err, h.connectTrace(c, user, done.TraceID), callbackBack(user, done.Account.ID))
	}
	if done.ViaLink {
		return c.Redirect(http.StatusSeeOther, "/connect/done")
	}
	if err := h.flash(c, "success", "Connected "+done.Account.Name+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts/"+done.Account.ID)
}

// refusal shows a refused callback or connect link on a page of its own;
// any other error goes to the error handler.
func (h *Handler) refusal(c echo.Context, err error) error {
	return h.refusalWithTrace(c, err, "")
}

// refusalWithTrace is refusal with a link to the failed connect's trace
// ("" for none).
func (h *Handler) refusalWithTrace(c echo.Context, err error, traceURL string) error {
	return h.refusalWithBack(c, err, traceURL, "")
}

// refusalWithBack is refusalWithTrace with a way back into the console
// ("" for none).
func (h *Handler) refusalWithBack(c echo.Context, err error, traceURL, back string) error {
	e := oauthflow.ErrorOf(err)
	if e.Title == "" {
		return err
	}
	v := views.CallbackView{Title: e.Title, Message: e.Message, TraceURL: traceURL, Back: back, BackLabel: "Back to the account"}
	if back == "/accounts" {
		v.BackLabel = "Go to the accounts"
	}
	return h.renderCallback(c, statusFor(e.Code), v)
}

// callbackBack leads a console user from a failed connect back to its
// account, or to the accounts when the answer named none (an unknown or
// expired state). Someone who came through a connect link gets no link into
// a console they cannot use.
func callbackBack(user, accountID string) string {
	switch {
	case user == "":
		return ""
	case accountID != "":
		return "/accounts/" + accountID
	}
	return "/accounts"
}

// connectTrace is the console link of a failed connect's trace, for a
// signed-in console user only: someone who opened a connect link is told
// no details (see CompleteCallback). A failed read only loses the link.
func (h *Handler) connectTrace(c echo.Context, user string, id int64) string {
	if user == "" || id == 0 {
		return ""
	}
	t, err := h.store.Trace(c.Request().Context(), id)
	if err != nil {
		h.log.Warn("find a connect's trace", "trace_id", id, "err", err)
		return ""
	}
	return traceLink(t.AccountID, t.ID)
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
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	authURL, err := h.accounts.OpenLink(c.Request().Context(), c.Param("token"), h.flowSession(c))
	if err != nil {
		return h.refusal(c, err)
	}
	return c.Redirect(http.StatusSeeOther, authURL)
}

// flowSession is the browser session a flow is bound to, saved first when
// it never was (it has no id to bind to before).
func (h *Handler) flowSession(c echo.Context) func() (string, error) {
	return func() (string, error) {
		if session(c).ID == "" {
			if err := h.saveSession(c); err != nil {
				return "", err
			}
		}
		return store.IDHash(session(c)), nil
	}
}

// connectDone is where a connect-link flow ends.
func (h *Handler) connectDone(c echo.Context) error {
	return h.render(c, http.StatusOK, views.Callback(h.page(c, "Connected", ""), views.CallbackView{
		Title: "Connected — you can close this window", Message: "The account is connected. Nothing else is needed here.", Success: true}))
}
