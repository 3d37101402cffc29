package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

func TestAuthorizationCodeFlowAgainstProviderVariants(t *testing.T) {
	cases := []struct {
		name         string
		opts         fakeprovider.Options
		wantWarnings []string
		wantExpiry   bool
	}{
		{"20 min tokens, rotating", fakeprovider.Options{AccessTTL: 20 * time.Minute, RotateRefreshTokens: true}, nil, true},
		{"2 min tokens", fakeprovider.Options{AccessTTL: 2 * time.Minute, RotateRefreshTokens: true}, []string{oauthflow.WarnShortTTL}, true},
		{"no expires_in", fakeprovider.Options{OmitExpiresIn: true, RotateRefreshTokens: true}, []string{oauthflow.WarnUnknownExpiry}, false},
		{"form-encoded answers", fakeprovider.Options{FormEncoded: true, ExpiresInAsString: true, RotateRefreshTokens: true}, nil, true},
		{"GET token endpoint", fakeprovider.Options{RequireGET: true, RotateRefreshTokens: true}, nil, true},
		{"client secret in the body", fakeprovider.Options{ClientAuth: "body", RotateRefreshTokens: true}, nil, true},
		{"sends iss", fakeprovider.Options{Issuer: "https://issuer.fake.test", RotateRefreshTokens: true}, nil, true},
		{"no refresh token", fakeprovider.Options{NoRefreshToken: true}, []string{oauthflow.WarnNoRefreshToken}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			p := ts.provider(tc.opts)
			in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, tc.opts, nil)
			acct := ts.account(in, "prod", nil)
			c := ts.signedIn(store.RoleBuilder)
			authURL := c.startConnect(t, acct.ID)
			if !strings.HasPrefix(authURL, p.AuthorizeURL()) {
				t.Fatalf("redirect: got %s, want the provider's authorize endpoint", authURL)
			}
			q, _ := url.Parse(authURL)
			for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"} {
				if q.Query().Get(k) == "" {
					t.Errorf("authorization URL lacks %s", k)
				}
			}
			if got := q.Query().Get("redirect_uri"); got != ts.h.CallbackURL() {
				t.Errorf("redirect_uri: got %s, want %s", got, ts.h.CallbackURL())
			}
			cb, err := p.Approve(authURL)
			if err != nil {
				t.Fatal(err)
			}
			r := c.follow(t, cb)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/accounts/"+acct.ID {
				t.Fatalf("callback: got %d to %q, want 303 to the account\n%s", r.status, r.header.Get("Location"), r.body)
			}
			if loc := r.header.Get("Location"); strings.Contains(loc, "code") || strings.Contains(loc, "state") {
				t.Errorf("redirect after the callback carries code or state: %s", loc)
			}
			if r.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("callback Referrer-Policy: got %q", r.header.Get("Referrer-Policy"))
			}
			got, _ := ts.store.GetAccount(context.Background(), acct.ID)
			if got.Status != oauthflow.StatusConnected || got.ExpiresAt.IsZero() == tc.wantExpiry {
				t.Errorf("account: status %s expires %v, want connected with expiry=%v", got.Status, got.ExpiresAt, tc.wantExpiry)
			}
			var codes []string
			for _, w := range got.Warnings {
				codes = append(codes, w.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tc.wantWarnings, ",") {
				t.Errorf("warnings: got %v, want %v", codes, tc.wantWarnings)
			}
			page := c.get("/accounts/" + acct.ID)
			if !strings.Contains(page.body, ">connected<") {
				t.Errorf("account page does not show connected")
			}
		})
	}
}

func TestClientCredentialsConnectsAtOnce(t *testing.T) {
	ts := newTestServer(t)
	opts := fakeprovider.Options{AccessTTL: 20 * time.Minute}
	p := ts.provider(opts)
	in := ts.integrationFor(p, "cc", oauthflow.GrantClientCredentials, opts, nil)
	key := ts.apiKey(store.RoleBuilder)
	r := ts.api("POST", "/api/v1/integrations/cc/accounts", key, `{"name": "svc", "parameters": {}}`)
	var a accountJSON
	if err := json.Unmarshal([]byte(r.body), &a); err != nil || r.status != http.StatusCreated {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}
	if a.Status != oauthflow.StatusConnected || a.ConnectURL != nil || a.ExpiresAt == nil || a.HasRefreshToken {
		t.Errorf("cc account: %+v, want connected, no connect_url, an expiry, no refresh token", a)
	}
	if p.TokenCallsByGrant("client_credentials") != 1 {
		t.Errorf("client_credentials calls: got %d, want 1", p.TokenCallsByGrant("client_credentials"))
	}
	// A wrong secret: still 201, status error, last_error says what to check.
	bad := ts.integrationFor(p, "ccbad", oauthflow.GrantClientCredentials, opts, func(i *oauthflow.Integration) { i.OAuth2.ClientSecret = "wrong-secret" })
	_ = bad
	_ = in
	r = ts.api("POST", "/api/v1/integrations/ccbad/accounts", key, `{"name": "svc"}`)
	json.Unmarshal([]byte(r.body), &a)
	if r.status != http.StatusCreated || a.Status != oauthflow.StatusError || a.LastError == nil || !strings.Contains(*a.LastError, "client") {
		t.Errorf("wrong secret: got %d %s", r.status, r.body)
	}
}

// TestChangedParametersNeedAReconnectNotARefresh: after a parameter change
// the old refresh token belongs to other values; a refresh must not send it
// (with the client secret) to the endpoint expanded with the new values.
func TestChangedParametersNeedAReconnectNotARefresh(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{RotateRefreshTokens: true})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, func(i *oauthflow.Integration) {
		i.Parameters = []oauthflow.Parameter{{Name: "tenant"}}
		i.OAuth2.TokenURL = i.OAuth2.TokenURL + "?tenant={tenant}"
	})
	acct := ts.account(in, "prod", map[string]string{"tenant": "a"})
	c := ts.signedIn(store.RoleBuilder)
	cb, _ := p.Approve(c.startConnect(t, acct.ID))
	c.follow(t, cb)
	ctx := context.Background()
	key := ts.apiKey(store.RoleBuilder)
	if r := ts.api("PATCH", "/api/v1/accounts/"+acct.ID, key, `{"parameters": {"tenant": "b"}}`); !strings.Contains(r.body, `"status":"needs_reconnect"`) {
		t.Fatalf("patch: %s", r.body)
	}
	if open, _ := ts.store.ListAlerts(ctx, acct.ID, true, 10); len(open) != 1 || open[0].Kind != store.AlertNeedsReconnect {
		t.Errorf("alerts after the change: %+v, want needs_reconnect", open)
	}
	calls := p.TokenCalls()
	r := ts.api("POST", "/api/v1/accounts/"+acct.ID+"/refresh", key, "")
	if r.status != 200 || !strings.Contains(r.body, "needs to be reconnected") || !strings.Contains(r.body, `"status":"needs_reconnect"`) {
		t.Errorf("refresh: %d %s", r.status, r.body)
	}
	if p.TokenCalls() != calls {
		t.Error("the refresh reached the token endpoint")
	}
}
