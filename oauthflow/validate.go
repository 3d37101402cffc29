package oauthflow

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits keep huge input a field error rather than a slow request.
const (
	maxNameLen      = 200
	maxKeyLen       = 64
	maxParamNameLen = 64
	maxHeaderLen    = 256
	maxURLLen       = 2048
	maxTextLen      = 4096
	maxListLen      = 50 // parameters, request parameters, extra parameters
	maxBaseURLs     = 20
	maxStatuses     = 20
)

// FieldErrors maps a JSON path (key, parameters[1].name, oauth2.token_url …)
// to a message that names the problem and the fix. The HTML form shows each
// message next to its field; the JSON API returns the map as it is.
type FieldErrors map[string]string

// Error lists the messages in path order, for logs and the CLI.
func (fe FieldErrors) Error() string {
	paths := slices.Sorted(maps.Keys(fe))
	parts := make([]string, len(paths))
	for i, p := range paths {
		parts[i] = p + ": " + fe[p]
	}
	return "invalid integration: " + strings.Join(parts, "; ")
}

// add keeps the first message for a path: it is the most basic problem.
func (fe FieldErrors) add(path, msg string) {
	if _, ok := fe[path]; !ok {
		fe[path] = msg
	}
}

// ValidateOptions changes what Validate requires.
type ValidateOptions struct {
	// RequireSecret: a client secret must be given. False for an import, or
	// for an edit that keeps the stored secret (the form leaves it blank).
	RequireSecret bool
}

// isProtocolParam reports the parameters Airlock sets itself; extra
// authorization or token parameters may not override them.
func isProtocolParam(k string) bool {
	switch k {
	case "response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method",
		"grant_type", "code", "refresh_token", "code_verifier", "client_secret":
		return true
	}
	return false
}

// isReservedHeader reports headers the HTTP client sets; a parameter may not.
func isReservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection":
		return true
	}
	return false
}

// DefaultIntegration is a new integration with every default set, PKCE on
// included. Normalize cannot default PKCE (false is a valid choice), so the
// handlers start the create form, and decode JSON creates, from this value.
func DefaultIntegration() Integration {
	in := Integration{OAuth2: OAuth2{GrantType: GrantAuthorizationCode, PKCE: true}}
	Normalize(&in)
	return in
}

// Normalize trims every string (the client secret too: pasted secrets
// often carry a newline) and sets the defaults: token method POST, client
// auth basic, refresh window 1800 s, rejected statuses 401 and 403, the token
// as "Authorization: Bearer {token}" (or access_token={token} in the query),
// request parameters in the header, health check GET expecting 200. It drops
// blank rows that forms submit, makes maps and lists non-nil and upper-cases
// methods. It leaves PKCE alone: see DefaultIntegration.
func Normalize(in *Integration) {
	in.Key, in.Name = strings.TrimSpace(in.Key), strings.TrimSpace(in.Name)
	params := []Parameter{}
	for _, p := range in.Parameters {
		p.Name, p.Description = strings.TrimSpace(p.Name), strings.TrimSpace(p.Description)
		p.AllowedValues = trimList(p.AllowedValues)
		if p.Name != "" || p.Description != "" || len(p.AllowedValues) > 0 {
			params = append(params, p)
		}
	}
	in.Parameters = params
	normalizeAuthType(in)
	if in.AuthType == AuthOAuth2 {
		normalizeOAuth2(&in.OAuth2)
	}
	normalizeQuirks(in)
	t := &in.Token
	t.In = orText(strings.ToLower(strings.TrimSpace(t.In)), InHeader)
	if t.In == InQuery {
		t.Name, t.Template = orText(strings.TrimSpace(t.Name), "access_token"), orText(strings.TrimSpace(t.Template), "{token}")
	} else {
		t.Name, t.Template = orText(strings.TrimSpace(t.Name), DefaultTokenName), orText(strings.TrimSpace(t.Template), DefaultTemplate)
	}
	rps := []RequestParameter{}
	for _, rp := range in.RequestParameters {
		rp.Name, rp.Value = strings.TrimSpace(rp.Name), strings.TrimSpace(rp.Value)
		rp.In = orText(strings.ToLower(strings.TrimSpace(rp.In)), InHeader)
		if rp.Name != "" || rp.Value != "" {
			rps = append(rps, rp)
		}
	}
	in.RequestParameters = rps
	in.APIBaseURLs = trimList(in.APIBaseURLs)
	if in.APIBaseURLs == nil {
		in.APIBaseURLs = []string{}
	}
	if hc := in.HealthCheck; hc != nil {
		hc.Method, hc.URL = strings.ToUpper(strings.TrimSpace(hc.Method)), strings.TrimSpace(hc.URL)
		if hc.URL == "" && (hc.Method == "" || hc.Method == "GET") && hc.ExpectStatus == 0 {
			in.HealthCheck = nil
		} else {
			hc.Method = orText(hc.Method, "GET")
			if hc.ExpectStatus == 0 {
				hc.ExpectStatus = 200
			}
		}
	}
}

