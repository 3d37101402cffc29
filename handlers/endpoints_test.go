package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// tenantedSetup is an integration whose token, revoke and API URLs have the
// account's {env} in the host (a fixed domain after it, acme.test), with
// good.acme.test answered by one provider and evil.acme.test by another.
type tenantedSetup struct {
	ts             *testServer
	good, attacker *fakeprovider.Provider
	in             oauthflow.Integration
}

func newTenanted(t *testing.T, grant string) *tenantedSetup {
	hosts := newTestHosts(t)
	ts := newTestServer(t, hosts.option())
	s := &tenantedSetup{ts: ts, good: ts.provider(fakeprovider.Options{RotateRefreshTokens: true}), attacker: ts.provider(fakeprovider.Options{})}
	hosts.route("good.acme.test", s.good.URL())
	hosts.route("evil.acme.test", s.attacker.URL())
	s.in = ts.integrationFor(s.good, "tenanted", grant, fakeprovider.Options{}, func(in *oauthflow.Integration) {
		base := "http://{env}.acme.test:8080"
		in.Parameters = []oauthflow.Parameter{{Name: "env", Description: "good or evil"}}
		in.OAuth2.TokenURL, in.OAuth2.RevokeURL = base+"/token", base+"/revoke"
		in.APIBaseURLs = []string{base + "/api/"}
	})
	return s
}

// attackerHeard fails the test if the attacker's host received anything.
func (s *tenantedSetup) attackerHeard(t *testing.T, when string) {
	t.Helper()
	if n, r, a := s.attacker.TokenCalls(), s.attacker.RevokeCalls(), s.attacker.APICalls(); n+r+a != 0 {
		t.Errorf("%s: the attacker's host received %d token, %d revocation and %d API requests (last token request %+v), want none",
			when, n, r, a, s.attacker.LastTokenRequest().Form)
	}
}

// TestChangedParametersRevokeAtTheOldHostAndDeleteTheTokens is the attack of
// issue 11 point 2: changing an account's {env} (in the revoke URL's host)
// and then disconnecting sent the refresh token, the access token and the
// client secret to the new host. Now the change itself revokes the tokens at
// the endpoints they were issued by and deletes them, and the account needs
// a reconnection; nothing ever reaches the new host with the old grant.
func TestChangedParametersRevokeAtTheOldHostAndDeleteTheTokens(t *testing.T) {
	for _, via := range []string{"api", "console"} {
		t.Run(via, func(t *testing.T) {
			s := newTenanted(t, oauthflow.GrantAuthorizationCode)
			ts := s.ts
			acct := ts.account(s.in, "prod", map[string]string{"env": "good"})
			c := ts.signedIn(store.RoleBuilder)
			cb, err := s.good.Approve(c.startConnect(t, acct.ID))
			if err != nil {
				t.Fatal(err)
			}
			if r := c.follow(t, cb); r.status != http.StatusSeeOther {
				t.Fatalf("connect: %d %s", r.status, r.body)
			}
			tok, err := ts.store.LoadToken(context.Background(), acct.ID)
			if err != nil || tok.Endpoints.Revoke != "http://good.acme.test:8080/revoke" || tok.Endpoints.Token != "http://good.acme.test:8080/token" {
				t.Fatalf("stored token: %+v (%v), want the good host's endpoints recorded", tok.Endpoints, err)
			}
			key := ts.apiKey(store.RoleBuilder)
			if via == "api" {
				if r := ts.api("PATCH", "/api/v1/accounts/"+acct.ID, key, `{"parameters": {"env": "evil"}}`); r.status != 200 || !strings.Contains(r.body, `"status":"needs_reconnect"`) {
					t.Fatalf("PATCH: got %d %s, want 200 needs_reconnect", r.status, r.body)
				}
			} else {
				c.get("/accounts/" + acct.ID + "/edit")
				if r := c.post("/accounts/"+acct.ID, url.Values{"name": {"prod"}, "parameters.env": {"evil"}}); r.status != http.StatusSeeOther {
					t.Fatalf("edit: got %d %s, want 303", r.status, r.body)
				}
			}
			var revoked []string
			for _, r := range s.good.Revocations() {
				revoked = append(revoked, r.Token)
			}
			if !slices.Equal(revoked, []string{tok.RefreshToken, tok.AccessToken}) {
				t.Errorf("revoked at the good host: %d tokens, want the refresh then the access token", len(revoked))
			}
			if _, err := ts.store.LoadToken(context.Background(), acct.ID); !errors.Is(err, oauthflow.ErrNoToken) {
				t.Errorf("tokens after the change: %v, want none", err)
			}
			if a, _ := ts.store.GetAccount(context.Background(), acct.ID); a.Status != oauthflow.StatusNeedsReconnect {
				t.Errorf("status: %s, want needs_reconnect", a.Status)
			}
			// What the attack did next.
			ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
			ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", key, "")
			s.attackerHeard(t, "after the change, a refresh and a disconnect")
		})
	}
}

