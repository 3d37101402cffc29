package oauthflow

import (
	"errors"
	"maps"
)

// Codes of the errors the account lifecycle returns. They are the API's
// error codes too; the HTTP layer maps each one to a status in one place.
const (
	CodeNotFound            = "not_found"
	CodeInvalidFields       = "invalid_fields"
	CodeConflict            = "conflict"
	CodeForbidden           = "forbidden"
	CodeUnauthorized        = "unauthorized" // a sign-in that could not be verified
	CodeNeedsReconnect      = "needs_reconnect"
	CodeTokenUnavailable    = "token_unavailable"
	CodeUpstreamUnreachable = "upstream_unreachable"
	CodeUpstreamTimeout     = "upstream_timeout"
	CodeStorageUnavailable  = "storage_unavailable"
	CodeBadRequest          = "bad_request" // a callback or link refused
	CodeGone                = "gone"        // a connect link already used
)

// ErrNotFound and ErrConflict are the store's "no such row" and "that would
// break a uniqueness rule" (the store's own sentinels are these), so the
// lifecycle and the HTTP layer recognise them without importing the store.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Error is a lifecycle failure that says what it means for the caller: a
// code, a message a person can act on, the fields to blame and, for a page
// of its own (a refused callback), its title.
type Error struct {
	Code    string
	Title   string
	Message string
	Fields  map[string]string
	Err     error
}

// Error is the message, or the wrapped error's text.
func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Code
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// ErrorOf reads any error of this package as an *Error: an *Error as it is,
// the typed errors of the token engine and the runner with their code and
// message (a refused request, an API that did not answer, a token that only
// a reconnection or a fixed configuration brings back, a token that cannot
// be had for now), the store's sentinels with theirs and no message (the
// caller words them). Anything else has the code "" (internal).
func ErrorOf(err error) *Error {
	var e *Error
	var re *RequestError
	var ue *UpstreamError
	var te *TokenError
	var fe FieldErrors
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.As(err, &re):
		return &Error{Code: CodeInvalidFields, Message: re.Msg, Fields: map[string]string{re.Field: re.Msg}, Err: err}
	case errors.As(err, &ue) && ue.Timeout:
		return &Error{Code: CodeUpstreamTimeout, Message: ue.Error(), Err: err}
	case errors.As(err, &ue):
		return &Error{Code: CodeUpstreamUnreachable, Message: ue.Error(), Err: err}
	case errors.Is(err, ErrNeedsReconnect), Classify(err) == KindConfig:
		return &Error{Code: CodeNeedsReconnect, Message: err.Error(), Err: err}
	case errors.Is(err, ErrTokenUnavailable), errors.As(err, &te):
		return &Error{Code: CodeTokenUnavailable, Message: "The account's token could not be had: " + err.Error(), Err: err}
	case errors.As(err, &fe):
		return &Error{Code: CodeInvalidFields, Message: "Some fields are not valid: see fields.", Fields: maps.Clone(fe), Err: err}
	case errors.Is(err, ErrNotFound):
		return &Error{Code: CodeNotFound, Err: err}
	case errors.Is(err, ErrConflict):
		return &Error{Code: CodeConflict, Err: err}
	}
	return &Error{Err: err}
}

// CodeOf is ErrorOf's code: "" for an error that is not one of ours.
func CodeOf(err error) string {
	if e := ErrorOf(err); e != nil {
		return e.Code
	}
	return ""
}

// notFound is the error for an id or key that names nothing.
func notFound(msg string) error {
	return &Error{Code: CodeNotFound, Message: msg, Err: ErrNotFound}
}

// conflict is a request the account's or integration's state refuses.
func conflict(msg string, err error) error {
	return &Error{Code: CodeConflict, Message: msg, Err: err}
}