func normalizeOAuth2(o *OAuth2) {
	for _, s := range []*string{&o.AuthorizationURL, &o.TokenURL, &o.RevokeURL, &o.Scope, &o.ClientID, &o.ClientSecret, &o.Issuer} {
		*s = strings.TrimSpace(*s)
	}
	o.GrantType = strings.ToLower(strings.TrimSpace(o.GrantType))
	o.TokenMethod = orText(strings.ToUpper(strings.TrimSpace(o.TokenMethod)), "POST")
	o.ClientAuth = orText(strings.ToLower(strings.TrimSpace(o.ClientAuth)), ClientAuthBasic)
	if o.GrantType == GrantClientCredentials {
		o.PKCE = false // PKCE protects an authorization code; this grant has none
	}
	if o.RefreshWindowSeconds == 0 {
		o.RefreshWindowSeconds = int(DefaultRefreshWindow.Seconds())
	}
	if len(o.RejectedStatuses) == 0 {
		o.RejectedStatuses = slices.Clone(DefaultRejectedStatuses)
	}
	o.AuthorizationParams, o.TokenParams = trimMap(o.AuthorizationParams), trimMap(o.TokenParams)
	normalizeQuirksB(o)
}

// trimMap trims keys and values into a new non-nil map; when two keys trim
// to the same name the first in sorted order wins, so the result is stable.
func trimMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, dup := out[strings.TrimSpace(k)]; !dup {
			out[strings.TrimSpace(k)] = strings.TrimSpace(m[k])
		}
	}
	return out
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validator carries the declared parameters and a trial value for each,
// used to check that every URL stays a URL once parameters are filled in.
type validator struct {
	fe       FieldErrors
	declared map[string]bool
	trial    map[string]string
}

// Validate checks a normalized integration; the same rules serve the HTML
// form and the JSON API. It returns nil when the integration is valid.
func Validate(in Integration, opts ValidateOptions) FieldErrors {
	v := &validator{fe: FieldErrors{}, declared: map[string]bool{}, trial: map[string]string{}}
	v.identity(in.Key, in.Name)
	v.parameters(in.Parameters)
	params := make(map[string]bool, len(v.declared))
	for n := range v.declared {
		params[n] = true
	}
	v.declareCaptures(in)
	v.authType(in)
	if in.Type() == AuthOAuth2 {
		v.quirksB(in, params)
		v.oauth2(in.OAuth2, opts)
	}
	v.token(in.Token)
	v.requestParams(in.RequestParameters, in.Token)
	v.baseURLs(in.APIBaseURLs)
	v.healthCheck(in.HealthCheck)
	v.quirks(in)
	v.destinations(in)
	v.captureHosts(in)
	if len(v.fe) == 0 {
		return nil
	}
	return v.fe
}

