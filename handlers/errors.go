package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/views"
)

// handleError is the one HTTPErrorHandler. It picks the status, logs server
// errors, and answers in the shape the caller understands: JSON under /api/,
// an htmx partial for htmx requests, a full page otherwise. Messages say what
// to do next; internal details stay in the log.
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away mid-request: nobody reads the answer, and it
		// is not a server fault worth an error line.
		h.log.Debug("client gone", "method", c.Request().Method, "path", c.Request().URL.Path)
		c.Response().WriteHeader(499)
		return
	}
	p := h.problemOf(err)
	if p.status >= 500 {
		h.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", p.status, "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		// Said in a header too, so a caller of the proxy can tell Airlock's
		// own errors from the upstream's whatever their bodies look like.
		c.Response().Header().Set("Airlock-Error", p.code)
		_ = writeAPIError(c, p.status, p.code, p.msg, p.fields)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.status)
		return
	}
	if isHTMX(c) {
		if c.Response().Header().Get("HX-Retarget") == "" { // a handler may have chosen a place beside its form
			c.Response().Header().Set("HX-Retarget", "#flash")
			c.Response().Header().Set("HX-Reswap", "innerHTML")
		}
		_ = h.render(c, p.status, views.ErrorPartial(p.view))
		return
	}
	user := h.errorPageUser(c)
	page := h.basePage(c, p.view.Title, "")
	page.User = user
	if user != nil {
		if n, err := h.store.CountOpenAlerts(c.Request().Context()); err == nil {
			page.Alerts = n
		}
	}
	_ = h.render(c, p.status, views.ErrorPage(page, p.view))
}

// errorPageUser is the signed-in user an error page shows its navigation to.
// An unknown path matched no route, so no middleware loaded the session:
// it is read here (reading writes nothing), so a mistyped link keeps the
// console around the 404. Anyone not fully signed in gets the bare page.
func (h *Handler) errorPageUser(c echo.Context) *views.User {
	if u := h.pageUser(c); u != nil {
		return u
	}
	if session(c) == nil {
		sess, err := h.sessions.Get(c.Request(), SessionCookie)
		if err != nil || sess.IsNew {
			return nil
		}
		c.Set(ctxSession, sess)
	}
	id, err := h.sessionIdentity(c)
	if err != nil || id.MustChangePassword {
		return nil
	}
	return &views.User{Email: id.Email, Role: id.Role, IsAdmin: id.Role == store.RoleAdmin, SSO: id.SSO}
}

// problem is what an error tells the caller: its status and code, the
// API's message and fields, and the console's page.
type problem struct {
	status int
	code   string
	msg    string
	fields map[string]string
	view   views.ErrorView
}

// problemOf reads an error: echo's own by their status, the lifecycle's by
// their code (statusFor), the database refusing work as storage_unavailable,
// anything else as a 500.
func (h *Handler) problemOf(err error) problem {
	p := problem{status: http.StatusInternalServerError, code: "internal"}
	var he *echo.HTTPError
	var ended *sessionEndedErr
	if errors.As(err, &ended) {
		p.status, p.code = http.StatusUnauthorized, oauthflow.CodeUnauthorized
		p.view = views.ErrorView{Status: p.status, Title: "Your session ended",
			Message:   "You were signed out (in another tab, by an admin, or after a while without use), so this form was not saved. Sign in, then send it again.",
			Back:      "/signin?next=" + url.QueryEscape(ended.next),
			BackLabel: "Sign in"}
		p.msg = p.view.Message
		return p
	} else if errors.As(err, &he) {
		msg, _ := he.Message.(string)
		p.status, p.code, p.view = he.Code, codeFor(he.Code), errorView(he.Code, msg)
	} else if e := oauthflow.ErrorOf(err); e.Code != "" {
		p.status, p.code, p.msg, p.fields = statusFor(e.Code), e.Code, e.Message, e.Fields
		shown := e.Message
		if e.Code == oauthflow.CodeNotFound {
			shown = "" // the console words a missing page its own way, whatever is missing
		}
		p.view = errorView(p.status, sentence(shown))
		if t := codeTitle(e.Code); t != "" && p.status < 500 {
			p.view.Title = t // the code's own headline, not its status's ("Conflict.")
		}
		p.msg = sentence(p.msg)
		if p.msg == "" {
			p.msg = p.view.Message
		}
		return p
	} else if store.Unavailable(err) {
		p.status = http.StatusServiceUnavailable
	}
	if store.Unavailable(err) {
		h.store.NoteUnavailable(err)
		p.view, p.code = storageErrorView(err), oauthflow.CodeStorageUnavailable
	} else if p.view.Title == "" {
		p.view = errorView(p.status, "")
	}
	p.msg = p.view.Message
	return p
}

