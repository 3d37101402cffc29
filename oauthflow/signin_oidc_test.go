package oauthflow

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"airlock/oauthflow/fakeidp"
)

func TestOIDCRoleForGivesTheHighestRole(t *testing.T) {
	o := OIDCConfig{AdminGroups: []string{"ops"}, BuilderGroups: []string{"eng", "ops-lite"}, ViewerGroups: []string{"all"}}
	for _, tc := range []struct {
		groups []string
		want   string
	}{
		{[]string{"all", "eng", "ops"}, RoleAdmin},
		{[]string{"all", "eng"}, RoleBuilder},
		{[]string{"all"}, RoleViewer},
		{[]string{"Ops"}, ""}, // matched exactly, case included
		{nil, ""},
	} {
		if got := o.RoleFor(tc.groups); got != tc.want {
			t.Errorf("RoleFor(%q): got %q, want %q", tc.groups, got, tc.want)
		}
	}
}

func TestOIDCClaimLookupAndShapes(t *testing.T) {
	claims := map[string]any{
		"groups":                   []any{"a", "b"},
		"https://example.com/team": "x",
		"realm_access":             map[string]any{"roles": []any{"r1"}},
		"mixed":                    []any{"a", 1.0},
	}
	for _, tc := range []struct {
		name   string
		want   []string
		found  bool
		shaped bool
	}{
		{"groups", []string{"a", "b"}, true, true},
		{"https://example.com/team", []string{"x"}, true, true},
		{"realm_access.roles", []string{"r1"}, true, true},
		{"realm_access.missing", nil, false, true},
		{"mixed", nil, true, false},
	} {
		v, found := lookupClaim(claims, tc.name)
		got, ok := claimStrings(v)
		if found != tc.found || ok != tc.shaped || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %q found %v shaped %v, want %q found %v shaped %v", tc.name, got, found, ok, tc.want, tc.found, tc.shaped)
		}
	}
}

// oidcSignInAt runs a sign-in as login against idp up to the exchange, with
// the nonce check the caller gives.
func oidcSignInAt(t *testing.T, o *OIDCSignIn, idp *fakeidp.Provider, login string, nonceMatches func(string) bool) (OIDCLogin, error) {
	t.Helper()
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	to, err := o.AuthURL(ctx, "state-1", "nonce-1", verifier)
	if err != nil {
		t.Fatalf("AuthURL: %v", err)
	}
	back, err := idp.Approve(to, login)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	return o.Exchange(ctx, u.Query().Get("code"), verifier, nonceMatches)
}

func TestOIDCSignInExchange(t *testing.T) {
	alice := fakeidp.User{Login: "alice", Subject: "sub-alice", Email: "alice@example.com", Groups: []string{"eng"}}
	idp := fakeidp.New("console", "secret", nil, alice)
	defer idp.Close()
	cfg := OIDCConfig{Issuer: idp.URL(), ClientID: "console", ClientSecret: "secret", Scopes: []string{"openid", "email"}, RoleClaim: "groups"}
	o := NewOIDCSignIn(cfg, &http.Client{Timeout: 5 * time.Second}, "http://127.0.0.1:1/auth/oidc/callback", time.Now)

	l, err := oidcSignInAt(t, o, idp, "alice", func(n string) bool { return n == "nonce-1" })
	if err != nil {
		t.Fatalf("sign-in: got %v, want none", err)
	}
	if l.Subject != "sub-alice" || l.Email != "alice@example.com" || !l.ClaimFound || strings.Join(l.Groups, ",") != "eng" {
		t.Errorf("login: got %+v, want alice with the groups [eng]", l)
	}

	_, err = oidcSignInAt(t, o, idp, "alice", func(string) bool { return false })
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnauthorized || !strings.Contains(e.Message, "nonce") {
		t.Errorf("nonce not matching: got %v, want an %s error naming the nonce", err, CodeUnauthorized)
	}
}

func TestOIDCSignInProviderDown(t *testing.T) {
	idp := fakeidp.New("console", "secret", nil)
	issuer := idp.URL()
	idp.Close()
	o := NewOIDCSignIn(OIDCConfig{Issuer: issuer, ClientID: "console"}, &http.Client{Timeout: 5 * time.Second}, "http://127.0.0.1:1/cb", time.Now)
	_, err := o.AuthURL(context.Background(), "s", "n", oauth2.GenerateVerifier())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUpstreamUnreachable || !strings.Contains(e.Message, "AIRLOCK_OIDC_ISSUER") {
		t.Errorf("provider down: got %v, want an %s error naming AIRLOCK_OIDC_ISSUER", err, CodeUpstreamUnreachable)
	}
}
