package handlers

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// sessionEnded tells a form sent from a signed-in page after its session
// ended elsewhere (signed out in another tab, expired, ended by an admin)
// from a forged one: the browser still holds the console's cookie and sent
// a token, but no session row answers to the cookie any more. A forged post
// from another site fails the cross-origin check before this.
func (h *Handler) sessionEnded(c echo.Context, got string) bool {
	s := session(c)
	if got == "" || strings.Contains(got, ".") || s == nil || s.ID != "" {
		return false // no token, a pre-sign-in form token (time.mac), or a live session
	}
	_, ok := h.sessions.BrowserID(c.Request(), SessionCookie)
	return ok
}

// sessionEndedError says the session ended and offers sign-in, coming back to
// the page the form was on. An htmx form shows it beside itself (HX-Trigger
// names the form), the rest of the page left as it was.
func (h *Handler) sessionEndedError(c echo.Context) error {
	if id := c.Request().Header.Get("HX-Trigger"); isHTMX(c) && validElementID(id) {
		c.Response().Header().Set("HX-Retarget", "#"+id)
		c.Response().Header().Set("HX-Reswap", "beforebegin")
	}
	return &sessionEndedErr{next: safeNext(refererPath(c))}
}

// sessionEndedErr is the error a form sent after its session ended answers:
// 401, with a sign-in link that comes back to the form's page.
type sessionEndedErr struct{ next string }

func (e *sessionEndedErr) Error() string { return "session ended before the form was sent" }

// refererPath is the path (and query) of the page a form was sent from, when
// the browser said and it is this site's; "/" otherwise.
func refererPath(c echo.Context) string {
	u, err := url.Parse(c.Request().Referer())
	if err != nil || u.Host != c.Request().Host {
		return "/"
	}
	return u.RequestURI()
}

// validElementID accepts the ids the console's templates give forms, so a
// header cannot smuggle a CSS selector into HX-Retarget.
func validElementID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