// TestRefreshAndRevokeUseTheEndpointsTheTokenWasIssuedBy: once a token set
// is stored, its refreshes and its revocation go where it was obtained, even
// after the integration's URLs change (here by an admin).
func TestRefreshAndRevokeUseTheEndpointsTheTokenWasIssuedBy(t *testing.T) {
	ts := newTestServer(t)
	p, in, acct := ts.connected(fakeprovider.Options{}, nil)
	other := ts.provider(fakeprovider.Options{})
	admin := ts.apiKey(store.RoleAdmin)
	doc := ts.integrationDoc(in.Key)
	o := doc["oauth2"].(map[string]any)
	o["token_url"], o["revoke_url"], o["client_secret"] = other.TokenURL(), other.RevokeURL(), fakeprovider.DefaultClientSecret
	if r := ts.putIntegration(in.Key, admin, doc); r.status != 200 {
		t.Fatalf("admin PUT: %d %s", r.status, r.body)
	}
	before := p.RefreshCalls()
	if r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", admin, ""); r.status != 200 || !strings.Contains(r.body, `"last_error":null`) {
		t.Errorf("refresh: %d %s", r.status, r.body)
	}
	if p.RefreshCalls() != before+1 {
		t.Errorf("refreshes at the issuing provider: %d, want %d", p.RefreshCalls(), before+1)
	}
	if r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/disconnect", admin, ""); r.status != 200 || !strings.Contains(r.body, `"revoked":true`) {
		t.Errorf("disconnect: %d %s", r.status, r.body)
	}
	if n := other.TokenCalls() + other.RevokeCalls(); n != 0 {
		t.Errorf("the new endpoints received %d calls for the old token set, want none", n)
	}
}

