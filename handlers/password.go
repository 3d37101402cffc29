package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// passwordPage is the form to change the signed-in user's password.
func (h *Handler) passwordPage(c echo.Context) error {
	id, _ := currentIdentity(c)
	if err := h.noPasswordHere(id); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.ChangePassword(h.userPage(c, "Change password", ""), views.PasswordForm{Forced: id.MustChangePassword}))
}

// passwordSubmit changes the signed-in user's password, ending their other sessions.
func (h *Handler) passwordSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	id, _ := currentIdentity(c)
	if err := h.noPasswordHere(id); err != nil {
		return err
	}
	f := views.PasswordForm{Forced: id.MustChangePassword, Errors: map[string]string{}}
	u, err := h.store.GetUser(ctx, id.UserID)
	if err != nil {
		return err
	}
	if ok, err := h.passwords.verify(ctx, c.FormValue("current"), u.PasswordHash); err != nil {
		return h.busyPage(c, err)
	} else if !ok {
		f.Errors["current"] = "This is not your current password."
	}
	pw := c.FormValue("password")
	if err := store.CheckPassword(pw); err != nil {
		f.Errors["password"] = err.Error() + "."
	} else if pw != c.FormValue("confirm") {
		f.Errors["confirm"] = "The two new passwords differ. Type the same password twice."
	} else if pw == c.FormValue("current") {
		f.Errors["password"] = "Choose a password different from the current one."
	}
	if len(f.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.ChangePassword(h.userPage(c, "Change password", ""), f))
	}
	hash, err := h.passwords.hash(ctx, pw, h.pwParams)
	if err != nil {
		return h.busyPage(c, err)
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
