package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

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
	status, msg := http.StatusInternalServerError, ""
	var ae *apiProblem
	if errors.As(err, &ae) {
		if ae.status >= 500 {
			h.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", ae.status, "err", err)
		}
		_ = writeAPIError(c, ae.status, ae.code, ae.msg, ae.fields)
		return
	}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		if s, ok := he.Message.(string); ok {
			msg = s
		}
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
	case store.Unavailable(err):
		status = http.StatusServiceUnavailable
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away mid-request: nobody reads the answer, and it
		// is not a server fault worth an error line.
		h.log.Debug("client gone", "method", c.Request().Method, "path", c.Request().URL.Path)
		c.Response().WriteHeader(499)
		return
	}
	if status >= 500 {
		h.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	}
	ev, code := errorView(status, msg), apiCode(status)
	if store.Unavailable(err) {
		h.store.NoteUnavailable(err)
		ev, code = storageErrorView(err), "storage_unavailable"
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = writeAPIError(c, status, code, ev.Message, nil)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		_ = h.render(c, status, views.ErrorPartial(ev))
		return
	}
	p := h.basePage(c, ev.Title, "")
	p.User = h.pageUser(c)
	_ = h.render(c, status, views.ErrorPage(p, ev))
}

// errorView turns a status into words a person can act on.
func errorView(status int, msg string) views.ErrorView {
	ev := views.ErrorView{Status: status, Back: "/", BackLabel: "Go to the dashboard"}
	switch status {
	case http.StatusNotFound:
		ev.Title = "Page not found"
		ev.Message = "There is nothing at this address. It may have been deleted, or the link is mistyped."
	case http.StatusForbidden:
		ev.Title = "Not allowed"
		ev.Message = "Your role does not allow this. Ask an admin if you need it."
	case http.StatusUnauthorized:
		ev.Title = "Sign in required"
		ev.Message = "Sign in to continue."
		ev.Back, ev.BackLabel = "/signin", "Sign in"
	case http.StatusMethodNotAllowed:
		ev.Title = "Not possible here"
		ev.Message = "This address does not accept that kind of request."
	case http.StatusTooManyRequests:
		ev.Title = "Too many attempts"
		ev.Message = "Wait a moment and try again."
	case http.StatusRequestEntityTooLarge:
		ev.Title = "Too large"
		ev.Message = "The request was larger than Airlock accepts."
	case http.StatusConflict:
		ev.Title = "Conflict"
		ev.Message = "Someone else changed this at the same time. Reload and try again."
	default:
		if status >= 500 {
			ev.Title = "Something went wrong"
			ev.Message = "Airlock could not finish this request. Nothing was lost; try again, and if it keeps failing, the server log has the details."
		} else {
			ev.Title = http.StatusText(status)
			ev.Message = "The request could not be handled."
		}
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

// apiCode is the JSON error code for a status.
func apiCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_json"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "invalid_fields"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	if status >= 500 {
		return "internal"
	}
	return "bad_request"
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

// apiProblem is an API error with its status, code and field errors; handlers
// return it and handleError writes it.
type apiProblem struct {
	status int
	code   string
	msg    string
	fields map[string]string
}

func (p *apiProblem) Error() string { return fmt.Sprintf("api %d %s: %s", p.status, p.code, p.msg) }

// apiErr builds an apiProblem.
func apiErr(status int, code, msg string, fields map[string]string) error {
	return &apiProblem{status: status, code: code, msg: msg, fields: fields}
}
