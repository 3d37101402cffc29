package oauthflow

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
)

// stateBytes is the entropy of a state value: 256 bits, twice the 128 bits
// RFC 9700 §4.7 asks for.
const stateBytes = 32

// NewState returns a fresh OAuth state value (base64url, no padding). The
// caller stores it server-side, bound to the browser session, single use.
func NewState() (string, error) {
	b := make([]byte, stateBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauthflow: new state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewVerifier returns a fresh PKCE code verifier (RFC 7636 §4.1): 32 random
// bytes as 43 base64url characters, from golang.org/x/oauth2.
func NewVerifier() string { return oauth2.GenerateVerifier() }

// S256Challenge is the PKCE code_challenge for a verifier (RFC 7636 §4.2),
// from golang.org/x/oauth2.
func S256Challenge(verifier string) string { return oauth2.S256ChallengeFromVerifier(verifier) }

// AuthorizationURL is where the browser goes to grant access: the expanded
// authorization endpoint, its own query parameters kept, plus the extra
// authorization parameters and the protocol ones (which win on a clash):
// response_type=code, client_id, redirect_uri, scope, state and, with PKCE,
// code_challenge and code_challenge_method=S256.
func AuthorizationURL(in Integration, values map[string]string, redirectURI, state, verifier string) (string, error) {
	if in.OAuth2.GrantType != GrantAuthorizationCode {
		return "", errors.New("authorization URL: the integration's grant type is not authorization_code")
	}
	if state == "" {
		return "", errors.New("authorization URL: empty state")
	}
	if in.OAuth2.PKCE && verifier == "" {
		return "", errors.New("authorization URL: PKCE is on but the verifier is empty")
	}
	u, err := ExpandURL(in.OAuth2.AuthorizationURL, values)
	if err != nil {
		return "", fmt.Errorf("authorization URL: %w", err)
	}
	clientID, err := Expand(in.OAuth2.ClientID, values)
	if err != nil {
		return "", fmt.Errorf("authorization URL: client id: %w", err)
	}
	scope, err := Expand(in.OAuth2.Scope, values)
	if err != nil {
		return "", fmt.Errorf("authorization URL: scope: %w", err)
	}
	q := u.Query()
	for k, v := range in.OAuth2.AuthorizationParams {
		if isProtocolParam(k) { // Validate refuses these; never let one through
			continue
		}
		ev, err := Expand(v, values)
		if err != nil {
			return "", fmt.Errorf("authorization URL: parameter %s: %w", k, err)
		}
		q.Set(k, ev)
	}
	q.Set("response_type", "code")
	q.Set("client_id", clientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	if scope != "" {
		q.Set("scope", scope)
	}
	if in.OAuth2.PKCE {
		q.Set("code_challenge", S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
