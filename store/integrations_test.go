package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"airlock/oauthflow"
)

func sampleIntegration(key string) oauthflow.Integration {
	return oauthflow.Integration{
		Key: key, Name: "Acme " + key,
		Parameters: []oauthflow.Parameter{{Name: "serverName", Description: "host"}},
		OAuth2: oauthflow.OAuth2{
			GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: "https://{serverName}.acme.test/authorize",
			TokenURL: "https://{serverName}.acme.test/token", TokenMethod: "POST", Scope: "read", ClientID: "cid",
			ClientSecret: "super-secret-value-1234", ClientAuth: "basic", PKCE: true,
		},
		Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"},
	}
}

func TestIntegrationSecretIsSealedAndNeverReturned(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	in, err := s.CreateIntegration(ctx, sampleIntegration("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if in.OAuth2.ClientSecret != "" || !in.OAuth2.ClientSecretSet || in.OAuth2.ClientSecretLast4 != "1234" {
		t.Errorf("created: secret %q set=%v last4=%q, want empty, true, 1234", in.OAuth2.ClientSecret, in.OAuth2.ClientSecretSet, in.OAuth2.ClientSecretLast4)
	}
	got, err := s.IntegrationSecret(ctx, in.ID)
	if err != nil || got != "super-secret-value-1234" {
		t.Errorf("IntegrationSecret: got %q (%v)", got, err)
	}
	// Update without a secret keeps it; with one replaces it.
	upd := sampleIntegration("acme")
	upd.OAuth2.ClientSecret = ""
	upd.Name = "Renamed"
	if _, err := s.UpdateIntegration(ctx, "acme", upd); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.IntegrationSecret(ctx, in.ID); got != "super-secret-value-1234" {
		t.Errorf("secret after an update without one: got %q", got)
	}
	for where, text := range storedText(t, s) {
		if strings.Contains(text, "super-secret-value") {
			t.Errorf("%s contains the client secret in clear", where)
		}
	}
}

func TestIntegrationKeyRules(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a, _ := s.CreateIntegration(ctx, sampleIntegration("acme"))
	if _, err := s.CreateIntegration(ctx, sampleIntegration("acme")); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate key: got %v, want ErrConflict", err)
	}
	if _, err := s.CreateIntegration(ctx, sampleIntegration("ACME")); !errors.Is(err, ErrConflict) {
		t.Errorf("the same key in another case: got %v, want ErrConflict", err)
	}
	s.CreateIntegration(ctx, sampleIntegration("other"))
	ren := sampleIntegration("other")
	if _, err := s.UpdateIntegration(ctx, "acme", ren); !errors.Is(err, ErrConflict) {
		t.Errorf("rename onto a taken key: got %v, want ErrConflict", err)
	}
	if _, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: a.ID, Name: "prod"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateIntegration(ctx, "acme", sampleIntegration("acme2")); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("rename with an account: got %v, want ErrKeyInUse", err)
	}
	n, err := s.DeleteIntegration(ctx, "acme")
	if err != nil || n != 1 {
		t.Errorf("delete: got %d (%v), want 1 account deleted", n, err)
	}
	if _, err := s.GetIntegration(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: got %v, want ErrNotFound", err)
	}
}

func TestListIntegrationsSearchAndPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for _, k := range []string{"alpha", "beta", "gamma", "delta", "a_b"} {
		in := sampleIntegration(strings.ReplaceAll(k, "_", ""))
		in.Name = "Name " + k
		if _, err := s.CreateIntegration(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	cursor := ""
	for {
		page, next, err := s.ListIntegrations(ctx, "", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page {
			keys = append(keys, it.Integration.Key)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if got := strings.Join(keys, ","); got != "ab,alpha,beta,delta,gamma" {
		t.Errorf("pages: got %s", got)
	}
	found, _, _ := s.ListIntegrations(ctx, "ALP", 10, "")
	if len(found) != 1 || found[0].Integration.Key != "alpha" {
		t.Errorf("search ALP: got %v", found)
	}
	under, _, _ := s.ListIntegrations(ctx, "a_b", 10, "")
	if len(under) != 1 {
		t.Errorf("search for a literal underscore: got %d, want 1 (LIKE wildcards escaped)", len(under))
	}
}