// codeStatuses is the one table of error codes, their HTTP statuses and,
// for the first code of a status, the words its page says, for the console
// and the API alike.
var codeStatuses = []struct {
	code   string
	status int
	title  string
	words  string
}{
	{"bad_json", http.StatusBadRequest, "", ""},
	{oauthflow.CodeBadRequest, http.StatusBadRequest, "Not possible", "The request could not be handled."},
	{oauthflow.CodeUnauthorized, http.StatusUnauthorized, "Sign in required", "Sign in to continue."},
	{oauthflow.CodeForbidden, http.StatusForbidden, "Not allowed", "Your role does not allow this. Ask an admin if you need it."},
	{oauthflow.CodeNotFound, http.StatusNotFound, "Page not found", "There is nothing at this address. It may have been deleted, or the link is mistyped."},
	{"method_not_allowed", http.StatusMethodNotAllowed, "Not possible here", "This address does not accept that kind of request."},
	{oauthflow.CodeConflict, http.StatusConflict, "Not possible now", "Someone else changed this at the same time. Reload and try again."},
	{oauthflow.CodeNeedsReconnect, http.StatusConflict, "Connection needed", ""},
	{oauthflow.CodeGone, http.StatusGone, "", ""},
	{"too_large", http.StatusRequestEntityTooLarge, "Too large", "The request was larger than Airlock accepts."},
	{oauthflow.CodeInvalidFields, http.StatusUnprocessableEntity, "Some fields need a fix", ""},
	{"rate_limited", http.StatusTooManyRequests, "Too many attempts", "Wait a moment and try again."},
	{"internal", http.StatusInternalServerError, "", ""},
	{oauthflow.CodeUpstreamUnreachable, http.StatusBadGateway, "The API could not be reached", ""},
	{oauthflow.CodeTokenUnavailable, http.StatusServiceUnavailable, "No token for now", ""},
	{oauthflow.CodeStorageUnavailable, http.StatusServiceUnavailable, "", ""},
	{oauthflow.CodeUpstreamTimeout, http.StatusGatewayTimeout, "The API did not answer in time", ""},
}

// codeTitle is the headline the table gives a code itself ("" for none).
func codeTitle(code string) string {
	for _, cs := range codeStatuses {
		if cs.code == code {
			return cs.title
		}
	}
	return ""
}

// sentence starts a message with a capital letter: messages are sentences,
// whichever layer worded them.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// statusFor is the status of an error code: the one place a code becomes a
// status. An unknown code is a 500.
func statusFor(code string) int {
	for _, cs := range codeStatuses {
		if cs.code == code {
			return cs.status
		}
	}
	return http.StatusInternalServerError
}

// codeFor is the code of one of echo's own errors (an unknown route, a body
// too large …), which come with a status only: the table read backwards,
// the first code of a status winning; any 5xx is internal.
func codeFor(status int) string {
	if status >= 500 {
		return "internal"
	}
	for _, cs := range codeStatuses {
		if cs.status == status {
			return cs.code
		}
	}
	return oauthflow.CodeBadRequest
}

// errorView turns a status into words a person can act on: the table's
// for the status, or the message when one says more.
func errorView(status int, msg string) views.ErrorView {
	ev := views.ErrorView{Status: status, Back: "/", BackLabel: "Go to the dashboard", Title: http.StatusText(status),
		Message: "The request could not be handled."}
	for _, cs := range codeStatuses {
		if cs.status == status && cs.title != "" {
			ev.Title, ev.Message = cs.title, cs.words
			break
		}
	}
	if status >= 500 {
		ev.Title = "Something went wrong"
		ev.Message = "Airlock could not finish this request. Nothing was lost; try again, and if it keeps failing, the server log has the details."
	}
	if status == http.StatusUnauthorized {
		ev.Back, ev.BackLabel = "/signin", "Sign in"
	}
	if msg != "" && status < 500 && msg != http.StatusText(status) {
		ev.Message = msg
	}
	return ev
}

// storageErrorView says the database refused the work, why, and what fixes
// it; nothing of the request was kept.
func storageErrorView(err error) views.ErrorView {
	reason, fix := store.UnavailableReason(err)
	return views.ErrorView{Status: http.StatusServiceUnavailable, Title: "The database cannot take this now",
		Message: "Airlock could not save this: " + reason + ". Nothing was changed. An admin should " + fix + "; then try again.",
		Back:    "/", BackLabel: "Go to the dashboard"}
}

// apiError is the JSON error envelope of the whole API.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func writeAPIError(c echo.Context, status int, code, msg string, fields map[string]string) error {
	return c.JSON(status, apiError{Error: apiErrorBody{Code: code, Message: msg, Fields: fields}})
}

// apiErr is an API error with its code, message and the fields to blame.
func apiErr(code, msg string, fields map[string]string) error {
	return &oauthflow.Error{Code: code, Message: msg, Fields: fields}
}