func (v *validator) identity(key, name string) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		v.fe.add("name", "Name is required")
	case n > maxNameLen:
		v.fe.add("name", fmt.Sprintf("Name may be at most %d characters", maxNameLen))
	case hasControl(name):
		v.fe.add("name", "Name may not contain line breaks or control characters")
	}
	switch {
	case key == "":
		v.fe.add("key", "Key is required")
	case len(key) > maxKeyLen:
		v.fe.add("key", fmt.Sprintf("Key may be at most %d characters", maxKeyLen))
	case !isAlnum(key):
		v.fe.add("key", "Key may contain only letters and digits")
	}
}

func (v *validator) parameters(ps []Parameter) {
	if len(ps) > maxListLen {
		v.fe.add("parameters", fmt.Sprintf("At most %d parameters are allowed: remove some", maxListLen))
	}
	first := map[string]int{}
	for i, p := range ps {
		if isParamName(p.Name) && p.Name != "token" && len(p.Name) <= maxParamNameLen {
			v.declared[p.Name], v.trial[p.Name] = true, "example"
		}
		if i >= maxListLen {
			continue
		}
		path := fmt.Sprintf("parameters[%d].name", i)
		j, dup := first[p.Name]
		switch {
		case p.Name == "":
			v.fe.add(path, "Parameter name is required")
		case len(p.Name) > maxParamNameLen:
			v.fe.add(path, fmt.Sprintf("Parameter name may be at most %d characters", maxParamNameLen))
		case !isParamName(p.Name):
			v.fe.add(path, "Parameter name may contain only letters, digits and underscore")
		case p.Name == "token":
			v.fe.add(path, "token is reserved for the access token in the token template: choose another name")
		case dup:
			v.fe.add(path, fmt.Sprintf("Parameter %s is already declared as parameters[%d]: rename or remove one", p.Name, j))
		default:
			first[p.Name] = i
		}
		if utf8.RuneCountInString(p.Description) > maxTextLen { // documentation only: braces are fine
			v.fe.add(fmt.Sprintf("parameters[%d].description", i), fmt.Sprintf("Too long: at most %d characters", maxTextLen))
		}
		v.allowedValues(fmt.Sprintf("parameters[%d].allowed_values", i), p.AllowedValues)
	}
}

func (v *validator) oauth2(o OAuth2, opts ValidateOptions) {
	code := o.GrantType == GrantAuthorizationCode
	if !code && o.GrantType != GrantClientCredentials {
		v.fe.add("oauth2.grant_type", "Grant type must be authorization_code or client_credentials")
	}
	v.url("oauth2.token_url", o.TokenURL, "Token URL is required")
	if o.TokenMethod != "POST" && o.TokenMethod != "GET" {
		v.fe.add("oauth2.token_method", "Token method must be POST (the standard) or GET")
	}
	authReq := ""
	if code {
		authReq = "Authorization URL is required for the authorization_code grant"
	}
	v.url("oauth2.authorization_url", o.AuthorizationURL, authReq)
	v.url("oauth2.revoke_url", o.RevokeURL, "")
	v.url("oauth2.issuer", o.Issuer, "")
	if code && o.Scope == "" && !o.ScopeOptional {
		v.fe.add("oauth2.scope", "Scope is required for the authorization_code grant: enter the scopes the provider expects, separated by spaces, "+
			"or, if the provider takes no scope parameter (it sets access in its app console), tick “The provider takes no scope” (oauth2.scope_optional)")
	}
	v.text("oauth2.scope", o.Scope, maxTextLen)
	if o.ClientID == "" {
		v.fe.add("oauth2.client_id", "Client ID is required")
	}
	v.text("oauth2.client_id", o.ClientID, maxTextLen)
	if opts.RequireSecret && o.ClientSecret == "" {
		v.fe.add("oauth2.client_secret", "Client secret is required")
	}
	v.secretText("oauth2.client_secret", o.ClientSecret)
	if o.ClientAuth != ClientAuthBasic && o.ClientAuth != ClientAuthBody {
		v.fe.add("oauth2.client_auth", "Client authentication must be basic (HTTP Basic header) or body (client_id and client_secret in the form)")
	}
	if o.RefreshWindowSeconds < 60 || o.RefreshWindowSeconds > 86400 {
		v.fe.add("oauth2.refresh_window_seconds", "Refresh window must be between 60 and 86400 seconds (default 1800)")
	}
	if len(o.RejectedStatuses) > maxStatuses {
		v.fe.add("oauth2.rejected_statuses", fmt.Sprintf("At most %d rejected statuses are allowed", maxStatuses))
	}
	for i, s := range o.RejectedStatuses[:min(len(o.RejectedStatuses), maxStatuses)] {
		if s < 400 || s > 599 {
			v.fe.add(fmt.Sprintf("oauth2.rejected_statuses[%d]", i), "A rejected status must be between 400 and 599, e.g. 401")
		}
	}
	v.extraParams("oauth2.authorization_params", o.AuthorizationParams)
	v.extraParams("oauth2.token_params", o.TokenParams)
}

