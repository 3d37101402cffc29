package oauthflow

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Authentication types of an integration (Integration.AuthType). OAuth 2.0
// is the default; the others take what an account supplies (its credential
// fields) instead of a consent or a client secret.
const (
	AuthOAuth2      = "oauth2"
	AuthAPIToken    = "api_token"
	AuthBasic       = "basic"
	AuthCustomToken = "custom_token"
)

// Body formats of a custom token request (CustomToken.BodyFormat).
const (
	BodyJSON = "json"
	BodyForm = "form"
	BodyRaw  = "raw"
)

// Fixed credential fields: api_token's token, basic's username and password.
const (
	CredToken    = "token"
	CredUsername = "username"
	CredPassword = "password"
)

// Limits of credential fields and values.
const (
	maxCredentialFields = 20
	maxCredentialValue  = 8192
	maxCustomTTL        = 366 * 24 * 3600
)

// CredentialField is what an account must supply for an integration that is
// not OAuth 2.0: its name is the JSON key in "credentials" and, for
// custom_token, a {name} placeholder of the token request.
type CredentialField struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Secret      bool   `json:"secret"`
	Description string `json:"description,omitempty"`
}

// CustomTokenResponse says where the token and its expiry are in the custom
// token endpoint's JSON answer (LookupPath paths).
type CustomTokenResponse struct {
	Token           string `json:"token"`
	ExpiresIn       string `json:"expires_in"`
	ExpiresAt       string `json:"expires_at"`
	ExpiresAtFormat string `json:"expires_at_format"`
}

// CustomToken is a token endpoint that is not OAuth: a request built from
// the integration's parameters and the account's credential fields, whose
// answer holds a token. The token then goes through the token engine like
// an OAuth one (refresh window, single flight, lease, sealed at rest).
type CustomToken struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	// Body holds {name} placeholders of declared parameters and credential
	// fields only; every other brace is literal, so a JSON body needs no
	// escaping. Values are encoded for BodyFormat.
	Body              string              `json:"body"`
	BodyFormat        string              `json:"body_format"`
	Response          CustomTokenResponse `json:"response"`
	DefaultTTLSeconds int                 `json:"default_ttl_seconds"`
	// RefreshWindowSeconds is how long before expiry the token is fetched
	// again (default 1800, capped at half the token's lifetime).
	RefreshWindowSeconds int `json:"refresh_window_seconds"`
}

// Type is the integration's authentication type ("" reads as oauth2).
func (in Integration) Type() string {
	if in.AuthType == "" {
		return AuthOAuth2
	}
	return in.AuthType
}

// StaticCredentials reports an integration whose accounts send what they
// were given (api_token, basic): nothing to refresh, a rejection means the
// credentials must be replaced.
func (in Integration) StaticCredentials() bool {
	t := in.Type()
	return t == AuthAPIToken || t == AuthBasic
}

// FetchesToken reports an integration whose token is fetched without a
// person and without a refresh token: client credentials, custom token.
func (in Integration) FetchesToken() bool {
	return in.Type() == AuthCustomToken || (in.Type() == AuthOAuth2 && in.OAuth2.GrantType == GrantClientCredentials)
}

// UsesCredentials reports an integration whose accounts supply credentials.
func (in Integration) UsesCredentials() bool { return in.Type() != AuthOAuth2 }

// fixedCredentialFields are the credential fields of api_token and basic.
func fixedCredentialFields(t string) []CredentialField {
	switch t {
	case AuthAPIToken:
		return []CredentialField{{Name: CredToken, Label: "API token", Secret: true}}
	case AuthBasic:
		return []CredentialField{{Name: CredUsername, Label: "Username"}, {Name: CredPassword, Label: "Password", Secret: true}}
	}
	return nil
}

