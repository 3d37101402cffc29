package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// oidcStart begins a single sign-on: a pending flow in the database (state,
// nonce and PKCE verifier, bound to this browser's session, which is made
// now if the browser has none yet), then the provider's sign-in page. It is
// a POST with the CSRF token, like every form, so that no page load writes.
func (h *Handler) oidcStart(c echo.Context) error {
	if h.oidc == nil {
		return echo.ErrNotFound
	}
	ctx := c.Request().Context()
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	to, err := h.oidc.AuthURL(ctx, state, nonce, verifier)
	if err != nil {
		return h.ssoProblem(c, err)
	}
	if session(c).ID == "" {
		if err := h.saveSession(c); err != nil {
			return err
		}
	}
	now := h.now()
	f := store.OIDCFlow{SessionHash: sessionHash(c), Verifier: verifier, Next: safeNext(c.FormValue("next")),
		CreatedAt: now, ExpiresAt: now.Add(oidcFlowTTL)}
	if err := h.store.CreateOIDCFlow(ctx, state, nonce, f); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// oidcCallback finishes a single sign-on: the flow of the state (this
// browser's, unused, unexpired), the code exchanged with its verifier, the
// ID token checked, then the user found by the provider's subject (or
// created), given the role of their groups, and signed in.
func (h *Handler) oidcCallback(c echo.Context) error {
	if h.oidc == nil {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Referrer-Policy", "no-referrer") // the URL holds the code
	ctx := c.Request().Context()
	q := c.QueryParams()
	if q.Get("state") == "" {
		return h.ssoProblem(c, &oauthflow.Error{Code: oauthflow.CodeBadRequest, Title: "This sign-in link is incomplete",
			Message: "It has no state, so it did not come from a sign-in Airlock started. Start again from the sign-in page."})
	}
	f, err := h.store.TakeOIDCFlow(ctx, q.Get("state"), sessionHash(c))
	if err != nil {
		return h.ssoProblem(c, flowProblem(err))
	}
	c.Set(ctxSSOAttempt, true)
	if e := q.Get("error"); e != "" {
		msg := "It answered " + truncateText(e, 100)
		if d := q.Get("error_description"); d != "" {
			msg += ": " + truncateText(d, 300)
		}
		return h.ssoProblem(c, &oauthflow.Error{Code: oauthflow.CodeForbidden, Title: "The identity provider did not sign you in",
			Message: msg + ". Sign in again, or ask your administrator if you should have access.", Err: errors.New("provider error " + e)})
	}
	login, err := h.oidc.Exchange(ctx, q.Get("code"), f.Verifier, f.NonceMatches)
	if err != nil {
		return h.ssoProblem(c, err)
	}
	h.setActorName(c, login.Email)
	role := h.cfg.OIDC.RoleFor(login.Groups)
	if role == "" {
		return h.ssoProblem(c, h.noGroupProblem(login))
	}
	u, created, err := h.store.SignInOIDCUser(ctx, store.OIDCIdentity{Issuer: h.cfg.OIDC.Issuer, Subject: login.Subject, Email: login.Email, Role: role})
	if err != nil {
		return err
	}
	if u.Disabled() {
		return h.ssoProblem(c, &oauthflow.Error{Code: oauthflow.CodeForbidden, Title: "Your Airlock account is disabled",
			Message: "You signed in at " + h.cfg.OIDC.Name + " as " + u.Email + ", but an Airlock admin has disabled this account. Ask an admin to enable it.",
			Err:     fmt.Errorf("user %d is disabled", u.ID)})
	}
	if created {
		h.log.Info("user created by single sign-on", "user_id", u.ID, "role", u.Role)
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	h.log.Info("signed in with single sign-on", "user_id", u.ID, "role", u.Role)
	if err := h.flash(c, "success", fmt.Sprintf("Signed in with %s as %s.", h.cfg.OIDC.Name, u.Role)); err != nil {
		return err
	}
	return seeOther(c, f.Next)
}

// noGroupProblem is the refusal of a user whose groups give no role: it
// says which groups would, so they know what to ask for.
func (h *Handler) noGroupProblem(l oauthflow.OIDCLogin) error {
	o := h.cfg.OIDC
	var want []string
	for _, g := range o.RoleGroups() {
		if len(g.Groups) > 0 {
			want = append(want, g.Role+": "+strings.Join(g.Groups, ", "))
		}
	}
	msg := fmt.Sprintf("You signed in at %s as %s, but you are in none of the groups that give a role in Airlock. Ask your administrator to add you to one of them (%s).",
		o.Name, l.Email, strings.Join(want, "; "))
	if !l.ClaimFound {
		msg = fmt.Sprintf("You signed in at %s as %s, but the provider sent no %q claim with your groups, so Airlock cannot give you a role. Ask your administrator to have the provider include it in the ID token or userinfo, and to add you to one of the groups that give a role (%s).",
			o.Name, l.Email, o.RoleClaim, strings.Join(want, "; "))
	}
	return &oauthflow.Error{Code: oauthflow.CodeForbidden, Title: "You have no role in Airlock", Message: msg,
		Err: fmt.Errorf("no role for groups %q", l.Groups)}
}

// flowProblem words why a callback's state was refused.
func flowProblem(err error) error {
	e := &oauthflow.Error{Code: oauthflow.CodeBadRequest, Title: "This sign-in cannot be finished", Err: err}
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.Message = "Airlock did not start this sign-in, or it was cleared long ago. Start again from the sign-in page."
	case errors.Is(err, store.ErrFlowOtherSession):
		e.Message = "It was started in another browser, or this browser's session ended meanwhile. Start again from the sign-in page in this browser."
	case errors.Is(err, store.ErrFlowUsed):
		e.Message = "It was already completed. If you are not signed in, start again from the sign-in page."
	case errors.Is(err, store.ErrFlowExpired):
		e.Message = "It took more than 10 minutes. Start again from the sign-in page."
	default:
		return err
	}
	return e
}

// ssoProblem shows a single sign-on that cannot go on, or passes on any
// other error to the error handler.
func (h *Handler) ssoProblem(c echo.Context, err error) error {
	var se *oauthflow.Error
	if !errors.As(err, &se) || se.Title == "" {
		return err
	}
	status, reason := statusFor(se.Code), se.Title
	if se.Err != nil {
		reason += ": " + se.Err.Error()
	}
	h.log.Warn("single sign-on refused", "status", status, "reason", reason)
	if c.Get(ctxSSOAttempt) != nil { // a sign-in this browser started: not a stranger's stray callback
		if err := h.auditFailedSignIn(c.Request().Context(), "oidc", "", truncateText(reason, 300)); err != nil {
			return err
		}
	}
	p := h.page(c, se.Title, "")
	return h.render(c, status, views.SSOProblem(p, views.SSOProblemView{Title: se.Title, Message: se.Message}))
}

// truncateText shortens text from the query to what a page should repeat.
func truncateText(s string, n int) string {
	r := []rune(strings.ToValidUTF8(s, "?"))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
