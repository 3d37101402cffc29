package oauthflow

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorKind says what a failed token call means for the account, so the token
// manager can decide the account status without reading error strings.
type ErrorKind int

const (
	// KindNone is what Classify returns for a nil error.
	KindNone ErrorKind = iota
	// KindInvalidGrant: the grant is dead (expired, revoked, already used);
	// only a new authorization helps, so the account needs_reconnect.
	KindInvalidGrant
	// KindConfig: the integration or its parameters are wrong (client id or
	// secret, grant type, scope, URL, a refused address); the account status
	// becomes error until an admin fixes the configuration.
	KindConfig
	// KindTemporary: the provider or the network failed (5xx, 429, timeouts);
	// retrying later may work, so the account status stays unchanged.
	KindTemporary
)

// String names the kind for logs and activity events.
func (k ErrorKind) String() string {
	switch k {
	case KindNone:
		return "none"
	case KindInvalidGrant:
		return "invalid_grant"
	case KindConfig:
		return "config"
	case KindTemporary:
		return "temporary"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// TokenError is a failed call to a token or revocation endpoint. Its fields
// never hold the client secret, the code, the verifier or a token: the
// exchange code redacts them from provider text before building it.
type TokenError struct {
	Kind        ErrorKind
	Code        string // the OAuth error code (RFC 6749 §5.2), e.g. invalid_grant
	Description string // the provider's error_description, or what went wrong
	Status      int    // the HTTP status, 0 when no answer arrived
	BodyStart   string // the first ~100 characters of an unparseable answer, sanitised
	Err         error  // the underlying error, if any
	// Endpoint names the endpoint in messages; empty means "token endpoint".
	Endpoint string
}

// Error reads like an instruction: what the endpoint answered and what to check.
func (e *TokenError) Error() string {
	endpoint := e.Endpoint
	if endpoint == "" {
		endpoint = "token endpoint"
	}
	var b strings.Builder
	if e.Status > 0 {
		fmt.Fprintf(&b, "the %s answered %d", endpoint, e.Status)
	} else {
		fmt.Fprintf(&b, "the %s call failed", endpoint)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", e.Description)
	}
	if e.BodyStart != "" {
		fmt.Fprintf(&b, ", starting %q", e.BodyStart)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(": " + hint)
	}
	return b.String()
}

// Unwrap exposes the underlying error to errors.Is and errors.As.
func (e *TokenError) Unwrap() error { return e.Err }

// hint is the fix a person should try, by code first, then by kind.
func (e *TokenError) hint() string {
	if k, ok := codeKind(e.Code); ok && k == KindInvalidGrant {
		return "the authorization is no longer valid (expired, revoked or already used); reconnect the account"
	}
	switch e.Code {
	case "invalid_client":
		return "check the client id and secret, and whether the provider expects client authentication basic or body"
	case "unauthorized_client":
		return "the client may not use this grant type; check the grant type and the app settings at the provider"
	case "invalid_scope":
		return "check the scope"
	case "unsupported_grant_type":
		return "the provider does not support this grant type; check the grant type"
	case "invalid_request":
		return "check the token method (POST or GET), the client authentication and the extra token parameters"
	case "unsupported_token_type":
		return "the provider cannot revoke this token type"
	}
	switch e.Kind {
	case KindTemporary:
		return "the provider or the network failed; try again later"
	case KindInvalidGrant:
		return "reconnect the account"
	}
	return ""
}

// codeKinds maps OAuth error codes (and a few well-known provider variants
// such as GitHub's bad_verification_code) to what they mean for the account.
func codeKind(code string) (ErrorKind, bool) {
	switch code {
	case "invalid_grant", "bad_verification_code", "bad_refresh_token", "invalid_code",
		"invalid_refresh_token", "expired_token":
		return KindInvalidGrant, true
	case "invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type",
		"invalid_request", "access_denied", "unsupported_token_type", "incorrect_client_credentials":
		return KindConfig, true
	case "temporarily_unavailable", "server_error", "slow_down":
		return KindTemporary, true
	}
	return 0, false
}

// statusKind classifies an HTTP status alone: 5xx, 429 and 408 may pass,
// everything else (400, 401, 404 …) needs a person to change something.
func statusKind(status int) ErrorKind {
	if status >= 500 || status == 429 || status == 408 {
		return KindTemporary
	}
	return KindConfig
}

// kindFor combines status and code. A 5xx or 429 is temporary whatever the
// body says: some providers answer 500 for everything, and declaring a grant
// dead on a server error would force needless reconnects.
func kindFor(status int, code string) ErrorKind {
	if status >= 500 || status == 429 {
		return KindTemporary
	}
	if k, ok := codeKind(code); ok {
		return k
	}
	return statusKind(status)
}

// Classify says what an error from this package (or below it) means for the
// account. A TokenError carries its kind; a refused address is a configuration
// problem; network errors, timeouts and errors it cannot interpret are
// temporary, so that an unknown failure never changes an account's status.
func Classify(err error) ErrorKind {
	if err == nil {
		return KindNone
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.Kind
	}
	if errors.Is(err, ErrRefusedAddress) {
		return KindConfig
	}
	// net.Error, context.DeadlineExceeded, io.ErrUnexpectedEOF and anything
	// unknown: temporary.
	return KindTemporary
}

// IsInvalidGrant reports whether err means the grant is dead and the account
// must be reconnected (after the caller has re-read storage, since another
// process may have rotated the refresh token meanwhile).
func IsInvalidGrant(err error) bool { return Classify(err) == KindInvalidGrant }