// normalizeAuthType sets the type's defaults: the fixed credential fields,
// the custom token request's defaults, and no oauth2 object for a type that
// is not oauth2.
func normalizeAuthType(in *Integration) {
	in.AuthType = strings.ToLower(strings.TrimSpace(in.AuthType))
	if in.AuthType == "" {
		in.AuthType = AuthOAuth2
	}
	fields := []CredentialField{}
	for _, f := range in.CredentialFields {
		f.Name, f.Label, f.Description = strings.TrimSpace(f.Name), strings.TrimSpace(f.Label), strings.TrimSpace(f.Description)
		if f.Name != "" || f.Label != "" || f.Description != "" {
			f.Label = orText(f.Label, f.Name)
			fields = append(fields, f)
		}
	}
	in.CredentialFields = fields
	if fixed := fixedCredentialFields(in.AuthType); fixed != nil {
		in.CredentialFields = fixed
	}
	if in.AuthType == AuthOAuth2 {
		in.CredentialFields = nil
		in.CustomToken = nil
		return
	}
	in.OAuth2 = OAuth2{}
	if in.AuthType != AuthCustomToken {
		in.CustomToken = nil
		return
	}
	if in.CustomToken == nil {
		in.CustomToken = &CustomToken{}
	}
	ct := in.CustomToken
	ct.Method = orText(strings.ToUpper(strings.TrimSpace(ct.Method)), "POST")
	ct.URL = strings.TrimSpace(ct.URL)
	ct.Headers = trimMap(ct.Headers)
	ct.BodyFormat = strings.ToLower(strings.TrimSpace(ct.BodyFormat))
	if ct.BodyFormat == "" {
		ct.BodyFormat = BodyJSON
	}
	r := &ct.Response
	r.Token, r.ExpiresIn, r.ExpiresAt = strings.TrimSpace(r.Token), strings.TrimSpace(r.ExpiresIn), strings.TrimSpace(r.ExpiresAt)
	r.ExpiresAtFormat = strings.ToLower(strings.TrimSpace(r.ExpiresAtFormat))
	if r.ExpiresAt != "" && r.ExpiresAtFormat == "" {
		r.ExpiresAtFormat = ExpiresAtUnix
	}
	if ct.RefreshWindowSeconds == 0 {
		ct.RefreshWindowSeconds = int(DefaultRefreshWindow.Seconds())
	}
}

// authType validates the type, the credential fields and the custom token
// request. The credential fields' names join the declared placeholders of
// the custom token request only.
func (v *validator) authType(in Integration) {
	switch in.AuthType {
	case "", AuthOAuth2, AuthAPIToken, AuthBasic, AuthCustomToken:
	default:
		v.fe.add("auth_type", "Auth type must be oauth2, api_token, basic or custom_token")
		return
	}
	if in.AuthType != AuthCustomToken {
		return
	}
	v.credentialFields(in)
	v.customToken(in)
}

func (v *validator) credentialFields(in Integration) {
	fs := in.CredentialFields
	switch {
	case len(fs) == 0:
		v.fe.add("credential_fields", "Declare at least one credential field: what an account supplies, e.g. api_key")
	case len(fs) > maxCredentialFields:
		v.fe.add("credential_fields", fmt.Sprintf("At most %d credential fields are allowed", maxCredentialFields))
	}
	seen := map[string]int{}
	for i, f := range fs {
		path := fmt.Sprintf("credential_fields[%d].name", i)
		j, dup := seen[f.Name]
		switch {
		case f.Name == "":
			v.fe.add(path, "Credential field name is required")
		case len(f.Name) > maxParamNameLen || !isParamName(f.Name):
			v.fe.add(path, "Credential field name may contain only letters, digits and underscore (at most 64)")
		case f.Name == "token":
			v.fe.add(path, "token is reserved for the fetched token: choose another name")
		case dup:
			v.fe.add(path, fmt.Sprintf("%s is already declared as credential_fields[%d]: rename or remove one", f.Name, j))
		case v.declared[f.Name]:
			v.fe.add(path, fmt.Sprintf("%s is already a parameter: a credential field needs a name of its own", f.Name))
		default:
			seen[f.Name] = i
		}
		v.text(fmt.Sprintf("credential_fields[%d].label", i), f.Label, maxNameLen)
		if utf8.RuneCountInString(f.Description) > maxTextLen {
			v.fe.add(fmt.Sprintf("credential_fields[%d].description", i), fmt.Sprintf("Too long: at most %d characters", maxTextLen))
		}
	}
}

