package oauthflow

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// fill turns the documents found (either may be nil, not both) into a
// Discovery: the RFC 8414 document first, the OpenID one for what it alone
// has, every value checked, and a warning for each gap an admin should know.
func fill(issuer string, oauth, oidc *metadata) Discovery {
	d := Discovery{Issuer: issuer, ScopesSupported: []string{}, Warnings: []string{}}
	first, second := oauth, oidc
	if first == nil {
		first, second = oidc, nil
	}
	if second == nil {
		second = &metadata{}
	}
	if oidc == nil {
		d.Warnings = append(d.Warnings, "Only the RFC 8414 document was found, no OpenID Connect document: there is no userinfo URL to fill in.")
	}
	endpoint := func(field, a, b string) string {
		v := a
		if v == "" {
			v = b
		} else if b != "" && b != a {
			d.Warnings = append(d.Warnings, fmt.Sprintf("The RFC 8414 and OpenID Connect documents name different %s values (%s and %s): Airlock fills in the RFC 8414 one.", field, clip(a), clip(b)))
		}
		if v != "" && !isEndpointURL(v) {
			d.Warnings = append(d.Warnings, fmt.Sprintf("The document's %s %q is not an absolute http or https URL: Airlock leaves it out; fill it in by hand.", field, clip(v)))
			return ""
		}
		return v
	}
	d.AuthorizationURL = endpoint("authorization_endpoint", first.AuthorizationEndpoint, second.AuthorizationEndpoint)
	d.TokenURL = endpoint("token_endpoint", first.TokenEndpoint, second.TokenEndpoint)
	d.RevokeURL = endpoint("revocation_endpoint", first.RevocationEndpoint, second.RevocationEndpoint)
	d.UserinfoURL = endpoint("userinfo_endpoint", first.UserinfoEndpoint, second.UserinfoEndpoint)
	if d.AuthorizationURL == "" {
		d.Warnings = append(d.Warnings, "The provider publishes no authorization endpoint: fill it in by hand for the authorization_code grant.")
	}
	if d.TokenURL == "" {
		d.Warnings = append(d.Warnings, "The provider publishes no token endpoint: fill it in by hand.")
	}
	if d.RevokeURL == "" {
		d.Warnings = append(d.Warnings, "The provider publishes no revocation endpoint: disconnecting an account deletes its tokens in Airlock but cannot revoke them at the provider.")
	}

	d.issInResponse = first.IssInResponse || second.IssInResponse
	if !d.issInResponse {
		d.Warnings = append(d.Warnings, "The provider does not say it sends iss with the authorization response (authorization_response_iss_parameter_supported, RFC 9207): with an issuer set, Airlock refuses every callback without iss, so set the issuer only if the provider sends it.")
	}
	methods := orList(first.CodeChallengeMethods, second.CodeChallengeMethods)
	d.PKCE = slices.Contains(methods, "S256")
	d.Warnings = append(d.Warnings, pkceWarning(methods)...)
	d.ClientAuth, d.Warnings = clientAuthFrom(orList(first.TokenEndpointAuth, second.TokenEndpointAuth), d.Warnings)
	d.ScopesSupported, d.Warnings = scopesFrom(orList(first.ScopesSupported, second.ScopesSupported), d.Warnings)
	d.SuggestedScope = suggestScope(d.ScopesSupported)
	return d
}

// orList is a when the document states it (even as []), else b.
func orList(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

// pkceWarning says when the document does not promise S256, the one
// method Airlock sends.
func pkceWarning(methods []string) []string {
	switch {
	case slices.Contains(methods, "S256"):
		return nil
	case methods == nil:
		return []string{"The document does not say whether the provider supports PKCE (no code_challenge_methods_supported): keep PKCE on unless the provider rejects it."}
	}
	return []string{fmt.Sprintf("The provider lists PKCE methods without S256 (%s): Airlock sends only S256; turn PKCE off if the provider rejects it.", clip(strings.Join(methods, ", ")))}
}

// clientAuthFrom picks basic over body, as RFC 6749 §2.3.1 asks of servers
// ("MUST support" Basic); no list means client_secret_basic (RFC 8414 §2).
func clientAuthFrom(methods, warnings []string) (string, []string) {
	switch {
	case methods == nil || slices.Contains(methods, "client_secret_basic"):
		return ClientAuthBasic, warnings
	case slices.Contains(methods, "client_secret_post"):
		return ClientAuthBody, warnings
	}
	return "", append(warnings, fmt.Sprintf("The token endpoint supports neither client_secret_basic nor client_secret_post (it lists %s): Airlock authenticates with a client secret in one of those two ways, so the provider may refuse it.", clip(strings.Join(methods, ", "))))
}

// scopesFrom keeps each valid scope token (RFC 6749 §3.3) once, in order.
func scopesFrom(list, warnings []string) ([]string, []string) {
	out, dropped := []string{}, 0
	for _, s := range list {
		switch {
		case !isScopeToken(s):
			dropped++
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d entries of scopes_supported are not valid scope names (empty, or with spaces, quotes or backslashes): Airlock leaves them out.", dropped))
	}
	return out, warnings
}

// isScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" || len(s) > maxTextLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// suggestScope is openid (an ID token names the user) and offline_access (a
// refresh token, OpenID Connect Core §11), each only where the provider lists
// it. Nothing else is guessed: which API scopes to ask for is the admin's call.
func suggestScope(supported []string) string {
	var s []string
	for _, want := range []string{"openid", "offline_access"} {
		if slices.Contains(supported, want) {
			s = append(s, want)
		}
	}
	return strings.Join(s, " ")
}

// isEndpointURL: absolute http(s), a host, no user info or fragment.
func isEndpointURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		u.Fragment == "" && !hasControl(s) && len(s) <= maxURLLen
}

// clip keeps a value quoted from a document short in a message.
func clip(s string) string { return truncateError(s, 200) }
