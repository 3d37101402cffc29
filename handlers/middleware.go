package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// SessionCookie is the name of the one cookie Airlock sets.
const SessionCookie = "airlock_session"

// maxCookieHeader is the Cookie header size past which a request gets the
// cookie-clearing page: well under the 8 KB where proxies start answering 431.
const maxCookieHeader = 6 * 1024

const (
	ctxSession = "airlock.session"
	csrfKey    = "_csrf"
	flashKey   = "_flash"
)

// contentSecurityPolicy allows nothing inline and nothing from elsewhere.
// form-action is left out on purpose: the Connect form's redirect to the
// provider's consent page is a cross-origin form navigation.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// secureHeaders sets the headers every response carries.
func (h *Handler) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if h.cfg.PublicURL.Scheme == "https" {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// logRequests writes one slog line per request (unless AIRLOCK_ACCESS_LOG is
// false): method, path without its query string (the callback's query holds
// the code and state), status and duration. Headers are never logged, so
// neither are cookies nor Authorization. A client that hung up (499) is an
// INFO line, not an error.
func (h *Handler) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		if h.cfg.NoAccessLog {
			return nil
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		path := c.Request().URL.Path
		if c.Path() == "/connect/:token" {
			path = "/connect/[redacted]" // the link's token is a credential
		}
		if strings.HasPrefix(path, "/static/") || path == "/healthz" || path == "/readyz" {
			level = slog.LevelDebug
		}
		h.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("method", c.Request().Method),
			slog.String("path", path),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("peer", c.Request().RemoteAddr),
		)
		return nil
	}
}

// oversizeCookies answers a request with a Cookie header past maxCookieHeader
// with a page that clears the site's cookies, instead of failing with 431 or
// 400 and leaving the browser stuck.
func (h *Handler) oversizeCookies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		size := 0
		for _, v := range r.Header.Values("Cookie") {
			size += len(v)
		}
		if size <= maxCookieHeader {
			return next(c)
		}
		w := c.Response()
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Cache-Control", "no-store")
		// Expire each cookie by name too, for browsers that ignore Clear-Site-Data.
		seen := map[string]bool{}
		for _, ck := range r.Cookies() {
			if !seen[ck.Name] && len(seen) < 200 {
				seen[ck.Name] = true
				http.SetCookie(w, &http.Cookie{Name: ck.Name, Value: "", Path: "/", MaxAge: -1})
			}
		}
		h.log.Warn("cleared oversize cookies", "cookie_header_bytes", size, "cookies", len(seen))
		return h.render(c, http.StatusOK, views.CookieReset(h.basePage(c, "Cookies cleared", "")))
	}
}

// withSession loads the browser session (creating one with a CSRF token on the
// first visit) and keeps it on the context for the handlers.
func (h *Handler) withSession(next echo.HandlerFunc) echo.HandlerFunc {
	return h.withSessionKind(store.SessionConsole)(next)
}

// withSessionKind is withSession where a new session gets the given kind: a
// connect link opens a short, anonymous connect session.
func (h *Handler) withSessionKind(kind string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			return h.loadSession(c, kind, next)
		}
	}
}

func (h *Handler) loadSession(c echo.Context, kind string, next echo.HandlerFunc) error {
	sess, err := h.sessions.Get(c.Request(), SessionCookie)
	if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	if sess.IsNew {
		sess.Values[store.SessionKindKey] = kind
	}
	if _, ok := sess.Values[csrfKey].(string); !ok {
		sess.Values[csrfKey] = randomToken()
		if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
			return fmt.Errorf("save session: %w", err)
		}
	}
	c.Set(ctxSession, sess)
	return next(c)
}

// csrf refuses a state-changing console request that is cross-origin (per
// http.CrossOriginProtection) or lacks the session's token in the _csrf form
// field or the X-CSRF-Token header.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if err := h.cop.Check(r); err != nil {
			return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused. Go back to the console and try again.").SetInternal(err)
		}
		want, _ := session(c).Values[csrfKey].(string)
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue(csrfKey)
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "The form had expired or was not sent from this console. Reload the page and try again.")
		}
		return next(c)
	}
}

// session is the request's browser session (withSession must have run).
func session(c echo.Context) *sessions.Session {
	s, _ := c.Get(ctxSession).(*sessions.Session)
	return s
}

// saveSession writes the session row (the cookie holds only its id).
func (h *Handler) saveSession(c echo.Context) error {
	if err := h.sessions.Save(c.Request(), c.Response(), session(c)); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// flash queues a message for the next page the browser shows. The queue is
// changed in the database row, not saved from this request's copy, so tabs
// that queue and show messages at the same moment do not lose or repeat them.
func (h *Handler) flash(c echo.Context, kind, msg string) error {
	s := session(c)
	if s.ID == "" { // a session that was never saved has no row to queue in
		if err := h.saveSession(c); err != nil {
			return err
		}
	}
	return h.sessions.UpdateValue(c.Request().Context(), s, flashKey, func(old any) any {
		queued, _ := old.([]any)
		return append(queued, kind+"|"+msg)
	})
}

// takeFlashes removes and returns the queued messages.
func (h *Handler) takeFlashes(c echo.Context) []views.Flash {
	s := session(c)
	if s == nil || s.ID == "" {
		return nil
	}
	if _, queued := s.Values[flashKey]; !queued { // none when the request began: no write
		return nil
	}
	var raw []any
	err := h.sessions.UpdateValue(c.Request().Context(), s, flashKey, func(old any) any {
		raw, _ = old.([]any)
		return nil
	})
	if err != nil {
		h.log.Error("take flash messages", "err", err)
		return nil
	}
	if len(raw) == 0 { // another tab showed them first
		return nil
	}
	out := make([]views.Flash, 0, len(raw))
	for _, f := range raw {
		str, _ := f.(string)
		kind, msg, ok := strings.Cut(str, "|")
		if !ok {
			kind, msg = "info", str
		}
		out = append(out, views.Flash{Kind: kind, Message: msg})
	}
	return out
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens on Linux; nothing sensible to do if it does
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionHash is the current session's stable handle (for binding flows to it).
func sessionHash(c echo.Context) string { return store.IDHash(session(c)) }
