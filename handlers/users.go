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
			MustChange: u.MustChangePassword, Created: u.CreatedAt, IsMe: u.ID == me.UserID})
	}
	if isHTMX(c) && created != nil {
		return h.render(c, status, views.UsersBody(views.UsersView{Rows: rows, Form: f, Created: created, CSRF: csrfToken(c)}))
	}
	p := h.userPage(c, "Users", "users")
	return h.render(c, status, views.Users(p, views.UsersView{Rows: rows, Form: f, Created: created, CSRF: p.CSRF}))
}

// userCreate invites a user: Airlock makes a temporary password, shows it once,
// and the user must change it at first sign-in.
func (h *Handler) userCreate(c echo.Context) error {
	ctx := c.Request().Context()
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
