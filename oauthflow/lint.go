package oauthflow

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// LintWarning is advice about a saved or edited integration: shown beside
// the field, never blocking a save. Field is the JSON path (oauth2.scope).
type LintWarning struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Lint codes: a public contract (issue 16), like the JSON they appear in.
const (
	LintNoOfflineAccess     = "no_offline_access"
	LintPKCESupportedButOff = "pkce_supported_but_off"
	LintInsecureEndpoint    = "insecure_endpoint"
	LintTokenInQuery        = "token_in_query"
	LintAnyAPIOrigin        = "any_api_origin"
	LintScopeNotSupported   = "scope_not_supported"
	LintIssuerNotSet        = "issuer_not_set"
	LintNoRevokeURL         = "no_revoke_url"
	// LintNoScope: no scope is requested (oauth2.scope_optional), so the
	// access comes from the provider's side; a note, not a fault.
	LintNoScope = "no_scope"
)

// LintHints is what is known about the provider beyond the integration
// itself, from its preset or its discovery document. The zero value knows
// nothing, and only the checks that need no hint run.
type LintHints struct {
	// OfflineAccess is how the provider is asked for a refresh token, when it
	// is known to issue one only when asked; nil when not known.
	OfflineAccess *OfflineRequest
	// PKCESupported: the provider supports PKCE with S256.
	PKCESupported bool
	// Issuer the provider publishes, set only where it sends iss with the
	// authorization response: setting it is then safe and worth it.
	Issuer string
	// RevokeURL the provider publishes ("" when none is known).
	RevokeURL string
	// ScopesSupported the provider lists; nil when unknown.
	ScopesSupported []string
}

// OfflineRequest is one provider's way to ask for a refresh token: a scope
// (offline_access, refresh_token, offline.access) or authorization
// parameters (access_type=offline, token_access_type=offline,
// duration=permanent). Either given form satisfies it.
type OfflineRequest struct {
	Scope  string
	Params map[string]string
}

// Hints are the lint hints a discovery result gives: PKCE, the issuer (when
// the provider sends iss), the revocation URL, the scopes it lists, and
// offline_access as the way to a refresh token where it lists that scope.
func (d Discovery) Hints() LintHints {
	h := LintHints{PKCESupported: d.PKCE, RevokeURL: d.RevokeURL}
	if d.issInResponse {
		h.Issuer = d.Issuer
	}
	if len(d.ScopesSupported) > 0 {
		h.ScopesSupported = slices.Clone(d.ScopesSupported)
	}
	if slices.Contains(d.ScopesSupported, "offline_access") {
		h.OfflineAccess = &OfflineRequest{Scope: "offline_access"}
	}
	return h
}