// TestParametersInHostsAreConstrained is the second attack of point 2:
// creating an account with a new {host} value on a client-credentials
// integration sent the client secret there at once. A parameter that is the
// whole host of a credential destination now needs allowed values, which
// only an admin sets, and an account's value must be one of them.
func TestParametersInHostsAreConstrained(t *testing.T) {
	hosts := newTestHosts(t)
	ts := newTestServer(t, hosts.option())
	good, attacker := ts.provider(fakeprovider.Options{}), ts.provider(fakeprovider.Options{})
	hosts.route("good.test", good.URL())
	hosts.route("evil.test", attacker.URL())
	admin, builder := ts.apiKey(store.RoleAdmin), ts.apiKey(store.RoleBuilder)
	mut := func(in *oauthflow.Integration) {
		in.Parameters = []oauthflow.Parameter{{Name: "host", Description: "the provider's host"}}
		in.OAuth2.TokenURL, in.OAuth2.RevokeURL = "http://{host}:8080/token", ""
		in.APIBaseURLs = []string{"http://{host}:8080/api/"}
	}
	// Stored as it could be before the fix (no validation refused it).
	legacy := ts.integrationFor(good, "legacy", oauthflow.GrantClientCredentials, fakeprovider.Options{}, mut)
	r := ts.api("POST", "/api/v1/integrations/legacy/accounts", builder, `{"name": "x", "parameters": {"host": "evil.test"}}`)
	if _, fields := apiFields(t, r); r.status != 422 || !strings.Contains(fields["parameters.host"], "allowed values") {
		t.Errorf("account on the unconstrained integration: got %d %s, want 422 on parameters.host", r.status, r.body)
	}
	if attacker.TokenCalls() != 0 {
		t.Fatalf("the attacker's host received the client secret (%d token requests)", attacker.TokenCalls())
	}
	// Validation now refuses such an integration, saying which fix to make.
	doc := ts.integrationDoc(legacy.Key)
	doc["key"] = "fresh"
	doc["oauth2"].(map[string]any)["client_secret"] = "secret-1234"
	b, _ := json.Marshal(doc)
	r = ts.api("POST", "/api/v1/integrations", admin, string(b))
	if _, fields := apiFields(t, r); r.status != 422 || !strings.Contains(fields["oauth2.token_url"], "fixed domain") || !strings.Contains(fields["oauth2.token_url"], "allowed values") {
		t.Errorf("create unconstrained: got %d %s, want 422 on oauth2.token_url naming both fixes", r.status, r.body)
	}
	// Only an admin sets allowed values.
	doc = ts.integrationDoc(legacy.Key)
	doc["parameters"] = []map[string]any{{"name": "host", "description": "", "allowed_values": []string{"good.test"}}}
	if r := ts.putIntegration(legacy.Key, builder, doc); r.status != 403 || !strings.Contains(r.body, `"parameters[0].allowed_values"`) {
		t.Errorf("builder setting allowed values: got %d %s, want 403 on parameters[0].allowed_values", r.status, r.body)
	}
	if r := ts.putIntegration(legacy.Key, admin, doc); r.status != 200 {
		t.Fatalf("admin setting allowed values: got %d %s", r.status, r.body)
	}
	r = ts.api("POST", "/api/v1/integrations/legacy/accounts", builder, `{"name": "x", "parameters": {"host": "evil.test"}}`)
	if _, fields := apiFields(t, r); r.status != 422 || !strings.Contains(fields["parameters.host"], "good.test") {
		t.Errorf("value outside the list: got %d %s, want 422 on parameters.host listing good.test", r.status, r.body)
	}
	r = ts.api("POST", "/api/v1/integrations/legacy/accounts", builder, `{"name": "ok", "parameters": {"host": "good.test"}}`)
	if r.status != 201 || !strings.Contains(r.body, `"status":"connected"`) || good.TokenCalls() != 1 {
		t.Errorf("value in the list: got %d %s (%d token calls), want 201 connected", r.status, r.body, good.TokenCalls())
	}
	if attacker.TokenCalls() != 0 {
		t.Errorf("the attacker's host received %d token requests, want none", attacker.TokenCalls())
	}
	// The console form has the input, comma-separated.
	c := ts.signedIn(store.RoleAdmin)
	if page := c.get("/integrations/legacy/edit"); !strings.Contains(page.body, `name="parameters[0].allowed_values" type="text" value="good.test"`) {
		t.Error("the edit form does not show the allowed values")
	}
	stored, _ := ts.store.GetIntegration(context.Background(), "legacy")
	f := integrationForm(stored, "")
	f.Set("parameters[0].allowed_values", "good.test, other.test")
	if r := c.post("/integrations/legacy", f); r.status != http.StatusSeeOther {
		t.Fatalf("admin form save: %d", r.status)
	}
	if got, _ := ts.store.GetIntegration(context.Background(), "legacy"); !slices.Equal(got.Parameters[0].AllowedValues, []string{"good.test", "other.test"}) {
		t.Errorf("allowed values after the form: %q", got.Parameters[0].AllowedValues)
	}
}
