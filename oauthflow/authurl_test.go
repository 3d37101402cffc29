package oauthflow

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestNewState(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s, err := NewState()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b)*8 < 128 {
			t.Fatalf("got %q (%d bits, %v), want base64url with at least 128 bits", s, len(b)*8, err)
		}
		if seen[s] {
			t.Fatalf("got %q twice, want fresh states", s)
		}
		seen[s] = true
	}
}

func TestVerifierAndChallenge(t *testing.T) {
	v := NewVerifier()
	if len(v) < 43 || len(v) > 128 || strings.ContainsAny(v, "+/=") {
		t.Errorf("got verifier %q, want 43-128 base64url characters", v)
	}
	if v == NewVerifier() {
		t.Errorf("got the same verifier twice, want fresh ones")
	}
	// RFC 7636 Appendix B.
	if got, want := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAuthorizationURL(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(in *Integration)
		state   string
		want    map[string]string // query parameters; "" means absent
		wantErr string
	}{
		{name: "pkce", mutate: func(in *Integration) {}, state: "st",
			want: map[string]string{"response_type": "code", "client_id": "client-eu", "redirect_uri": "https://airlock.example/cb",
				"scope": "crm.read crm.write offline_access", "state": "st", "code_challenge": S256Challenge("ver"),
				"code_challenge_method": "S256", "prompt": "consent", "access_type": "offline"}},
		{name: "no pkce", mutate: func(in *Integration) { in.OAuth2.PKCE = false }, state: "st",
			want: map[string]string{"code_challenge": "", "code_challenge_method": "", "state": "st"}},
		{name: "extra param expanded", mutate: func(in *Integration) { in.OAuth2.AuthorizationParams["login_hint"] = "{tenant}@x" }, state: "st",
			want: map[string]string{"login_hint": "acme@x"}},
		{name: "protocol wins over the URL's own query", mutate: func(in *Integration) {
			in.OAuth2.AuthorizationURL = "https://{tenant}.auth.acme.example/authorize?response_type=token&state=evil"
		}, state: "st", want: map[string]string{"response_type": "code", "state": "st"}},
		{name: "no scope where the provider takes none", mutate: func(in *Integration) { in.OAuth2.Scope, in.OAuth2.ScopeOptional = "", true }, state: "st",
			want: map[string]string{"scope": "", "state": "st"}},
		{name: "empty state", mutate: func(in *Integration) {}, state: "", wantErr: "empty state"},
		{name: "client credentials", mutate: func(in *Integration) { in.OAuth2.GrantType = GrantClientCredentials }, state: "st", wantErr: "not authorization_code"},
		{name: "hostile host value", mutate: func(in *Integration) { in.OAuth2.AuthorizationURL = "https://{region}/authorize" }, state: "st", wantErr: "cannot be used in the host"},
		{name: "missing value", mutate: func(in *Integration) { in.OAuth2.Scope = "{missing}" }, state: "st", wantErr: `no value for parameter "missing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIntegration()
			tt.mutate(&in)
			values := map[string]string{"region": "eu", "tenant": "acme"}
			if tt.name == "hostile host value" {
				values["region"] = "evil.test:8080"
			}
			got, err := AuthorizationURL(in, values, "https://airlock.example/cb", tt.state, "ver")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v, want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a URL", err)
			}
			u, _ := url.Parse(got)
			if u.Host != "acme.auth.acme.example" || u.Path != "/authorize" {
				t.Errorf("got %s%s, want acme.auth.acme.example/authorize", u.Host, u.Path)
			}
			q := u.Query()
			for k, want := range tt.want {
				if got := q.Get(k); got != want || (want == "" && q.Has(k)) {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
				if len(q[k]) > 1 {
					t.Errorf("%s: got %d values, want one", k, len(q[k]))
				}
			}
		})
	}
}
