package oauthflow

import (
	"strings"
	"testing"
)

func TestValidateAccountParameters(t *testing.T) {
	in := Integration{
		Parameters: []Parameter{{Name: "serverName", Description: "DEV, QA or PROD host"}, {Name: "tenant"}},
		OAuth2: OAuth2{AuthorizationURL: "https://{serverName}.acme.test/authorize?t={tenant}", TokenURL: "https://{serverName}.acme.test/token",
			ClientID: "cid-{tenant}"},
		Token:             TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"},
		RequestParameters: []RequestParameter{{Name: "X-Tenant", Value: "{tenant}", In: "header"}},
	}
	cases := []struct {
		name   string
		values map[string]string
		path   string
		msg    string
	}{
		{"valid", map[string]string{"serverName": "prod", "tenant": "a b/c?d"}, "", ""},
		{"missing value", map[string]string{"serverName": "prod"}, "parameters.tenant", "Enter a value for tenant"},
		{"empty value", map[string]string{"serverName": " ", "tenant": "x"}, "parameters.serverName", "(DEV, QA or PROD host)"},
		{"undeclared name", map[string]string{"serverName": "prod", "tenant": "x", "extra": "y"}, "parameters.extra", "not a parameter of this integration"},
		{"host value with a path", map[string]string{"serverName": "evil.test/x", "tenant": "x"}, "parameters.serverName", "oauth2."},
		{"host value with a port", map[string]string{"serverName": "evil.test:8443", "tenant": "x"}, "parameters.serverName", "oauth2."},
		{"host value with userinfo", map[string]string{"serverName": "a@evil.test", "tenant": "x"}, "parameters.serverName", "oauth2."},
		{"header value with a line break", map[string]string{"serverName": "prod", "tenant": "x\r\nX-Injected: 1"}, "parameters.tenant", "invalid"},
		{"too long", map[string]string{"serverName": "prod", "tenant": strings.Repeat("x", 1001)}, "parameters.tenant", "longer than 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fe := ValidateAccountParameters(in, tc.values)
			if tc.path == "" {
				if len(fe) != 0 {
					t.Errorf("got %v, want no errors", fe)
				}
				return
			}
			if got := fe[tc.path]; !strings.Contains(got, tc.msg) {
				t.Errorf("%s: got %q (all: %v), want it to contain %q", tc.path, got, fe, tc.msg)
			}
		})
	}
}