// Lint returns the warnings for a normalized integration, in a stable order;
// never nil, so the JSON says [].
func Lint(in Integration, hints LintHints) []LintWarning {
	out := []LintWarning{}
	add := func(code, field, msg string) { out = append(out, LintWarning{Code: code, Field: field, Message: msg}) }
	o, code := in.OAuth2, in.OAuth2.GrantType == GrantAuthorizationCode
	if r := hints.OfflineAccess; code && r != nil && !asksOffline(o, *r) {
		field, how := offlineHow(*r)
		add(LintNoOfflineAccess, field, "The provider issues a refresh token only when asked ("+how+"): without it, each account needs a reconnect when its access token expires. Add "+how+".")
	}
	if code && hints.PKCESupported && !o.PKCE {
		add(LintPKCESupportedButOff, "oauth2.pkce", "The provider supports PKCE (S256) but it is off: turn it on; it protects the authorization code from interception (RFC 9700 §2.1.1).")
	}
	for _, path := range insecureEndpoints(in) {
		add(LintInsecureEndpoint, path, "This URL uses http, not https, and is not on loopback: the tokens and the client secret it carries can be read and changed on the way. Use https.")
	}
	if in.Token.In == InQuery {
		add(LintTokenInQuery, "token.in", "The access token goes in the URL query: URLs end up in server logs, proxies and referrers, and RFC 9700 (§4.3.2, after RFC 6750 §2.3) advises against it. Use a header if the API accepts one.")
	}
	if AllowsAnyOrigin(in) {
		add(LintAnyAPIOrigin, "api_base_urls", AnyOriginWarning(in))
	}
	if missing := unlistedScopes(o.Scope, hints.ScopesSupported); len(missing) > 0 {
		add(LintScopeNotSupported, "oauth2.scope", fmt.Sprintf("The provider's scopes_supported does not list %s: check the spelling. (Many providers list only some of the scopes they accept; if connecting works, ignore this.)", strings.Join(missing, ", ")))
	}
	if code && o.ScopeOptional && strings.TrimSpace(o.Scope) == "" {
		add(LintNoScope, "oauth2.scope", "No scope is requested (the provider takes no scope parameter): each token gets the access set in the app's settings at the provider, or asked for in a parameter of the provider's own (Slack's user_scope). When a request is refused for lack of permission, change it there.")
	}
	if code && hints.Issuer != "" && o.Issuer == "" {
		add(LintIssuerNotSet, "oauth2.issuer", "The provider publishes its issuer "+hints.Issuer+" and sends it with the authorization response: set it, so Airlock checks iss on every callback and refuses answers from another server (RFC 9207).")
	}
	if hints.RevokeURL != "" && o.RevokeURL == "" {
		add(LintNoRevokeURL, "oauth2.revoke_url", "The provider publishes a revocation endpoint ("+hints.RevokeURL+"): set it, so disconnecting an account also revokes its tokens at the provider.")
	}
	return out
}

// asksOffline reports whether the integration asks in one of r's ways.
func asksOffline(o OAuth2, r OfflineRequest) bool {
	if r.Scope != "" && slices.Contains(strings.Fields(o.Scope), r.Scope) {
		return true
	}
	if len(r.Params) == 0 {
		return false
	}
	for k, v := range r.Params {
		if o.AuthorizationParams[k] != v {
			return false
		}
	}
	return true
}

// offlineHow names the field to change and what to add there.
func offlineHow(r OfflineRequest) (field, how string) {
	var params []string
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		params = append(params, k+"="+r.Params[k])
	}
	switch {
	case r.Scope != "" && len(params) > 0:
		return "oauth2.scope", "the scope " + r.Scope + ", or the authorization parameters " + strings.Join(params, " ")
	case r.Scope != "":
		return "oauth2.scope", "the scope " + r.Scope
	}
	return "oauth2.authorization_params", "the authorization parameters " + strings.Join(params, " ")
}

// insecureEndpoints are the JSON paths of every endpoint URL template that
// starts with http:// and whose host is not loopback (a {param} in the host
// is not known to be). The credential destinations come from CredentialURLs,
// so an endpoint added there is linted too.
func insecureEndpoints(in Integration) []string {
	urls := CredentialURLs(in)
	if in.OAuth2.AuthorizationURL != "" {
		urls["oauth2.authorization_url"] = in.OAuth2.AuthorizationURL
	}
	var out []string
	for _, path := range slices.Sorted(maps.Keys(urls)) {
		rest, ok := cutPrefixFold(urls[path], "http://")
		if !ok {
			continue
		}
		host := rest[:len(rest)-len(strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:{}"))]
		if h, _, found := strings.Cut(strings.TrimPrefix(host, "["), "]"); found {
			host = h // an IPv6 literal with or without a port
		} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		if !isLoopbackHost(host) {
			out = append(out, path)
		}
	}
	return out
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// unlistedScopes are the requested scopes supported does not list, in
// request order; a scope with a {param} is skipped (its value is unknown).
func unlistedScopes(scope string, supported []string) []string {
	if supported == nil {
		return nil
	}
	var out []string
	for _, s := range strings.Fields(scope) {
		if !strings.Contains(s, "{") && !slices.Contains(supported, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
