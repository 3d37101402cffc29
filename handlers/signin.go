package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// Sign-in rate limit: this many failures per window, per account and per address.
const (
	signinLimit  = 5
	signinWindow = time.Minute
)

func (h *Handler) signinPage(c echo.Context) error {
	if _, err := h.sessionIdentity(c); err == nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if n, err := h.store.CountUsers(c.Request().Context()); err != nil {
		return err
	} else if n == 0 {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	f := h.signinForm(c.QueryParam("next"))
	return h.render(c, http.StatusOK, views.SignIn(h.page(c, "Sign in", ""), f))
}

// signinForm is the sign-in page's state: the single sign-on button when it
// is on, the password form under "Break-glass sign-in" when passwords are off.
func (h *Handler) signinForm(next string) views.SignInForm {
	f := views.SignInForm{Next: safeNext(next), BreakGlass: h.cfg.NoPasswordSignIn}
	if h.cfg.OIDC.Enabled() {
		f.SSOName = h.cfg.OIDC.Name
	}
	return f
}

// signinSubmit checks an email and password, rate-limited per account and
// per client address. The attempt is reserved against both limits before the
// password is checked, so attempts sent at once check no more passwords than
// the limit allows. The same message answers an unknown email and a wrong
// password, and both cost one password hash, so neither reveals which it was.
func (h *Handler) signinSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	email := store.NormalizeEmail(c.FormValue("email"))
	if len(email) > 254 { // no address is longer; a huge one must not become a huge rate-limit row
		email = email[:254]
	}
	f := h.signinForm(c.FormValue("next"))
	f.Email = email
	scopes := []string{"email:" + email, "ip:" + clientAddr(c.Request(), h.cfg.TrustedProxies).String()}
	u, err := h.store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	res, blocked, wait, err := h.reserveAttempt(ctx, scopes...)
	if err != nil {
		return err
	}
	if wait > 0 {
		f.Error = tooManySignins(blocked, wait)
		return h.render(c, http.StatusTooManyRequests, views.SignIn(h.page(c, "Sign in", ""), f))
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = h.dummyHash
	}
	ok, err := h.passwords.verify(ctx, c.FormValue("password"), hash)
	if errors.Is(err, errPasswordsBusy) {
		// Nothing was checked: the attempt is given back, not counted.
		if err := h.store.ReleaseSigninAttempt(context.WithoutCancel(ctx), res); err != nil {
			return err
		}
		f.Error = busyMessage
		c.Response().Header().Set("Retry-After", passwordRetryAfter)
		return h.render(c, http.StatusServiceUnavailable, views.SignIn(h.page(c, "Sign in", ""), f))
	}
	if err != nil {
		return err
	}
	if !ok || u.ID == 0 || u.Disabled() { // the reserved rows stay, as the failure
		f.Error = "The email or password is not right. Check both and try again."
		reason := "wrong email or password"
		if ok && u.Disabled() {
			f.Error, reason = "This account is disabled. Ask an admin to enable it.", "disabled"
		}
		return h.signinRefused(c, http.StatusUnauthorized, f, reason)
	}
	if h.cfg.NoPasswordSignIn && !u.Local { // the reserved rows stay: passwords are not a way in
		f.Error = "Password sign-in is turned off. Sign in with " + h.cfg.OIDC.Name + "; only break-glass users made with airlock user create --local sign in with a password."
		return h.signinRefused(c, http.StatusForbidden, f, "password sign-in is off")
	}
	if err := h.store.ReleaseSigninAttempt(ctx, res, scopes[0]); err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return seeOther(c, f.Next)
}

// tooManySignins says which limit a refused sign-in hit and when to retry.
func tooManySignins(blocked string, wait time.Duration) string {
	what := "this account"
	if strings.HasPrefix(blocked, "ip:") {
		what = "your address"
	}
	return fmt.Sprintf("Too many failed sign-ins for %s. Try again in %d s.", what, secondsUp(wait))
}

// busyPage turns errPasswordsBusy into the 503 error page; other errors pass.
func (h *Handler) busyPage(c echo.Context, err error) error {
	if !errors.Is(err, errPasswordsBusy) {
		return err
	}
	c.Response().Header().Set("Retry-After", passwordRetryAfter)
	return echo.NewHTTPError(http.StatusServiceUnavailable, busyMessage).SetInternal(err)
}

// busyMessage answers a sign-in that found every password-check slot taken.
const busyMessage = "Airlock is busy checking other sign-ins. Try again in a few seconds."

// reserveAttempt takes one attempt from each scope's limit. When a scope is
// at its limit it returns that scope and how long until its oldest failure
// leaves the window, and reserves nothing.
func (h *Handler) reserveAttempt(ctx context.Context, scopes ...string) (store.SigninReservation, string, time.Duration, error) {
	res, err := h.store.ReserveSigninAttempt(ctx, signinWindow, signinLimit, scopes...)
	var lim *store.SigninLimitError
	if errors.As(err, &lim) {
		return res, lim.Scope, max(lim.Oldest.Add(signinWindow).Sub(h.now()), time.Second), nil
	}
	return res, "", 0, err
}

func secondsUp(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// signIn binds the user to a fresh session id and records the sign-in.
func (h *Handler) signIn(c echo.Context, u store.User) error {
	s := session(c)
	s.Values[store.SessionUserKey] = u.ID
	s.Values[csrfKey] = randomToken()
	if err := h.sessions.Renew(c.Request(), c.Response(), s); err != nil {
		return err
	}
	return h.store.RecordSignIn(c.Request().Context(), u.ID)
}

// noPasswordHere refuses the password pages to a single sign-on user,
// whose password (if any) is the identity provider's business.
func (h *Handler) noPasswordHere(id identity) error {
	if !id.SSO {
		return nil
	}
	return echo.NewHTTPError(http.StatusConflict, "You sign in with "+h.cfg.OIDC.Name+": your password is kept by your identity provider, not by Airlock. Change it there.")
}

// signout ends the session's sign-in and renews its id.
func (h *Handler) signout(c echo.Context) error {
	s := session(c)
	if s.ID == "" { // nobody is signed in: nothing to end, nothing to write
		return seeOther(c, "/signin")
	}
	delete(s.Values, store.SessionUserKey)
	s.Values[csrfKey] = randomToken()
	if err := h.sessions.Renew(c.Request(), c.Response(), s); err != nil {
		return err
	}
	if err := h.flash(c, "info", "You are signed out."); err != nil {
		return err
	}
	return seeOther(c, "/signin")
}

// checkEmail returns what is wrong with an email address, or "".
func checkEmail(e string) string {
	if e == "" {
		return "Enter an email address."
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e, "@") || len(e) > 254 {
		return "Enter an email address such as ada@example.com."
	}
	return ""
}

// signinSettingsPage shows how this deployment signs people in, and the
// redirect URI to register at the identity provider (admin).
func (h *Handler) signinSettingsPage(c echo.Context) error {
	o := h.cfg.OIDC
	v := views.SignInSettingsView{
		PasswordSignIn: !h.cfg.NoPasswordSignIn, SSO: o.Enabled(), Name: o.Name, Issuer: o.Issuer, ClientID: o.ClientID,
		SecretSet: o.ClientSecret != "", Scopes: o.Scopes, RoleClaim: o.RoleClaim, AdminGroups: o.AdminGroups,
		BuilderGroups: o.BuilderGroups, ViewerGroups: o.ViewerGroups, RedirectURI: h.cfg.PublicURL.String() + OIDCCallbackPath,
	}
	return h.render(c, http.StatusOK, views.SignInSettings(h.userPage(c, "Sign-in", "settings"), v))
}
