package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
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

// setupAlphabet avoids look-alike characters (0/O, 1/I/L) in the setup code.
const setupAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// StartSetup runs at start-up: while no user exists it makes a new one-time
// setup code, keeps its hash in the database, and prints the code in the log.
func (h *Handler) StartSetup(ctx context.Context) error {
	n, err := h.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("setup code: %w", err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(setupAlphabet[int(c)%len(setupAlphabet)])
	}
	code := sb.String()
	if err := h.store.SetSetting(ctx, store.SettingSetupCode, hashSetupCode(code)); err != nil {
		return err
	}
	h.log.Warn("first-run setup: open the console and enter this setup code", "setup_code", code,
		"url", h.cfg.PublicURL.String()+"/setup")
	return nil
}

func hashSetupCode(code string) string {
	norm := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte(norm))
	return hex.EncodeToString(sum[:])
}

// setupDone answers 404 for the setup page once a user exists.
func (h *Handler) setupDone(c echo.Context) error {
	n, err := h.store.CountUsers(c.Request().Context())
	if err != nil {
		return err
	}
	if n > 0 {
		return echo.ErrNotFound
	}
	return nil
}

func (h *Handler) setupPage(c echo.Context) error {
	if err := h.setupDone(c); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.Setup(h.page(c, "Set up", ""), views.SetupForm{}))
}

// setupSubmit creates the first admin from the setup code, an email and a password.
func (h *Handler) setupSubmit(c echo.Context) error {
	if err := h.setupDone(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := views.SetupForm{Email: strings.TrimSpace(c.FormValue("email")), Errors: map[string]string{}}
	if wait, err := h.signinBlocked(ctx, "setup-ip:"+clientAddr(c.Request(), h.cfg.TrustedProxies).String()); err != nil {
		return err
	} else if wait > 0 {
		f.Errors["_form"] = fmt.Sprintf("Too many wrong setup codes from this address. Try again in %d s.", secondsUp(wait))
		return h.render(c, http.StatusTooManyRequests, views.Setup(h.page(c, "Set up", ""), f))
	}
	want, err := h.store.GetSetting(ctx, store.SettingSetupCode)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	got := hashSetupCode(c.FormValue("code"))
	if want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		f.Code = strings.TrimSpace(c.FormValue("code"))
	} else {
		f.Errors["code"] = "This is not the current setup code. Copy it from the latest \"setup code\" line in the server log."
		if err := h.store.RecordSigninFailure(ctx, "setup-ip:"+clientAddr(c.Request(), h.cfg.TrustedProxies).String()); err != nil {
			return err
		}
	}
	if msg := checkEmail(f.Email); msg != "" {
		f.Errors["email"] = msg
	}
	pw := c.FormValue("password")
	if err := CheckPassword(pw); err != nil {
		f.Errors["password"] = err.Error() + "."
	}
	if len(f.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.Setup(h.page(c, "Set up", ""), f))
	}
	hash, err := HashPassword(pw, h.pwParams)
	if err != nil {
		return err
	}
	u, err := h.store.CreateFirstAdmin(ctx, f.Email, hash)
	if errors.Is(err, store.ErrConflict) {
		return echo.ErrNotFound // someone else finished setup a moment ago
	}
	if err != nil {
		return err
	}
	h.log.Info("first admin created", "user_id", u.ID)
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := h.flash(c, "success", "Welcome to Airlock. Your admin account is ready."); err != nil {
		return err
	}
	return seeOther(c, "/")
}

