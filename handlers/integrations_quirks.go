package handlers

import (
	"bytes"
	"encoding/json"
	"strings"

	"airlock/oauthflow"
	"airlock/views"
)

// The "Provider quirks" section of the integration form (issue 14 part A):
// the form's fields and the integration's, both ways.

// readQuirksForm reads the section as typed.
func readQuirksForm(get func(string) string) views.QuirksForm {
	return views.QuirksForm{
		TokenBody: get("oauth2.token_body"), RefreshURL: get("oauth2.refresh_url"), RefreshParams: get("oauth2.refresh_params"),
		AccessTokenPath: get("oauth2.token_response.access_token"), RefreshTokenPath: get("oauth2.token_response.refresh_token"),
		ExpiresInPath: get("oauth2.token_response.expires_in"), ExpiresAtPath: get("oauth2.token_response.expires_at"),
		ExpiresAtFormat: get("oauth2.token_response.expires_at_format"), ScopePath: get("oauth2.token_response.scope"),
		RejectedResponses: get("rejected_responses"),
	}
}

// applyQuirks puts the section's fields on in; text that is not what a
// field needs is a field error.
func applyQuirks(fe oauthflow.FieldErrors, in *oauthflow.Integration, q views.QuirksForm) {
	o := &in.OAuth2
	o.TokenBody, o.RefreshURL = q.TokenBody, q.RefreshURL
	if o.RefreshParams = parseParamLines(fe, "oauth2.refresh_params", q.RefreshParams); len(o.RefreshParams) == 0 {
		o.RefreshParams = nil
	}
	o.TokenResponse = oauthflow.TokenResponsePaths{AccessToken: q.AccessTokenPath, RefreshToken: q.RefreshTokenPath,
		ExpiresIn: q.ExpiresInPath, ExpiresAt: q.ExpiresAtPath, ExpiresAtFormat: q.ExpiresAtFormat, Scope: q.ScopePath}
	text := strings.TrimSpace(q.RejectedResponses)
	if text == "" {
		return
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields() // a misspelt "body-path" would otherwise match everything it should not
	if err := dec.Decode(&in.RejectedResponses); err != nil {
		fe["rejected_responses"] = "Not a JSON array of rules (" + truncate(err.Error(), 120) + `): write e.g. [{"statuses": [200], "body_path": "ok", "equals": "false"}]`
	}
}

// quirksForm fills the section from an integration.
func quirksForm(in oauthflow.Integration) views.QuirksForm {
	o, p := in.OAuth2, in.OAuth2.TokenResponse
	q := views.QuirksForm{TokenBody: o.TokenBody, RefreshURL: o.RefreshURL, RefreshParams: paramLines(o.RefreshParams),
		AccessTokenPath: p.AccessToken, RefreshTokenPath: p.RefreshToken, ExpiresInPath: p.ExpiresIn, ExpiresAtPath: p.ExpiresAt,
		ExpiresAtFormat: p.ExpiresAtFormat, ScopePath: p.Scope}
	if len(in.RejectedResponses) > 0 {
		var b bytes.Buffer
		b.WriteString("[")
		for i, r := range in.RejectedResponses {
			one, _ := json.Marshal(r)
			if i > 0 {
				b.WriteString(",\n ")
			}
			b.Write(one)
		}
		b.WriteString("]")
		q.RejectedResponses = b.String()
	}
	return q
}
