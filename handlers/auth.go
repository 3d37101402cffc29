package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// perm is what a route needs. Every route is registered with one, and the one
// check (allows) decides for the console and the API alike.
type perm int

const (
	permNone  perm = iota // public: setup, sign-in, health, static, the OAuth callback
	permRead              // any role: viewer, builder, admin
	permBuild             // builder or admin: change integrations and accounts, send requests
	permAdmin             // admin only: users, API keys, settings, raw tokens
)

func (p perm) String() string {
	return [...]string{"public", "viewer", "builder", "admin"}[p]
}

// roleRank orders the roles.
func roleRank(role string) perm {
	switch role {
	case store.RoleAdmin:
		return permAdmin
	case store.RoleBuilder:
		return permBuild
	case store.RoleViewer:
		return permRead
	}
	return permNone
}

// allows is the single authorization rule: a role may do what its rank covers.
func allows(role string, p perm) bool {
	return p == permNone || roleRank(role) >= p
}

// identity is who is making the request: a console user or an API key.
type identity struct {
	UserID  int64
	Email   string
	KeyID   int64
	KeyName string
	Role    string
	// MustChangePassword sends a user with a temporary password to change it first.
	MustChangePassword bool
	// SSO: the user signs in through the identity provider.
	SSO bool
}

// Label names the actor in activity records and audit lines.
func (id identity) Label() string {
	if id.KeyID != 0 {
		return "api key " + id.KeyName
	}
	return id.Email
}

const ctxIdentity = "airlock.identity"

func currentIdentity(c echo.Context) (identity, bool) {
	id, ok := c.Get(ctxIdentity).(identity)
	return id, ok
}

// requireUser is the console's gate: a signed-in, enabled user whose role
// allows p. Anyone else is sent to setup (no users yet) or sign-in.
func (h *Handler) requireUser(p perm) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, err := h.sessionIdentity(c)
			if errors.Is(err, store.ErrNotFound) {
				return h.toSignIn(c)
			}
			if err != nil {
				return err
			}
			c.Set(ctxIdentity, id)
			h.setActor(c, id)
			path := c.Request().URL.Path
			if id.MustChangePassword && path != "/account/password" && path != "/signout" {
				return seeOther(c, "/account/password")
			}
			if !allows(id.Role, p) {
				return echo.NewHTTPError(http.StatusForbidden,
					fmt.Sprintf("This needs the %s role; you are signed in as %s. Ask an admin if you need it.", p, id.Role))
			}
			return next(c)
		}
	}
}

// sessionIdentity loads the signed-in user; ErrNotFound when nobody is signed
// in or the user has since been disabled or deleted.
func (h *Handler) sessionIdentity(c echo.Context) (identity, error) {
	s := session(c)
	uid, ok := s.Values[store.SessionUserKey].(int64)
	if !ok {
		return identity{}, store.ErrNotFound
	}
	u, err := h.store.GetUser(c.Request().Context(), uid)
	if err != nil {
		return identity{}, err
	}
	if u.Disabled() || !h.mayUseSignIn(u) {
		return identity{}, store.ErrNotFound
	}
	return identity{UserID: u.ID, Email: u.Email, Role: u.Role, MustChangePassword: u.MustChangePassword, SSO: u.SSO()}, nil
}

// mayUseSignIn reports whether the way a user signs in is still on, so that
// a session made before a change of settings ends with it: a password user
// once password sign-in is off (unless break-glass), a single sign-on user
// once single sign-on is off or names another issuer.
func (h *Handler) mayUseSignIn(u store.User) bool {
	if u.SSO() {
		return h.cfg.OIDC.Enabled() && u.OIDCIssuer == h.cfg.OIDC.Issuer
	}
	return !h.cfg.NoPasswordSignIn || u.Local
}

// toSignIn sends an anonymous browser to first-run setup or to sign-in,
// remembering where it was going.
func (h *Handler) toSignIn(c echo.Context) error {
	n, err := h.store.CountUsers(c.Request().Context())
	if err != nil {
		return err
	}
	if n == 0 {
		return seeOther(c, "/setup")
	}
	to := "/signin"
	if r := c.Request(); r.Method == http.MethodGet && r.URL.Path != "/" {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	return seeOther(c, to)
}

// pageUser is the signed-in user as the layout shows them.
func (h *Handler) pageUser(c echo.Context) *views.User {
	id, ok := currentIdentity(c)
	if !ok || id.UserID == 0 {
		return nil
	}
	return &views.User{Email: id.Email, Role: id.Role, IsAdmin: id.Role == store.RoleAdmin, SSO: id.SSO}
}

// userPage is page() for a signed-in user: the layout with their name.
func (h *Handler) userPage(c echo.Context, title, nav string) views.Page {
	p := h.page(c, title, nav)
	p.User = h.pageUser(c)
	if n, err := h.store.CountOpenAlerts(c.Request().Context()); err == nil {
		p.Alerts = n
	}
	return p
}

// safeNext keeps a post-sign-in redirect on this site: a path, never a URL
// that could send the browser elsewhere. Browsers drop tabs and line breaks
// from URLs and read "\" as "/", so "/\t/evil.example" would become
// "//evil.example": any control character or backslash is refused outright.
func safeNext(next string) string {
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

// sameSite reports whether a URL (a Referer) is on this deployment, so a
// redirect back to it cannot send the browser elsewhere.
func sameSite(raw, public string) bool {
	return raw == public || strings.HasPrefix(raw, public+"/")
}