func (h *Handler) signinPage(c echo.Context) error {
	if _, err := h.sessionIdentity(c); err == nil {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	if n, err := h.store.CountUsers(c.Request().Context()); err != nil {
		return err
	} else if n == 0 {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	f := views.SignInForm{Next: safeNext(c.QueryParam("next"))}
	return h.render(c, http.StatusOK, views.SignIn(h.page(c, "Sign in", ""), f))
}

// signinSubmit checks an email and password, rate-limited per account and
// per client address. The same message answers an unknown email and a wrong
// password, and both cost one password hash, so neither reveals which it was.
func (h *Handler) signinSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	email := store.NormalizeEmail(c.FormValue("email"))
	if len(email) > 254 { // no address is longer; a huge one must not become a huge rate-limit row
		email = email[:254]
	}
	f := views.SignInForm{Email: email, Next: safeNext(c.FormValue("next"))}
	scopes := []string{"email:" + email, "ip:" + clientAddr(c.Request(), h.cfg.TrustedProxies).String()}
	for _, sc := range scopes {
		wait, err := h.signinBlocked(ctx, sc)
		if err != nil {
			return err
		}
		if wait > 0 {
			what := "this account"
			if strings.HasPrefix(sc, "ip:") {
				what = "your address"
			}
			f.Error = fmt.Sprintf("Too many failed sign-ins for %s. Try again in %d s.", what, secondsUp(wait))
			return h.render(c, http.StatusTooManyRequests, views.SignIn(h.page(c, "Sign in", ""), f))
		}
	}
	u, err := h.store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = h.dummyHash
	}
	ok, err := VerifyPassword(c.FormValue("password"), hash)
	if err != nil {
		return err
	}
	if !ok || u.ID == 0 || u.Disabled() {
		if err := h.store.RecordSigninFailure(ctx, scopes...); err != nil {
			return err
		}
		f.Error = "The email or password is not right. Check both and try again."
		if ok && u.Disabled() {
			f.Error = "This account is disabled. Ask an admin to enable it."
		}
		return h.render(c, http.StatusUnauthorized, views.SignIn(h.page(c, "Sign in", ""), f))
	}
	if err := h.store.ClearSigninFailures(ctx, scopes[0]); err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return seeOther(c, f.Next)
}

// signinBlocked returns how long a scope must wait, or 0.
func (h *Handler) signinBlocked(ctx context.Context, scope string) (time.Duration, error) {
	now := h.now()
	n, oldest, err := h.store.SigninFailures(ctx, scope, now.Add(-signinWindow))
	if err != nil || n < signinLimit {
		return 0, err
	}
	return max(oldest.Add(signinWindow).Sub(now), time.Second), nil
}

func secondsUp(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// signIn binds the user to a fresh session id.
func (h *Handler) signIn(c echo.Context, u store.User) error {
	s := session(c)
	s.Values[store.SessionUserKey] = u.ID
	s.Values[csrfKey] = randomToken()
	return h.sessions.Renew(c.Request(), c.Response(), s)
}

// signout ends the session's sign-in and renews its id.
func (h *Handler) signout(c echo.Context) error {
	s := session(c)
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

func (h *Handler) passwordPage(c echo.Context) error {
	id, _ := currentIdentity(c)
	return h.render(c, http.StatusOK, views.ChangePassword(h.userPage(c, "Change password", ""), views.PasswordForm{Forced: id.MustChangePassword}))
}

// passwordSubmit changes the signed-in user's password, ending their other sessions.
func (h *Handler) passwordSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	id, _ := currentIdentity(c)
	f := views.PasswordForm{Forced: id.MustChangePassword, Errors: map[string]string{}}
	u, err := h.store.GetUser(ctx, id.UserID)
	if err != nil {
		return err
	}
	if ok, err := VerifyPassword(c.FormValue("current"), u.PasswordHash); err != nil {
		return err
	} else if !ok {
		f.Errors["current"] = "This is not your current password."
	}
	pw := c.FormValue("password")
	if err := CheckPassword(pw); err != nil {
		f.Errors["password"] = err.Error() + "."
	} else if pw != c.FormValue("confirm") {
		f.Errors["confirm"] = "The two new passwords differ. Type the same password twice."
	} else if pw == c.FormValue("current") {
		f.Errors["password"] = "Choose a password different from the current one."
	}
	if len(f.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.ChangePassword(h.userPage(c, "Change password", ""), f))
	}
	hash, err := HashPassword(pw, h.pwParams)
	if err != nil {
		return err
	}
	if err := h.store.SetPassword(ctx, u.ID, hash, false); err != nil {
		return err
	}
	if err := h.store.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := h.flash(c, "success", "Your password is changed. Other sessions were signed out."); err != nil {
		return err
	}
	return seeOther(c, "/")
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
