package oauthflow

import (
	"strings"
)

// Provider quirks (issue 14 part A): normalizing and checking the fields that
// describe how a provider departs from RFC 6749.

// normalizeQuirks trims the quirk fields; empty ones stay empty so that an
// integration without quirks exports as before.
func normalizeQuirks(in *Integration) {
	o := &in.OAuth2
	o.TokenBody = strings.ToLower(strings.TrimSpace(o.TokenBody))
	if o.TokenBody == TokenBodyForm {
		o.TokenBody = ""
	}
	o.RefreshURL = strings.TrimSpace(o.RefreshURL)
	if o.RefreshParams = trimMap(o.RefreshParams); len(o.RefreshParams) == 0 {
		o.RefreshParams = nil
	}
	p := &o.TokenResponse
	for _, s := range []*string{&p.AccessToken, &p.RefreshToken, &p.ExpiresIn, &p.ExpiresAt, &p.Scope} {
		*s = strings.TrimSpace(*s)
	}
	p.ExpiresAtFormat = strings.ToLower(strings.TrimSpace(p.ExpiresAtFormat))
	for i := range in.RejectedResponses {
		r := &in.RejectedResponses[i]
		r.BodyPath, r.Header = strings.TrimSpace(r.BodyPath), strings.TrimSpace(r.Header)
	}
	if len(in.RejectedResponses) == 0 {
		in.RejectedResponses = nil
	}
}

// quirks checks the quirk fields.
func (v *validator) quirks(in Integration) {
	o := in.OAuth2
	switch o.TokenBody {
	case "", TokenBodyForm:
	case TokenBodyJSON:
		if o.TokenMethod == "GET" {
			v.fe.add("oauth2.token_body", "A JSON token body needs the POST token method: a GET request has no body")
		}
	default:
		v.fe.add("oauth2.token_body", `Token body must be form (the standard) or json`)
	}
	v.url("oauth2.refresh_url", o.RefreshURL, "")
	if o.RefreshURL != "" && o.GrantType == GrantClientCredentials {
		v.fe.add("oauth2.refresh_url", "The client credentials grant has no refresh token: clear the refresh URL")
	}
	v.extraParams("oauth2.refresh_params", o.RefreshParams)
	v.tokenResponse(o.TokenResponse)
	v.rejectedRules(in.RejectedResponses)
}

// tokenResponse checks the JSON paths and the expires_at format.
func (v *validator) tokenResponse(p TokenResponsePaths) {
	for _, f := range []struct{ name, path string }{{"access_token", p.AccessToken}, {"refresh_token", p.RefreshToken},
		{"expires_in", p.ExpiresIn}, {"expires_at", p.ExpiresAt}, {"scope", p.Scope}} {
		if f.path == "" {
			continue
		}
		if err := ValidatePath(f.path); err != nil {
			v.fe.add("oauth2.token_response."+f.name, "Not a JSON path: "+err.Error()+" (write a.b or a[0].b, e.g. authed_user.access_token)")
		} else {
			v.text("oauth2.token_response."+f.name, f.path, maxTextLen)
		}
	}
	switch p.ExpiresAtFormat {
	case "", ExpiresAtUnix, ExpiresAtUnixMS, ExpiresAtRFC3339:
	default:
		v.fe.add("oauth2.token_response.expires_at_format", "The expires_at format must be unix (seconds), unix_ms (milliseconds) or rfc3339")
	}
	if p.ExpiresAtFormat != "" && p.ExpiresAt == "" {
		v.fe.add("oauth2.token_response.expires_at_format", "The format applies to expires_at: give its path, or clear the format")
	}
}
