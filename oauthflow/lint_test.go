package oauthflow

import (
	"encoding/json"
	"reflect"
	"testing"
)

// lintBase is a clean integration: every hint below is satisfied by it.
func lintBase() Integration {
	in := DefaultIntegration()
	in.Key, in.Name = "acme", "Acme"
	o := &in.OAuth2
	o.AuthorizationURL, o.TokenURL, o.RevokeURL = "https://idp.example/authorize", "https://idp.example/token", "https://idp.example/revoke"
	o.Issuer, o.Scope, o.ClientID = "https://idp.example", "openid offline_access api.read", "client"
	in.APIBaseURLs = []string{"https://api.example/v1/"}
	in.HealthCheck = &HealthCheck{Method: "GET", URL: "https://api.example/v1/me", ExpectStatus: 200}
	return in
}

// lintHints is what a discovery of idp.example would say.
func lintHints() LintHints {
	return LintHints{OfflineAccess: &OfflineRequest{Scope: "offline_access"}, PKCESupported: true, Issuer: "https://idp.example",
		RevokeURL: "https://idp.example/revoke", ScopesSupported: []string{"openid", "offline_access", "api.read", "api.write"}}
}

func TestLint(t *testing.T) {
	tests := []struct {
		name   string
		change func(in *Integration, h *LintHints)
		want   []LintWarning
	}{
		{name: "clean", change: func(*Integration, *LintHints) {}, want: []LintWarning{}},
		{name: "no hints, clean", change: func(_ *Integration, h *LintHints) { *h = LintHints{} }, want: []LintWarning{}},
		{
			name:   "no_offline_access (scope)",
			change: func(in *Integration, _ *LintHints) { in.OAuth2.Scope = "openid api.read" },
			want: []LintWarning{{LintNoOfflineAccess, "oauth2.scope",
				"The provider issues a refresh token only when asked (the scope offline_access): without it, each account needs a reconnect when its access token expires. Add the scope offline_access."}},
		},
		{
			name: "no_offline_access (a preset's authorization parameters)",
			change: func(in *Integration, h *LintHints) {
				h.OfflineAccess = &OfflineRequest{Params: map[string]string{"access_type": "offline", "prompt": "consent"}}
				in.OAuth2.AuthorizationParams = map[string]string{"access_type": "offline"}
			},
			want: []LintWarning{{LintNoOfflineAccess, "oauth2.authorization_params",
				"The provider issues a refresh token only when asked (the authorization parameters access_type=offline prompt=consent): without it, each account needs a reconnect when its access token expires. Add the authorization parameters access_type=offline prompt=consent."}},
		},
		{
			name: "the parameters satisfy a request that also has a scope",
			change: func(in *Integration, h *LintHints) {
				h.OfflineAccess = &OfflineRequest{Scope: "refresh_token", Params: map[string]string{"access_type": "offline"}}
				in.OAuth2.AuthorizationParams = map[string]string{"access_type": "offline"}
			},
			want: []LintWarning{},
		},
		{
			name: "client credentials need no refresh token, PKCE or issuer",
			change: func(in *Integration, _ *LintHints) {
				in.OAuth2.GrantType, in.OAuth2.Scope, in.OAuth2.PKCE, in.OAuth2.Issuer = GrantClientCredentials, "api.read", false, ""
			},
			want: []LintWarning{},
		},
		{
			name:   "pkce_supported_but_off",
			change: func(in *Integration, _ *LintHints) { in.OAuth2.PKCE = false },
			want: []LintWarning{{LintPKCESupportedButOff, "oauth2.pkce",
				"The provider supports PKCE (S256) but it is off: turn it on; it protects the authorization code from interception (RFC 9700 §2.1.1)."}},
		},
		{
			name: "insecure_endpoint, every endpoint, a {param} host included",
			change: func(in *Integration, _ *LintHints) {
				in.Parameters = []Parameter{{Name: "host"}}
				in.OAuth2.AuthorizationURL, in.OAuth2.TokenURL = "HTTP://idp.example/authorize", "http://{host}.idp.example/token"
				in.OAuth2.RevokeURL = "http://[2001:db8::1]:8080/revoke"
				in.APIBaseURLs = []string{"https://api.example/v1/", "http://api.example:8080/v2/"}
				in.HealthCheck.URL = "http://api.example:8080/v2/me"
			},
			want: []LintWarning{
				insecure("api_base_urls[1]"), insecure("health_check.url"), insecure("oauth2.authorization_url"),
				insecure("oauth2.revoke_url"), insecure("oauth2.token_url"),
			},
		},
		{
			name: "http on loopback is a developer's machine",
			change: func(in *Integration, h *LintHints) {
				in.OAuth2.AuthorizationURL, in.OAuth2.TokenURL = "http://localhost:9000/authorize", "http://127.0.0.1:9000/token"
				in.OAuth2.RevokeURL, in.APIBaseURLs = "http://[::1]:9000/revoke", []string{"http://api.localhost/"}
				in.HealthCheck.URL = "http://api.localhost/me"
				h.RevokeURL = ""
			},
			want: []LintWarning{},
		},
		{
			name: "token_in_query",
			change: func(in *Integration, _ *LintHints) {
				in.Token = TokenPlacement{Name: "access_token", Template: "{token}", In: InQuery}
			},
			want: []LintWarning{{LintTokenInQuery, "token.in",
				"The access token goes in the URL query: URLs end up in server logs, proxies and referrers, and RFC 9700 (§4.3.2, after RFC 6750 §2.3) advises against it. Use a header if the API accepts one."}},
		},
		{
			name:   "any_api_origin",
			change: func(in *Integration, _ *LintHints) { in.APIBaseURLs = []string{AnyOrigin} },
			want: []LintWarning{{LintAnyAPIOrigin, "api_base_urls",
				"The API base URL is * (any origin): the token is sent to any host a request names. List the API's base URLs instead to keep it on them."}},
		},
		{
			name: "scope_not_supported, a {param} scope skipped",
			change: func(in *Integration, _ *LintHints) {
				in.Parameters = []Parameter{{Name: "team"}}
				in.OAuth2.Scope = "openid offline_access api.raed team:{team} admin api.raed"
			},
			want: []LintWarning{{LintScopeNotSupported, "oauth2.scope",
				"The provider's scopes_supported does not list api.raed, admin: check the spelling. (Many providers list only some of the scopes they accept; if connecting works, ignore this.)"}},
		},
		{
			name: "no_scope",
			change: func(in *Integration, h *LintHints) {
				in.OAuth2.Scope, in.OAuth2.ScopeOptional, h.OfflineAccess = "", true, nil
			},
			want: []LintWarning{{LintNoScope, "oauth2.scope",
				"No scope is requested (the provider takes no scope parameter): each token gets the access set in the app's settings at the provider, or asked for in a parameter of the provider's own (Slack's user_scope). When a request is refused for lack of permission, change it there."}},
		},
		{
			name:   "scope_optional with a scope given is no note",
			change: func(in *Integration, _ *LintHints) { in.OAuth2.ScopeOptional = true },
			want:   []LintWarning{},
		},
		{
			name:   "issuer_not_set",
			change: func(in *Integration, _ *LintHints) { in.OAuth2.Issuer = "" },
			want: []LintWarning{{LintIssuerNotSet, "oauth2.issuer",
				"The provider publishes its issuer https://idp.example and sends it with the authorization response: set it, so Airlock checks iss on every callback and refuses answers from another server (RFC 9207)."}},
		},
		{
			name:   "no_revoke_url",
			change: func(in *Integration, _ *LintHints) { in.OAuth2.RevokeURL = "" },
			want: []LintWarning{{LintNoRevokeURL, "oauth2.revoke_url",
				"The provider publishes a revocation endpoint (https://idp.example/revoke): set it, so disconnecting an account also revokes its tokens at the provider."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, h := lintBase(), lintHints()
			tt.change(&in, &h)
			Normalize(&in)
			if fe := Validate(in, ValidateOptions{}); fe != nil {
				t.Fatalf("the case is not a valid integration: %v", fe)
			}
			if got := Lint(in, h); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func insecure(path string) LintWarning {
	return LintWarning{LintInsecureEndpoint, path, "This URL uses http, not https, and is not on loopback: the tokens and the client secret it carries can be read and changed on the way. Use https."}
}

func TestLintJSON(t *testing.T) {
	in := lintBase()
	in.OAuth2.PKCE = false
	data, err := json.Marshal(Lint(in, lintHints()))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"code":"pkce_supported_but_off","field":"oauth2.pkce","message":"The provider supports PKCE (S256) but it is off: turn it on; it protects the authorization code from interception (RFC 9700 §2.1.1)."}]`
	if string(data) != want {
		t.Errorf("got %s, want %s", data, want)
	}
	if data, _ := json.Marshal(Lint(lintBase(), lintHints())); string(data) != "[]" {
		t.Errorf("got %s for a clean integration, want []", data)
	}
}

func TestDiscoveryHints(t *testing.T) {
	tests := []struct {
		name string
		d    Discovery
		want LintHints
	}{
		{
			name: "a provider that sends iss and lists offline_access",
			d: Discovery{Issuer: "https://idp.example", RevokeURL: "https://idp.example/revoke", PKCE: true,
				ScopesSupported: []string{"openid", "offline_access"}, issInResponse: true},
			want: LintHints{OfflineAccess: &OfflineRequest{Scope: "offline_access"}, PKCESupported: true, Issuer: "https://idp.example",
				RevokeURL: "https://idp.example/revoke", ScopesSupported: []string{"openid", "offline_access"}},
		},
		{
			name: "no iss in responses, no scopes listed",
			d:    Discovery{Issuer: "https://idp.example", ScopesSupported: []string{}},
			want: LintHints{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Hints(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
