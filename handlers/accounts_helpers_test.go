package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// provider starts a fake provider on the test server's clock.
func (ts *testServer) provider(opts fakeprovider.Options) *fakeprovider.Provider {
	ts.t.Helper()
	opts.Clock = ts.clock.Now
	p := fakeprovider.New(opts)
	ts.t.Cleanup(p.Close)
	return p
}

// integrationFor stores an integration that talks to p.
func (ts *testServer) integrationFor(p *fakeprovider.Provider, key, grant string, opts fakeprovider.Options, mut func(*oauthflow.Integration)) oauthflow.Integration {
	ts.t.Helper()
	in := oauthflow.Integration{Key: key, Name: "Fake " + key,
		OAuth2: oauthflow.OAuth2{GrantType: grant, AuthorizationURL: p.AuthorizeURL(), TokenURL: p.TokenURL(), TokenMethod: "POST",
			RevokeURL: p.RevokeURL(), Scope: "read write", ClientID: fakeprovider.DefaultClientID, ClientSecret: fakeprovider.DefaultClientSecret,
			ClientAuth: "basic", PKCE: true, RefreshWindowSeconds: 1800, RejectedStatuses: []int{401, 403}},
		Token:       oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"},
		APIBaseURLs: []string{p.APIURL()}}
	if opts.ClientAuth != "" {
		in.OAuth2.ClientAuth = opts.ClientAuth
	}
	if opts.RequireGET {
		in.OAuth2.TokenMethod = "GET"
	}
	if opts.Issuer != "" {
		in.OAuth2.Issuer = opts.Issuer
	}
	if mut != nil {
		mut(&in)
	}
	created, err := ts.store.CreateIntegration(context.Background(), in)
	if err != nil {
		ts.t.Fatal(err)
	}
	return created
}

// account stores a pending account of the integration.
func (ts *testServer) account(in oauthflow.Integration, name string, params map[string]string) store.AccountRow {
	ts.t.Helper()
	r, err := ts.store.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: in.ID, Name: name, Parameters: params})
	if err != nil {
		ts.t.Fatal(err)
	}
	return r
}

// startConnect presses Connect on the account page and returns the
// provider's authorization URL it redirects to.
func (c *client) startConnect(t *testing.T, accountID string) string {
	t.Helper()
	c.get("/accounts/" + accountID)
	r := c.post("/accounts/"+accountID+"/connect", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("connect: got %d, want 303\n%s", r.status, r.body)
	}
	return r.header.Get("Location")
}

// follow requests an absolute URL of the test server (a callback).
func (c *client) follow(t *testing.T, raw string) response {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, c.ts.srv.URL) {
		t.Fatalf("%s is not on the test server", raw)
	}
	return c.get(u.RequestURI())
}
