package oauthflow

import (
	"slices"
	"strings"
	"testing"
)

func TestHostParams(t *testing.T) {
	tests := []struct {
		tmpl, domain string
		names        []string
	}{
		{"https://{server}.acme.com/token", "acme.com", []string{"server"}},
		{"https://{server}.eu.acme.co.uk/token", "acme.co.uk", []string{"server"}},
		{"https://{a}-{b}.api.acme.com/", "acme.com", []string{"a", "b"}},
		{"https://{server}x.acme.com/", "acme.com", []string{"server"}},
		{"https://{server}.com/token", "", []string{"server"}},
		{"https://{server}.co.uk/token", "", []string{"server"}},
		{"https://acme-{server}.com/token", "", []string{"server"}},
		{"https://{server}acme.com/token", "", []string{"server"}},
		{"https://{host}/token", "", []string{"host"}},
		{"https://{host}:8443/token", "", []string{"host"}},
		{"https://auth.acme.com/{tenant}/token", "", nil},
		{"https://{s}.blogspot.com/", "", []string{"s"}}, // a public suffix of its own
	}
	for _, tt := range tests {
		names, domain := hostParams(tt.tmpl)
		if domain != tt.domain || !slices.Equal(names, tt.names) {
			t.Errorf("%s: got %v, %q, want %v, %q", tt.tmpl, names, domain, tt.names, tt.domain)
		}
	}
}

func TestAccountValuesInHosts(t *testing.T) {
	in := validIntegration() // {tenant}.auth.acme.example in the token and revoke URLs
	in.Parameters[0].AllowedValues = []string{"eu", "us"}
	tests := []struct {
		name   string
		mutate func(in *Integration)
		values map[string]string
		field  string // "" : valid
		msg    string
	}{
		{"fixed domain, any label", nil, map[string]string{"region": "eu", "tenant": "anyone"}, "", ""},
		{"allowed value", nil, map[string]string{"region": "us", "tenant": "acme"}, "", ""},
		{"outside the allowed values", nil, map[string]string{"region": "ap", "tenant": "acme"}, "parameters.region", "one of the integration's allowed values: eu, us"},
		{"a value that leaves the fixed domain", func(in *Integration) {
			in.OAuth2.TokenURL, in.OAuth2.RevokeURL = "https://{tenant}.amazonaws.com/token", ""
		}, map[string]string{"region": "eu", "tenant": "evil.s3"}, "parameters.tenant", "out of amazonaws.com"},
		{"unconstrained whole host", func(in *Integration) { in.OAuth2.TokenURL = "https://{tenant}/token" },
			map[string]string{"region": "eu", "tenant": "evil.example"}, "parameters.tenant", "an admin must give tenant a list of allowed values"},
		{"whole host with allowed values", func(in *Integration) {
			in.OAuth2.TokenURL = "https://{tenant}/token"
			in.Parameters[1].AllowedValues = []string{"a.acme.example"}
		}, map[string]string{"region": "eu", "tenant": "a.acme.example"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := in
			in.Parameters = slices.Clone(in.Parameters)
			if tt.mutate != nil {
				tt.mutate(&in)
			}
			fe := ValidateAccountParameters(in, tt.values)
			if tt.field == "" {
				if fe != nil {
					t.Errorf("got %v, want nil", fe)
				}
				return
			}
			if !strings.Contains(fe[tt.field], tt.msg) {
				t.Errorf("got %v, want %s: …%s…", fe, tt.field, tt.msg)
			}
		})
	}
}

