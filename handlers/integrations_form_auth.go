package handlers

import (
	"bytes"
	"encoding/json"
	"strings"

	"airlock/oauthflow"
	"airlock/views"
)

// authTypeFromForm reads the type, the credential fields ("name | label |
// secret" lines) and the custom token request (JSON) of the builder form.
func authTypeFromForm(fe oauthflow.FieldErrors, f views.IntegrationForm, in *oauthflow.Integration) {
	in.AuthType = f.AuthType
	if in.AuthType != oauthflow.AuthCustomToken {
		return
	}
	for line := range strings.Lines(f.CredentialFields) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.Split(line, "|")
		cf := oauthflow.CredentialField{Name: strings.TrimSpace(parts[0])}
		if len(parts) > 1 {
			cf.Label = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			cf.Secret = strings.EqualFold(strings.TrimSpace(parts[2]), "secret")
		}
		in.CredentialFields = append(in.CredentialFields, cf)
	}
	if strings.TrimSpace(f.CustomToken) == "" {
		return
	}
	dec := json.NewDecoder(strings.NewReader(f.CustomToken))
	dec.DisallowUnknownFields()
	var ct oauthflow.CustomToken
	if err := dec.Decode(&ct); err != nil {
		fe["custom_token"] = "Not a valid token request: " + err.Error() + ` (write JSON such as {"url": "…", "body": "…", "response": {"token": "data.token"}})`
		return
	}
	in.CustomToken = &ct
}

// authTypeToForm fills the form's type fields from an integration.
func authTypeToForm(in oauthflow.Integration, f *views.IntegrationForm) {
	f.AuthType = in.Type()
	if in.Type() != oauthflow.AuthCustomToken {
		return
	}
	var lines []string
	for _, cf := range in.CredentialFields {
		l := cf.Name + " | " + cf.Label
		if cf.Secret {
			l += " | secret"
		}
		lines = append(lines, l)
	}
	f.CredentialFields = strings.Join(lines, "\n")
	if in.CustomToken != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(in.CustomToken)
		f.CustomToken = strings.TrimSpace(b.String())
	}
}
