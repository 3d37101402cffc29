package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// usersPage lists the users (admin).
func (h *Handler) usersPage(c echo.Context) error {
	return h.renderUsers(c, http.StatusOK, views.UserForm{Role: store.RoleBuilder}, nil)
}

func (h *Handler) renderUsers(c echo.Context, status int, f views.UserForm, created *views.CreatedUser) error {
	us, err := h.store.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	rows := make([]views.UserRow, 0, len(us))
	for _, u := range us {
		rows = append(rows, views.UserRow{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.Disabled(),
			MustChange: u.MustChangePassword, Created: u.CreatedAt, IsMe: u.ID == me.UserID,
			SignsIn: h.signsIn(u), SSO: u.SSO(), CanReset: h.canResetPassword(u), LastSignIn: u.LastSignInAt})
	}
	v := views.UsersView{Rows: rows, Form: f, Created: created, NoInvite: h.cfg.NoPasswordSignIn}
	if h.cfg.OIDC.Enabled() {
		v.SSOName = h.cfg.OIDC.Name
	}
	if isHTMX(c) && created != nil {
		v.CSRF = csrfToken(c)
		return h.render(c, status, views.UsersBody(v))
	}
	p := h.userPage(c, "Users", "users")
	v.CSRF = p.CSRF
	return h.render(c, status, views.Users(p, v))
}

// signsIn words how a user signs in, for the users page.
func (h *Handler) signsIn(u store.User) string {
	switch {
	case u.SSO():
		return "single sign-on"
	case u.Local:
		return "password (break-glass)"
	case h.cfg.NoPasswordSignIn:
		return "password (turned off)"
	}
	return "password"
}

// canResetPassword: a password user whose password can be used to sign in.
func (h *Handler) canResetPassword(u store.User) bool {
	return !u.SSO() && (!h.cfg.NoPasswordSignIn || u.Local)
}

// userCreate invites a user: Airlock makes a temporary password, shows it once,
// and the user must change it at first sign-in.
func (h *Handler) userCreate(c echo.Context) error {
	ctx := c.Request().Context()
	if h.cfg.NoPasswordSignIn {
		return echo.NewHTTPError(http.StatusConflict, "Password sign-in is off: invited users could not sign in. People sign in with "+h.cfg.OIDC.Name+"; break-glass users are made with airlock user create --local.")
	}
	f := views.UserForm{Email: store.NormalizeEmail(c.FormValue("email")), Role: c.FormValue("role"), Errors: map[string]string{}}
	if msg := checkEmail(f.Email); msg != "" {
		f.Errors["email"] = msg
	}
	if !store.ValidRole(f.Role) {
		f.Errors["role"] = "Choose a role: admin, builder or viewer."
	}
	if len(f.Errors) > 0 {
		return h.renderUsers(c, http.StatusUnprocessableEntity, f, nil)
	}
	temp := randomToken()[:20]
	hash, err := h.passwords.hash(ctx, temp, h.pwParams)
	if err != nil {
		return h.busyPage(c, err)
	}
	u, err := h.store.CreateUser(ctx, f.Email, hash, f.Role, true)
	if errors.Is(err, store.ErrConflict) {
		f.Errors["email"] = "A user with this email already exists."
		return h.renderUsers(c, http.StatusUnprocessableEntity, f, nil)
	}
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	h.log.Info("user created", "user_id", u.ID, "role", u.Role, "by", me.Label())
	return h.renderUsers(c, http.StatusOK, views.UserForm{Role: store.RoleBuilder},
		&views.CreatedUser{Email: u.Email, Role: u.Role, TempPassword: temp})
}

// userUpdate changes a user's role or disables / enables them; the last
// enabled admin can be neither demoted nor disabled.
func (h *Handler) userUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	var msg string
	switch action := c.FormValue("action"); action {
	case "role":
		role := c.FormValue("role")
		if !store.ValidRole(role) {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "Choose a role: admin, builder or viewer.")
		}
		if u, gerr := h.store.GetUser(ctx, id); gerr != nil {
			return gerr
		} else if u.SSO() {
			return echo.NewHTTPError(http.StatusConflict, "This user signs in with single sign-on: their role comes from their groups at every sign-in. Change their groups at the identity provider.")
		}
		err, msg = h.store.SetUserRole(ctx, id, role), "Role changed to "+role+"."
	case "disable", "enable":
		err, msg = h.store.SetUserDisabled(ctx, id, action == "disable"), "User "+action+"d."
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown action: use role, disable or enable.")
	}
	if errors.Is(err, store.ErrLastAdmin) {
		if err := h.flash(c, "error", "This is the last enabled admin: make another user admin first."); err != nil {
			return err
		}
		return seeOther(c, "/users")
	}
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	h.log.Info("user updated", "user_id", id, "action", c.FormValue("action"), "by", me.Label())
	if err := h.flash(c, "success", strings.TrimSpace(msg)); err != nil {
		return err
	}
	return seeOther(c, "/users")
}

// userResetPassword gives a password user a temporary password, shown once
// as at an invitation, which they must change at their next sign-in; their
// sessions end at once.
func (h *Handler) userResetPassword(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	u, err := h.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	me, _ := currentIdentity(c)
	switch {
	case u.ID == me.UserID:
		return h.flashBack(c, "error", "To change your own password, use Password at the top of the page.")
	case u.SSO():
		return h.flashBack(c, "error", u.Email+" signs in with single sign-on and has no Airlock password to reset.")
	case !h.canResetPassword(u):
		return h.flashBack(c, "error", "Password sign-in is off: only break-glass users sign in with a password, and "+u.Email+" is not one.")
	}
	temp := randomToken()[:20]
	hash, err := h.passwords.hash(ctx, temp, h.pwParams)
	if err != nil {
		return h.busyPage(c, err)
	}
	if err := h.store.ResetPassword(ctx, u.ID, hash); err != nil {
		return err
	}
	h.log.Info("user password reset", "user_id", u.ID, "by", me.Label())
	return h.renderUsers(c, http.StatusOK, views.UserForm{Role: store.RoleBuilder},
		&views.CreatedUser{Email: u.Email, Role: u.Role, TempPassword: temp, Reset: true})
}

// userDelete removes a user, never oneself nor the last enabled admin.
func (h *Handler) userDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	me, _ := currentIdentity(c)
	u, err := h.store.DeleteUser(c.Request().Context(), id, me.UserID)
	switch {
	case errors.Is(err, store.ErrSelf):
		return h.flashBack(c, "error", "You cannot delete your own user. Ask another admin.")
	case errors.Is(err, store.ErrLastAdmin):
		return h.flashBack(c, "error", "This is the last enabled admin: make another user admin first.")
	case err != nil:
		return err
	}
	h.log.Info("user deleted", "user_id", u.ID, "by", me.Label())
	return h.flashBack(c, "success", "User "+u.Email+" is deleted.")
}

// flashBack queues a message and returns to the users page.
func (h *Handler) flashBack(c echo.Context, kind, msg string) error {
	if err := h.flash(c, kind, msg); err != nil {
		return err
	}
	return seeOther(c, "/users")
}