func TestMovedDestinations(t *testing.T) {
	old := validIntegration()
	values := map[string]string{"region": "eu", "tenant": "acme"}
	tests := []struct {
		name   string
		mutate func(in *Integration)
		want   []string
	}{
		{"nothing changed", func(in *Integration) {}, nil},
		{"token path changed", func(in *Integration) { in.OAuth2.TokenURL = "https://{tenant}.auth.acme.example/v2/token" }, nil},
		{"token host written otherwise, same for these values", func(in *Integration) { in.OAuth2.TokenURL = "https://acme.auth.acme.example/token" }, nil},
		{"token to the revoke host", func(in *Integration) { in.OAuth2.TokenURL = "https://{tenant}.auth.acme.example/oauth/revoke" }, nil},
		{"token host moved", func(in *Integration) { in.OAuth2.TokenURL = "https://evil.example/token" }, []string{"oauth2.token_url"}},
		{"token host through a new parameter", func(in *Integration) {
			in.Parameters = append(in.Parameters, Parameter{Name: "h"})
			in.OAuth2.TokenURL = "https://{h}.evil.example/token"
		}, []string{"oauth2.token_url"}},
		{"revoke added elsewhere", func(in *Integration) { in.OAuth2.RevokeURL = "https://evil.example/revoke" }, []string{"oauth2.revoke_url"}},
		{"revoke removed", func(in *Integration) { in.OAuth2.RevokeURL = "" }, nil},
		{"base URL replaced", func(in *Integration) { in.APIBaseURLs = []string{"https://evil.example/"} }, []string{"api_base_urls[0]"}},
		{"base URL added", func(in *Integration) { in.APIBaseURLs = append(in.APIBaseURLs, "https://evil.example/") }, []string{"api_base_urls[1]"}},
		{"base URL removed", func(in *Integration) { in.APIBaseURLs = nil; in.HealthCheck = nil }, nil},
		{"base path narrowed", func(in *Integration) { in.APIBaseURLs = []string{"https://api.{region}.acme.example/v2/x/"} }, nil},
		{"health check elsewhere", func(in *Integration) { in.HealthCheck.URL = "https://evil.example/me" }, []string{"health_check.url"}},
		{"token to the query", func(in *Integration) {
			in.Token = TokenPlacement{Name: "access_token", Template: "{token}", In: InQuery}
		},
			[]string{"token.in", "token.name"}},
		{"header renamed", func(in *Integration) { in.Token.Name = "X-Token" }, []string{"token.name"}},
		{"header case", func(in *Integration) { in.Token.Name = "authorization" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntegration()
			tt.mutate(&in)
			if got := MovedDestinations(old, in, values); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	anyOld := old
	anyOld.APIBaseURLs = []string{AnyOrigin}
	in := validIntegration()
	in.APIBaseURLs = []string{"https://elsewhere.example/"}
	if got := MovedDestinations(anyOld, in, values); got != nil {
		t.Errorf("from * to a list: got %v, want nothing moved", got)
	}
}

func TestDestinationChanged(t *testing.T) {
	in := validIntegration() // tenant in the token, revoke URLs; region in base, health, client id, a request parameter
	in.OAuth2.TokenURL = "https://auth.acme.example/{tenant}/token"
	in.RequestParameters = []RequestParameter{{Name: "X-Other", Value: "{other}", In: InHeader}}
	in.Parameters = append(in.Parameters, Parameter{Name: "other"})
	base := map[string]string{"region": "eu", "tenant": "a", "other": "x"}
	for name, want := range map[string]bool{"region": true, "tenant": true, "other": false} {
		changed := map[string]string{"region": "eu", "tenant": "a", "other": "x"}
		changed[name] = "new"
		if got := DestinationChanged(in, base, changed); got != want {
			t.Errorf("%s changed: got %v, want %v", name, got, want)
		}
	}
}

func TestEndpointsFor(t *testing.T) {
	in := validIntegration()
	a := Account{Parameters: map[string]string{"region": "eu", "tenant": "now"}}
	recorded := Token{Endpoints: Endpoints{Token: "https://then.auth.acme.example/oauth/token", Revoke: "https://then.auth.acme.example/oauth/revoke"}}
	for _, grant := range []string{GrantAuthorizationCode, GrantClientCredentials} {
		in.OAuth2.GrantType = grant
		if got, _ := endpointsFor(in, a, recorded); got != recorded.Endpoints {
			t.Errorf("%s with recorded endpoints: got %+v, want the recorded ones", grant, got)
		}
	}
	in.OAuth2.GrantType = GrantAuthorizationCode
	if got, _ := endpointsFor(in, a, Token{RefreshToken: "rt"}); got != (Endpoints{}) {
		t.Errorf("authorization code without recorded endpoints: got %+v, want none", got)
	}
	in.OAuth2.GrantType = GrantClientCredentials
	want := Endpoints{Token: "https://now.auth.acme.example/oauth/token", Revoke: "https://now.auth.acme.example/oauth/revoke"}
	if got, _ := endpointsFor(in, a, Token{}); got != want {
		t.Errorf("client credentials, nothing recorded: got %+v, want %+v", got, want)
	}
}
