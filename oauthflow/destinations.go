package oauthflow

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// A credential destination is a field of an integration whose URL receives a
// credential: the token and revocation endpoints get the client secret and
// the refresh token, the API base URLs and the health check get the access
// token. Who may change where they point, and how a parameter in their host
// is kept on hosts an admin approved, is decided here.

// CredentialURLs are the integration's credential destinations by JSON path,
// as URL templates (the empty ones and the AnyOrigin base URL left out).
func CredentialURLs(in Integration) map[string]string {
	m := map[string]string{}
	add := func(path, tmpl string) {
		if tmpl != "" && tmpl != AnyOrigin {
			m[path] = tmpl
		}
	}
	add("oauth2.token_url", in.OAuth2.TokenURL)
	add("oauth2.revoke_url", in.OAuth2.RevokeURL)
	add("oauth2.refresh_url", in.OAuth2.RefreshURL)
	for i, u := range in.APIBaseURLs {
		add(fmt.Sprintf("api_base_urls[%d]", i), u)
	}
	if in.HealthCheck != nil {
		add("health_check.url", in.HealthCheck.URL)
	}
	add("oauth2.userinfo_url", in.OAuth2.UserinfoURL) // it receives the access token
	if in.CustomToken != nil {
		add("custom_token.url", in.CustomToken.URL) // it receives the credentials
	}
	return m
}

// AllowsAnyOrigin reports whether the API base URLs are AnyOrigin.
func AllowsAnyOrigin(in Integration) bool {
	return slices.Contains(in.APIBaseURLs, AnyOrigin)
}

// AnyOriginWarning is the warning to show while the API base URLs are
// AnyOrigin: the token then goes to whatever host a request names.
func AnyOriginWarning(in Integration) string {
	if !AllowsAnyOrigin(in) {
		return ""
	}
	return "The API base URL is * (any origin): the token is sent to any host a request names. List the API's base URLs instead to keep it on them."
}

// DestinationParameters are the parameters used in a credential destination
// (or the token's parameter name): changing an account's value of one of them
// changes where its credentials go.
func DestinationParameters(in Integration) map[string]bool {
	used := map[string]bool{}
	tmpls := []string{in.Token.Name}
	for _, t := range CredentialURLs(in) {
		tmpls = append(tmpls, t)
	}
	for _, t := range tmpls {
		names, _ := Placeholders(t)
		for _, n := range names {
			used[n] = true
		}
	}
	return used
}

// DestinationChanged reports whether going from the values old to new
// changes a parameter used in a credential destination.
func DestinationChanged(in Integration, old, new map[string]string) bool {
	for name := range DestinationParameters(in) {
		if old[name] != new[name] {
			return true
		}
	}
	return false
}

// ResolveEndpoints expands the token, revocation and refresh URLs with an
// account's values: the endpoints a token obtained now is recorded with.
func ResolveEndpoints(in Integration, values map[string]string) (Endpoints, error) {
	var ep Endpoints
	u, err := ExpandURL(in.OAuth2.TokenURL, values)
	if err != nil {
		return ep, &TokenError{Kind: KindConfig, Err: fmt.Errorf("build the token URL: %w", err)}
	}
	ep.Token = u.String()
	if ep.Revoke, err = revokeEndpoint(in, values); err != nil {
		return ep, err
	}
	ep.Refresh, err = refreshEndpoint(in, values)
	return ep, err
}

// refreshEndpoint is the refresh URL filled in with values, "" for none
// (refreshes then go to the token endpoint).
func refreshEndpoint(in Integration, values map[string]string) (string, error) {
	if in.OAuth2.RefreshURL == "" {
		return "", nil
	}
	u, err := ExpandURL(in.OAuth2.RefreshURL, values)
	if err != nil {
		return "", &TokenError{Kind: KindConfig, Endpoint: "refresh endpoint", Err: fmt.Errorf("build the URL: %w", err)}
	}
	return u.String(), nil
}

// revokeEndpoint is the revocation URL filled in with values, "" for none.
func revokeEndpoint(in Integration, values map[string]string) (string, error) {
	if in.OAuth2.RevokeURL == "" {
		return "", nil
	}
	u, err := ExpandURL(in.OAuth2.RevokeURL, values)
	if err != nil {
		return "", &TokenError{Kind: KindConfig, Endpoint: "revocation endpoint", Err: fmt.Errorf("build the URL: %w", err)}
	}
	return u.String(), nil
}

// endpointsFor chooses where a refresh (or a new client-credentials token)
// is fetched: the endpoints recorded with the stored token, always. Only a
// client-credentials account without recorded endpoints (no token yet, or a
// token from before they were recorded) uses its current values, as a new
// connection would; an authorization-code token without them gets none, and
// its refresh asks for a reconnection.
func endpointsFor(in Integration, a Account, stored Token) (Endpoints, error) {
	if in.Type() != AuthOAuth2 {
		return Endpoints{}, nil // custom_token builds its request each time; the others call no endpoint
	}
	if stored.Endpoints.Token != "" || in.OAuth2.GrantType != GrantClientCredentials {
		return stored.Endpoints, nil
	}
	return ResolveEndpoints(in, a.Values())
}

