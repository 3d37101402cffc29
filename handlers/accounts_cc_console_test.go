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

// TestConsoleClientCredentialsAccountConnectsAtOnce: an account of a
// client-credentials integration added in the console is connected at once,
// as the API does, and the builder and detail page show nothing of PKCE.
func TestConsoleClientCredentialsAccountConnectsAtOnce(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	in := ts.integrationFor(p, "svc", oauthflow.GrantClientCredentials, fakeprovider.Options{}, nil)
	c := ts.signedIn(store.RoleBuilder)
	c.get("/integrations/" + in.Key + "/accounts/new")
	r := c.post("/integrations/"+in.Key+"/accounts", url.Values{"name": {"batch"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: got %d\n%s", r.status, r.body)
	}
	id := strings.TrimPrefix(r.header.Get("Location"), "/accounts/")
	got, err := ts.store.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != oauthflow.StatusConnected {
		t.Errorf("status: got %q (%s), want connected at once", got.Status, got.LastError)
	}
	if n := p.TokenCalls(); n != 1 {
		t.Errorf("token calls: got %d, want 1", n)
	}
	page := c.get("/integrations/" + in.Key)
	if strings.Contains(page.body, "PKCE") || !strings.Contains(page.body, "Client credentials") {
		t.Errorf("detail page: want the grant's label and no PKCE row")
	}
}
