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
	// ctxBrowserID is the cookie id of a browser without a session row;
	// ctxFormToken makes that browser's CSRF token (csrfToken calls it).
	ctxBrowserID = "airlock.browser"
	ctxFormToken = "airlock.formtoken"
	csrfKey      = "_csrf"
	flashKey     = "_flash"
)

// contentSecurityPolicy allows nothing inline and nothing from elsewhere.
// form-action is left out on purpose: the Connect form's redirect to the
// provider's consent page is a cross-origin form navigation.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// secureHeaders sets the headers every response carries but the proxy's
// (whose headers are the upstream's). The values are made once and shared
// (Header.Set and Add replace or grow a value's slice, never write into it),
// outside the func(next), which echo calls on every request: built inside,
// the map was the largest allocation of a proxied request.
func (h *Handler) secureHeaders() echo.MiddlewareFunc {
	fixed := map[string][]string{
		"Content-Security-Policy":    {contentSecurityPolicy},
		"X-Content-Type-Options":     {"nosniff"},
		"X-Frame-Options":            {"DENY"},
		"Referrer-Policy":            {"same-origin"},
		"Cross-Origin-Opener-Policy": {"same-origin"},
	}
	if h.cfg.PublicURL.Scheme == "https" {
		fixed["Strict-Transport-Security"] = []string{"max-age=31536000"}
	}
	for k, v := range fixed {
		fixed[k] = v[:1:1] // an append copies, so the shared value never changes
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if isProxyRoute(c.Path()) {
				return next(c)
			}
			hd := c.Response().Header()
			for k, v := range fixed {
				hd[k] = v
			}
			return next(c)
		}
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
		ctx := c.Request().Context()
		if !h.log.Enabled(ctx, level) {
			return nil
		}
		// A record of our own, without the caller's program counter that
		// LogAttrs looks up on every line (runtime.Callers showed in a
		// profile under load); the handlers print no source anyway.
		rec := slog.NewRecord(time.Now(), level, "request", 0)
		rec.AddAttrs(
			slog.String("method", c.Request().Method),
			slog.String("path", path),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("peer", c.Request().RemoteAddr),
		)
		_ = h.log.Handler().Handle(ctx, rec)
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
		for _, v := range r.Header["Cookie"] { // the canonical name, without canonicalising it per request
			size += len(v)
		}
		if size <= maxCookieHeader {
			return next(c)
		}
		w := c.Response()
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Cache-Control", "no-store")
		// Expire each cookie by name too, for browsers that ignore Clear-Site-Data.
		names := cookieNames(r.Header.Values("Cookie"), 200)
		for _, name := range names {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1})
		}
		h.log.Warn("cleared oversize cookies", "cookie_header_bytes", size, "cookies", len(names))
		return h.render(c, http.StatusOK, views.CookieReset(h.basePage(c, "Cookies cleared", "")))
	}
}

// cookieNames returns up to limit distinct, valid cookie names from Cookie
// header lines. Unlike r.Cookies(), it makes nothing for the cookies it does
// not return: a 1 MiB header can hold 100,000 tiny cookies.
func cookieNames(lines []string, limit int) []string {
	var names []string
	seen := map[string]bool{}
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
			if name == "" || seen[name] || strings.ContainsFunc(name, notTokenChar) {
				continue
			}
			seen[name] = true
			if names = append(names, name); len(names) == limit {
				return names
			}
		}
	}
	return names
}

// notTokenChar reports a byte that may not appear in a cookie name (an
// RFC 7230 token), so a name is never written back into a header garbled.
func notTokenChar(r rune) bool {
	return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r)
}

// withSession loads the browser session and keeps it on the context for the
// handlers. Loading writes nothing: a browser without a session row gets
// one only when something must be remembered (see store/formtokens.go).
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
	c.Set(ctxSession, sess)
	c.Set(ctxFormToken, func() string { return h.formToken(c) })
	h.setActor(c, identity{}) // somebody, from an address; requireUser says who
	return next(c)
}

// csrf refuses a state-changing console request that is cross-origin (per
// http.CrossOriginProtection) or lacks its token in the _csrf field of the
// form body or the X-CSRF-Token header — never the query string, which ends
// up in logs, history and Referer headers. A browser with a session row has
// the token kept in it; one without (before sign-in) has a token signed for
// its cookie (formToken).
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
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue(csrfKey)
		}
		if !h.validToken(c, got) {
			if h.sessionEnded(c, got) {
				return h.sessionEndedError(c)
			}
			return echo.NewHTTPError(http.StatusForbidden, "The form had expired or was not sent from this console. Reload the page and try again.")
		}
		return next(c)
	}
}

// validToken checks a CSRF token against the session's, or for a browser
// without a session row, against its cookie.
func (h *Handler) validToken(c echo.Context, got string) bool {
	s := session(c)
	if s.ID != "" {
		want, _ := s.Values[csrfKey].(string)
		return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	}
	id, ok := h.sessions.BrowserID(c.Request(), SessionCookie)
	return ok && h.sessions.CheckFormToken(id, got, h.now(), h.sessions.Lifetimes.Absolute)
}

// formToken is the CSRF token for the pages of a browser without a session
// row. Rather than a row per visit, the token is signed for the browser's
// cookie id (a cookie without a row, set here on its first visit). The
// cross-origin check alone would refuse cross-site forms in today's browsers;
// the token keeps the second, independent check that signed-in forms have for
// the sign-in and setup forms too (a login CSRF would sign the victim in as
// the attacker), and binding it to the cookie matters: a token bound to
// nothing would be one an attacker could fetch and embed.
func (h *Handler) formToken(c echo.Context) string {
	id, _ := c.Get(ctxBrowserID).(string)
	if id == "" {
		var ok bool
		if id, ok = h.sessions.BrowserID(c.Request(), SessionCookie); !ok {
			var err error
			if id, err = h.sessions.SetBrowserCookie(c.Response(), SessionCookie); err != nil {
				h.log.Error("set browser cookie", "err", err)
				return ""
			}
		}
		c.Set(ctxBrowserID, id)
	}
	return h.sessions.FormToken(id, h.now())
}

// session is the request's browser session (withSession must have run).
func session(c echo.Context) *sessions.Session {
	s, _ := c.Get(ctxSession).(*sessions.Session)
	return s
}

// saveSession writes the session row (the cookie holds only its id). A
// session saved for the first time gets its CSRF token.
func (h *Handler) saveSession(c echo.Context) error {
	s := session(c)
	if _, ok := s.Values[csrfKey].(string); !ok {
		s.Values[csrfKey] = randomToken()
	}
	if err := h.sessions.Save(c.Request(), c.Response(), s); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// flash queues a message for the next page the browser shows. The queue is
// changed in the database row, not saved from this request's copy, so tabs
// that queue and show messages at the same moment do not lose or repeat them.
func (h *Handler) flash(c echo.Context, kind, msg string) error {
	return h.flashLink(c, kind, msg, "")
}

// flashSep parts a queued message from the console path it links to.
const flashSep = "\x1f"

// flashLink queues a message that links to a console path (a failure's
// trace); "" links nowhere.
func (h *Handler) flashLink(c echo.Context, kind, msg, link string) error {
	msg = sentence(msg)
	if link != "" {
		msg += flashSep + link
	}
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
		msg, link, _ := strings.Cut(msg, flashSep)
		if !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "//") {
			link = "" // only this console's own paths
		}
		out = append(out, views.Flash{Kind: kind, Message: msg, Link: link})
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
