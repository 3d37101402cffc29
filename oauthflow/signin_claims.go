package oauthflow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// lookupClaim finds a claim by its name, or else by a dotted path into
// objects (realm_access.roles): names may hold dots themselves
// (https://example.com/groups), so the whole name is tried first.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimStrings reads a string or a list of strings; ok is false for any
// other shape (a missing claim, nil, is an empty list).
func claimStrings(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// firstClaim is the first of the named claims that is a non-blank string.
func firstClaim(claims map[string]any, names ...string) string {
	for _, n := range names {
		if s, _ := claims[n].(string); strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// oidcExchangeError words a failed code exchange: refused by the provider,
// or the provider not reached.
func oidcExchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		return &Error{Code: CodeUpstreamUnreachable, Title: "The identity provider refused the sign-in",
			Message: fmt.Sprintf("Its token endpoint answered %s to the code exchange. Sign in again; if it keeps failing, an admin should check AIRLOCK_OIDC_CLIENT_ID and AIRLOCK_OIDC_CLIENT_SECRET against the provider's client.", code),
			Err:     err}
	}
	return &Error{Code: CodeUpstreamUnreachable, Title: "The identity provider could not be reached",
		Message: "Airlock could not reach the provider's token endpoint. Try again in a moment.", Err: err}
}

// idTokenRefused is an ID token that failed a check: the page names the
// check (go-oidc's words: issuer, audience, signature …) but never the token.
func idTokenRefused(err error) error {
	msg := fmt.Sprintf("The identity provider's ID token was refused: %v. Sign in again; if it keeps failing, an admin should check AIRLOCK_OIDC_ISSUER and AIRLOCK_OIDC_CLIENT_ID against the provider's settings.", err)
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		msg = "The identity provider's ID token had already expired when it arrived. Sign in again; if it keeps happening, the clocks of Airlock's server and the provider disagree."
	}
	return &Error{Code: CodeUnauthorized, Title: "The sign-in could not be verified", Message: msg, Err: err}
}