// hostParams reads a URL template's host: the parameters in it and, when the
// host keeps a fixed registrable domain (eTLD+1) after the last one, that
// domain ("{server}.acme.com" → acme.com; "{server}.com" and "acme-{server}.com"
// keep none). The template must already be a valid URL template.
func hostParams(tmpl string) (names []string, domain string) {
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return nil, ""
	}
	sk := newSkeleton(tmpl, segs)
	u, err := url.Parse(sk.text)
	if err != nil {
		return nil, ""
	}
	host := strings.ToLower(u.Hostname())
	last := -1
	for i, m := range sk.markers {
		if j := strings.LastIndex(host, m); j >= 0 {
			names = append(names, sk.names[i])
			last = max(last, j+len(m))
		}
	}
	if last < 0 {
		return nil, ""
	}
	_, rest, ok := strings.Cut(host[last:], ".")
	if !ok {
		return names, ""
	}
	domain, err = publicsuffix.EffectiveTLDPlusOne(rest)
	if err != nil {
		return names, ""
	}
	return names, domain
}

// allowedValues maps each parameter to its allowed values (absent: any).
func allowedValues(in Integration) map[string][]string {
	m := map[string][]string{}
	for _, p := range in.Parameters {
		if len(p.AllowedValues) > 0 {
			m[p.Name] = p.AllowedValues
		}
	}
	for _, c := range in.OAuth2.Capture { // checkCaptured holds a stored value to them
		if len(c.AllowedHosts) > 0 {
			m[c.Name] = c.AllowedHosts
		}
	}
	return m
}

// unconstrainedHostParams are the parameters in the host of tmpl that could
// take it to any host: none when the host keeps a fixed registrable domain,
// otherwise those without allowed values.
func unconstrainedHostParams(tmpl string, allowed map[string][]string) (names []string, domain string) {
	all, domain := hostParams(tmpl)
	if domain != "" {
		return nil, domain
	}
	for _, n := range all {
		if len(allowed[n]) == 0 {
			names = append(names, n)
		}
	}
	return names, ""
}

// hostConstraintMessage says how to pin a parameter in a destination's host.
func hostConstraintMessage(name string) string {
	return fmt.Sprintf("Parameter %s is in the host, so an account could send credentials to any host: "+
		"keep a fixed domain after it (e.g. {%s}.example.com), or give %s a list of allowed values (an admin sets them)", name, name, name)
}

// MovedDestinations lists, by JSON path, the credential destinations that
// would send an account's credentials somewhere new if the integration
// changed from old to in, its URLs filled in with the account's values: a
// token or revocation URL whose origin is neither old one (the client secret
// and the refresh tokens would go there), an API base URL or health check
// whose origin no old base URL or health check had (the access token would),
// and a token parameter name or location that changed. A removed destination
// moves nothing. A URL these values cannot fill in counts as moved unless
// its origin is written as before.
func MovedDestinations(old, in Integration, values map[string]string) []string {
	var moved []string
	secretOld := []string{old.OAuth2.TokenURL, old.OAuth2.RevokeURL, old.OAuth2.RefreshURL}
	for _, f := range []struct{ path, tmpl string }{{"oauth2.token_url", in.OAuth2.TokenURL}, {"oauth2.revoke_url", in.OAuth2.RevokeURL},
		{"oauth2.refresh_url", in.OAuth2.RefreshURL}} {
		if originMoved(secretOld, f.tmpl, values) {
			moved = append(moved, f.path)
		}
	}
	if !AllowsAnyOrigin(old) {
		accessOld := slices.Clone(old.APIBaseURLs)
		if old.HealthCheck != nil {
			accessOld = append(accessOld, old.HealthCheck.URL)
		}
		for i, b := range in.APIBaseURLs {
			if b != AnyOrigin && originMoved(accessOld, b, values) {
				moved = append(moved, fmt.Sprintf("api_base_urls[%d]", i))
			}
		}
		if hc := in.HealthCheck; hc != nil && originMoved(accessOld, hc.URL, values) {
			moved = append(moved, "health_check.url")
		}
		if originMoved(append(accessOld, old.OAuth2.UserinfoURL), in.OAuth2.UserinfoURL, values) {
			moved = append(moved, "oauth2.userinfo_url")
		}
	}
	if old.Token.In != in.Token.In {
		moved = append(moved, "token.in")
	}
	if old.Token.Name != in.Token.Name && !(in.Token.In == InHeader && strings.EqualFold(old.Token.Name, in.Token.Name)) {
		moved = append(moved, "token.name")
	}
	return moved
}

// originMoved reports whether tmpl, filled in with values, reaches an origin
// none of the old templates reached.
func originMoved(old []string, tmpl string, values map[string]string) bool {
	if tmpl == "" {
		return false
	}
	origin, ok := expandedOrigin(tmpl, values)
	for _, o := range old {
		if o == "" || o == AnyOrigin {
			continue
		}
		if ok {
			if oo, ook := expandedOrigin(o, values); ook && oo == origin {
				return false
			}
		} else if TemplateOrigin(o) == TemplateOrigin(tmpl) {
			return false
		}
	}
	return true
}

// expandedOrigin is scheme://host[:port] of tmpl filled in with values.
func expandedOrigin(tmpl string, values map[string]string) (string, bool) {
	u, err := ExpandURL(tmpl, values)
	if err != nil {
		return "", false
	}
	return originOf(u), true
}

// TemplateOrigin is the scheme://host[:port] part of a URL template,
// placeholders left as written, lower-cased.
func TemplateOrigin(tmpl string) string {
	i := strings.Index(tmpl, "://")
	if i < 0 {
		return strings.ToLower(tmpl)
	}
	rest := tmpl[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	return strings.ToLower(tmpl[:i+3] + rest)
}
