package oauthflow

import (
	"testing"
)

func TestExpandBody(t *testing.T) {
	values := map[string]string{"user": `a"b\c`, "api_key": "k&y=1 2"}
	tests := []struct {
		name, tmpl, format, want string
	}{
		{"json escapes, other braces literal", `{"user":"{user}","key":"{api_key}","x":{"y":"{other}"}}`, BodyJSON,
			`{"user":"a\"b\\c","key":"k\u0026y=1 2","x":{"y":"{other}"}}`},
		{"form encodes", `user={user}&key={api_key}`, BodyForm, `user=a%22b%5Cc&key=k%26y%3D1+2`},
		{"raw as is", `{user}:{api_key}`, BodyRaw, `a"b\c:k&y=1 2`},
		{"unclosed brace literal", `{"a":"{user"}`, BodyJSON, `{"a":"{user"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandBody(tt.tmpl, tt.format, values)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func customIntegration() Integration {
	return Integration{Key: "ct", Name: "CT", AuthType: AuthCustomToken,
		Parameters:       []Parameter{{Name: "tenant"}},
		CredentialFields: []CredentialField{{Name: "username"}, {Name: "api_key", Secret: true}},
		CustomToken: &CustomToken{URL: "https://auth.example.com/{tenant}/token?u={username}",
			Body:     `{"user":"{username}","key":"{api_key}"}`,
			Response: CustomTokenResponse{Token: "data.token"}},
		APIBaseURLs: []string{"https://api.example.com/"}}
}

func TestValidateAuthTypes(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Integration)
		path   string // "" means valid
	}{
		{"custom token valid", func(*Integration) {}, ""},
		{"api token valid", func(in *Integration) { in.AuthType, in.CustomToken = AuthAPIToken, nil }, ""},
		{"basic valid", func(in *Integration) { in.AuthType = AuthBasic }, ""},
		{"unknown type", func(in *Integration) { in.AuthType = "saml" }, "auth_type"},
		{"no token path", func(in *Integration) { in.CustomToken.Response.Token = "" }, "custom_token.response.token"},
		{"bad body format", func(in *Integration) { in.CustomToken.BodyFormat = "xml" }, "custom_token.body_format"},
		{"bad expires_at format", func(in *Integration) {
			in.CustomToken.Response.ExpiresAt, in.CustomToken.Response.ExpiresAtFormat = "exp", "iso"
		}, "custom_token.response.expires_at_format"},
		{"no url", func(in *Integration) { in.CustomToken.URL = "" }, "custom_token.url"},
		{"undeclared in url", func(in *Integration) { in.CustomToken.URL = "https://auth.example.com/{nope}" }, "custom_token.url"},
		{"credential field in host", func(in *Integration) { in.CustomToken.URL = "https://{username}.example.com/token" }, "custom_token.url"},
		{"no fields", func(in *Integration) { in.CredentialFields = nil }, "credential_fields"},
		{"field named like a parameter", func(in *Integration) { in.CredentialFields[0].Name = "tenant" }, "credential_fields[0].name"},
		{"duplicate field", func(in *Integration) { in.CredentialFields[1].Name = "username" }, "credential_fields[1].name"},
		{"negative ttl", func(in *Integration) { in.CustomToken.DefaultTTLSeconds = -1 }, "custom_token.default_ttl_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := customIntegration()
			tt.change(&in)
			Normalize(&in)
			fe := Validate(in, ValidateOptions{})
			if tt.path == "" {
				if fe != nil {
					t.Errorf("got %v, want valid", fe)
				}
				return
			}
			if fe[tt.path] == "" {
				t.Errorf("got %v, want an error at %s", fe, tt.path)
			}
		})
	}
}

func TestNormalizeAuthTypes(t *testing.T) {
	in := Integration{AuthType: " Basic ", OAuth2: OAuth2{TokenURL: "https://x"}, CredentialFields: []CredentialField{{Name: "x"}}}
	Normalize(&in)
	if len(in.CredentialFields) != 2 || in.CredentialFields[1].Name != CredPassword || !in.CredentialFields[1].Secret {
		t.Errorf("got fields %+v, want username and secret password", in.CredentialFields)
	}
	if in.OAuth2.TokenURL != "" {
		t.Errorf("got oauth2 %+v, want none for basic", in.OAuth2)
	}
	ct := customIntegration()
	Normalize(&ct)
	if got := ct.CustomToken; got.Method != "POST" || got.BodyFormat != BodyJSON || got.RefreshWindowSeconds != 1800 {
		t.Errorf("got %+v, want POST, json, 1800", got)
	}
}

func TestValidateCredentials(t *testing.T) {
	in := Integration{AuthType: AuthBasic}
	Normalize(&in)
	fe := ValidateCredentials(in, map[string]string{"username": "a:b", "extra": "x"})
	for _, p := range []string{"credentials.username", "credentials.password", "credentials.extra"} {
		if fe[p] == "" {
			t.Errorf("got %v, want an error at %s", fe, p)
		}
	}
	if fe := ValidateCredentials(in, map[string]string{"username": "u", "password": "p"}); fe != nil {
		t.Errorf("got %v, want nil", fe)
	}
}