func (v *validator) customToken(in Integration) {
	ct := in.CustomToken
	if ct == nil {
		v.fe.add("custom_token", "The custom token request is required for auth_type custom_token")
		return
	}
	switch ct.Method {
	case "GET", "POST", "PUT", "PATCH":
	default:
		v.fe.add("custom_token.method", "Method must be GET, POST, PUT or PATCH")
	}
	// The URL may use parameters (host rules apply) and credential fields
	// (percent-encoded); a credential field may not reach the host.
	savedTrial, savedDeclared := v.trial, v.declared
	v.trial, v.declared = map[string]string{}, map[string]bool{}
	for k, val := range savedTrial {
		v.trial[k] = val
	}
	for k := range savedDeclared {
		v.declared[k] = true
	}
	for _, f := range in.CredentialFields {
		if isParamName(f.Name) {
			v.trial[f.Name], v.declared[f.Name] = "example", true
		}
	}
	if v.url("custom_token.url", ct.URL, "The token URL is required for auth_type custom_token") != nil {
		names, _ := hostParams(ct.URL)
		for _, n := range names {
			if !savedDeclared[n] {
				v.fe.add("custom_token.url", fmt.Sprintf("Credential field %s is in the host: credentials may go only in the path, query, headers or body; put a fixed host (or a parameter) there", n))
			}
		}
	}
	for k, val := range ct.Headers {
		path := "custom_token.headers." + k
		if !isHeaderName(k) {
			v.fe.add(path, fmt.Sprintf("%q is not a valid header name", k))
			continue
		}
		if isReservedHeader(k) {
			v.fe.add(path, k+" is set by the HTTP client: remove it")
			continue
		}
		v.text(path, val, maxTextLen)
	}
	v.trial, v.declared = savedTrial, savedDeclared
	if len(ct.Body) > maxTextLen*4 {
		v.fe.add("custom_token.body", fmt.Sprintf("Too long: at most %d bytes", maxTextLen*4))
	}
	switch ct.BodyFormat {
	case BodyJSON, BodyForm, BodyRaw:
	default:
		v.fe.add("custom_token.body_format", "Body format must be json, form or raw")
	}
	if ct.Method == "GET" && ct.Body != "" {
		v.fe.add("custom_token.body", "A GET request carries no body: use POST, or put the values in the URL")
	}
	v.customResponse(ct)
	if ct.DefaultTTLSeconds < 0 || ct.DefaultTTLSeconds > maxCustomTTL {
		v.fe.add("custom_token.default_ttl_seconds", "Default TTL must be between 0 (unknown: fetched again only when rejected) and 31622400 seconds")
	}
	if ct.RefreshWindowSeconds < 0 || ct.RefreshWindowSeconds > 86400 {
		v.fe.add("custom_token.refresh_window_seconds", "Refresh window must be between 0 and 86400 seconds (default 1800)")
	}
}

func (v *validator) customResponse(ct *CustomToken) {
	r := ct.Response
	if r.Token == "" {
		v.fe.add("custom_token.response.token", "Give the JSON path of the token in the answer, e.g. data.token or access_token")
	}
	for _, f := range []struct{ name, path string }{{"token", r.Token}, {"expires_in", r.ExpiresIn}, {"expires_at", r.ExpiresAt}} {
		if f.path == "" {
			continue
		}
		if err := ValidatePath(f.path); err != nil {
			v.fe.add("custom_token.response."+f.name, "Not a JSON path: "+err.Error()+" (write a.b or a[0].b, e.g. data.token)")
		}
	}
	switch r.ExpiresAtFormat {
	case "", ExpiresAtUnix, ExpiresAtUnixMS, ExpiresAtRFC3339:
	default:
		v.fe.add("custom_token.response.expires_at_format", "The expires_at format must be unix (seconds), unix_ms (milliseconds) or rfc3339")
	}
}

// customRefreshWindow is custom_token's refresh window (0 is allowed: fetch
// again only at expiry).
func (in Integration) customRefreshWindow() time.Duration {
	if in.CustomToken == nil || in.CustomToken.RefreshWindowSeconds < 0 {
		return DefaultRefreshWindow
	}
	return time.Duration(in.CustomToken.RefreshWindowSeconds) * time.Second
}