func (v *validator) extraParams(path string, m map[string]string) {
	if len(m) > maxListLen {
		v.fe.add(path, fmt.Sprintf("At most %d extra parameters are allowed: remove some", maxListLen))
		return
	}
	for k, val := range m {
		switch {
		case k == "":
			v.fe.add(path, "An extra parameter has no name: give it one or remove it")
		case len(k) > maxHeaderLen || hasControl(k):
			v.fe.add(path, fmt.Sprintf("Extra parameter names must be at most %d characters without control characters", maxHeaderLen))
		case isProtocolParam(k):
			v.fe.add(path+"."+k, k+" is set by Airlock from the OAuth 2.0 settings and cannot be overridden here: remove it")
		default:
			v.text(path+"."+k, val, maxTextLen)
		}
	}
}

func (v *validator) token(t TokenPlacement) {
	if t.In != InHeader && t.In != InQuery {
		v.fe.add("token.in", "Token location must be header or query")
	}
	if t.Name == "" {
		v.fe.add("token.name", "Token parameter name is required, e.g. Authorization")
	}
	v.paramName("token.name", t.Name, t.In)
	switch {
	case t.Template == "":
		v.fe.add("token.template", "The template is required: for a bearer header write Bearer {token}")
	case !v.text("token.template", t.Template, maxTextLen, "token"):
	default:
		if names, _ := Placeholders(t.Template); !slices.Contains(names, "token") {
			v.fe.add("token.template", "The template must contain {token}: for a bearer header write Bearer {token}")
		}
	}
}

func (v *validator) requestParams(rps []RequestParameter, t TokenPlacement) {
	if len(rps) > maxListLen {
		v.fe.add("request_parameters", fmt.Sprintf("At most %d request parameters are allowed: remove some", maxListLen))
	}
	for i, rp := range rps[:min(len(rps), maxListLen)] {
		base := fmt.Sprintf("request_parameters[%d]", i)
		if rp.In != InHeader && rp.In != InQuery {
			v.fe.add(base+".in", "Location must be header or query")
		}
		sameAsToken := rp.In == t.In && (rp.Name == t.Name || rp.In == InHeader && strings.EqualFold(rp.Name, t.Name))
		switch {
		case rp.Name == "":
			v.fe.add(base+".name", "Request parameter name is required")
		case sameAsToken:
			v.fe.add(base+".name", rp.Name+" already carries the token: remove this request parameter or rename the token parameter")
		}
		v.paramName(base+".name", rp.Name, rp.In)
		v.text(base+".value", rp.Value, maxTextLen)
	}
}

// paramName checks a token or request parameter name; in a header it must be
// a valid header name (RFC 9110 token) that the HTTP client does not own.
func (v *validator) paramName(path, name, in string) {
	if !v.text(path, name, maxHeaderLen) || in != InHeader || name == "" {
		return
	}
	expanded, _ := Expand(name, v.trial)
	switch {
	case !isHeaderName(expanded):
		v.fe.add(path, "Must be a valid header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons")
	case isReservedHeader(expanded):
		v.fe.add(path, expanded+" is set by the HTTP client and cannot be set here")
	}
}

