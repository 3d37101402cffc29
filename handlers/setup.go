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
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
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
	return h.render(c, http.StatusOK, views.Setup(h.page(c, "Set up", ""), h.setupForm()))
}

// setupForm is the setup page's state: the single sign-on button when it
// is on, no password form when password sign-in is off.
func (h *Handler) setupForm() views.SetupForm {
	f := views.SetupForm{NoPassword: h.cfg.NoPasswordSignIn, Errors: map[string]string{}}
	if h.cfg.OIDC.Enabled() {
		f.SSOName = h.cfg.OIDC.Name
	}
	return f
}

// setupSubmit creates the first admin from the setup code, an email and a
// password. Wrong codes are limited per address like sign-ins, the attempt
// reserved before the code is compared.
func (h *Handler) setupSubmit(c echo.Context) error {
	if err := h.setupDone(c); err != nil {
		return err
	}
	if h.cfg.NoPasswordSignIn {
		return echo.NewHTTPError(http.StatusForbidden, "Password sign-in is off (AIRLOCK_PASSWORD_SIGNIN=false): sign in with "+h.cfg.OIDC.Name+" to become the first user.")
	}
	ctx := c.Request().Context()
	f := h.setupForm()
	f.Email = strings.TrimSpace(c.FormValue("email"))
	scope := "setup-ip:" + clientAddr(c.Request(), h.cfg.TrustedProxies).String()
	res, _, wait, err := h.reserveAttempt(ctx, scope)
	if err != nil {
		return err
	} else if wait > 0 {
		f.Errors["_form"] = fmt.Sprintf("Too many wrong setup codes from this address. Try again in %d s.", secondsUp(wait))
		return h.render(c, http.StatusTooManyRequests, views.Setup(h.page(c, "Set up", ""), f))
	}
	if ok, err := h.checkSetupCode(ctx, c.FormValue("code")); err != nil {
		return err
	} else if ok {
		f.Code = strings.TrimSpace(c.FormValue("code"))
		if err := h.store.ReleaseSigninAttempt(ctx, res); err != nil {
			return err
		}
	} else { // the reserved row stays, as this address's failure
		f.Errors["code"] = "This is not the current setup code. Copy it from the latest \"setup code\" line in the server log."
	}
	if msg := checkEmail(f.Email); msg != "" {
		f.Errors["email"] = msg
	}
	pw := c.FormValue("password")
	if err := store.CheckPassword(pw); err != nil {
		f.Errors["password"] = err.Error() + "."
	}
	if len(f.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.Setup(h.page(c, "Set up", ""), f))
	}
	hash, err := h.passwords.hash(ctx, pw, h.pwParams)
	if errors.Is(err, errPasswordsBusy) {
		f.Errors["_form"] = busyMessage
		c.Response().Header().Set("Retry-After", passwordRetryAfter)
		return h.render(c, http.StatusServiceUnavailable, views.Setup(h.page(c, "Set up", ""), f))
	}
	if err != nil {
		return err
	}
	return h.finishSetup(c, f.Email, hash)
}

// checkSetupCode compares a code with the current one's hash.
func (h *Handler) checkSetupCode(ctx context.Context, code string) (bool, error) {
	want, err := h.store.GetSetting(ctx, store.SettingSetupCode)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	h.codeChecks.Add(1)
	got := hashSetupCode(code)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

// finishSetup creates the first admin and signs them in.
func (h *Handler) finishSetup(c echo.Context, email, hash string) error {
	u, err := h.store.CreateFirstAdmin(c.Request().Context(), email, hash)
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