func (v *validator) baseURLs(urls []string) {
	if len(urls) > maxBaseURLs {
		v.fe.add("api_base_urls", fmt.Sprintf("At most %d API base URLs are allowed", maxBaseURLs))
	}
	for i, s := range urls[:min(len(urls), maxBaseURLs)] {
		path := fmt.Sprintf("api_base_urls[%d]", i)
		if s == AnyOrigin {
			if len(urls) > 1 {
				v.fe.add(path, "* stands for any origin: make it the only API base URL, or remove it and list the API's origins")
			}
			continue
		}
		if u := v.url(path, s, "The API base URL is empty: enter one or remove the line"); u != nil && (u.RawQuery != "" || u.Fragment != "" || u.ForceQuery) {
			v.fe.add(path, "An API base URL may not contain ? or #: give the scheme, the host and an optional path prefix")
		}
	}
}

func (v *validator) healthCheck(hc *HealthCheck) {
	if hc == nil {
		return
	}
	switch hc.Method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	default:
		v.fe.add("health_check.method", "Method must be GET, HEAD, POST, PUT, PATCH or DELETE")
	}
	v.url("health_check.url", hc.URL, "Health check URL is required")
	if hc.ExpectStatus < 100 || hc.ExpectStatus > 599 {
		v.fe.add("health_check.expect_status", "Expected status must be between 100 and 599, e.g. 200")
	}
}

// text checks a text input: length, control characters, placeholder syntax,
// and that every placeholder is a declared parameter (or one of allowed).
// It reports whether the field is fine so far.
func (v *validator) text(path, s string, max int, allowed ...string) bool {
	if n := utf8.RuneCountInString(s); n > max {
		v.fe.add(path, fmt.Sprintf("Too long: at most %d characters (this has %d)", max, n))
		return false
	}
	if hasControl(s) {
		v.fe.add(path, "Remove line breaks and control characters")
		return false
	}
	names, err := Placeholders(s)
	if err != nil {
		v.fe.add(path, capitalize(err.Error()))
		return false
	}
	for _, n := range names {
		switch {
		case v.declared[n] || slices.Contains(allowed, n):
		case n == "token":
			v.fe.add(path, "{token} can be used only in the token template: write {{token}} for literal text")
			return false
		default:
			v.fe.add(path, fmt.Sprintf("Parameter %s is not declared: add %s under Integration parameters, or write {{%s}} for literal braces", n, n, n))
			return false
		}
	}
	return true
}

// secretText is text for the client secret; its messages never quote the
// text between braces, which is part of the secret.
func (v *validator) secretText(path, s string) {
	scratch := &validator{fe: FieldErrors{}, declared: v.declared}
	if scratch.text(path, s, maxTextLen) {
		return
	}
	msg := scratch.fe[path]
	if !strings.HasPrefix(msg, "Too long") && !strings.HasPrefix(msg, "Remove") {
		msg = "The secret has { or } that do not form a declared parameter: write {{ and }} for literal braces"
	}
	v.fe.add(path, msg)
}

// url checks an endpoint: required (when required is the message), a valid
// text, and an absolute http(s) URL once every parameter is filled in with a
// trial value; a placeholder in the scheme or port fails here.
func (v *validator) url(path, s, required string) *url.URL {
	if s == "" {
		if required != "" {
			v.fe.add(path, required)
		}
		return nil
	}
	if !v.text(path, s, maxURLLen) {
		return nil
	}
	u, err := ExpandURL(s, v.trial)
	if err != nil {
		v.fe.add(path, capitalize(err.Error()))
		return nil
	}
	return u
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func isAlnum(s string) bool {
	return isParamName(s) && !strings.Contains(s, "_")
}

// isHeaderName reports whether s is an RFC 9110 field name (a token).
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// QueryTokenWarning is the warning to show when the token goes in the URL
// query (RFC 6750 §5.3); empty when it goes in a header.
func QueryTokenWarning(in Integration) string {
	if in.Token.In != InQuery {
		return ""
	}
	return "The token goes in the URL query: tokens in URLs end up in server logs and browser history; prefer a header if the API accepts one."
}
