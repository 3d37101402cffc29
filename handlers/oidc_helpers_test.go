package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeidp"
	"airlock/store"
)

const (
	ssoClientID     = "airlock-console"
	ssoClientSecret = "sso-client-secret-value"
)

// The identity provider's people: alice is an admin, bob a builder (and a
// viewer: the highest role wins), dave a viewer by a group given as a plain
// string, carol in no group that gives a role.
var (
	ssoAlice = fakeidp.User{Login: "alice", Subject: "sub-alice", Email: "Alice@Example.com", Groups: []string{"eng", "airlock-admins"}}
	ssoBob   = fakeidp.User{Login: "bob", Subject: "sub-bob", Email: "bob@example.com", Groups: []string{"airlock-viewers", "airlock-builders"}}
	ssoCarol = fakeidp.User{Login: "carol", Subject: "sub-carol", Email: "carol@example.com", Groups: []string{"eng"}}
	ssoDave  = fakeidp.User{Login: "dave", Subject: "sub-dave", Email: "dave@example.com", Groups: "airlock-viewers"}
)

// newSSOServer is a test server with single sign-on through a fake
// provider on loopback; opts change the configuration.
func newSSOServer(t *testing.T, opts ...serverOption) (*testServer, *fakeidp.Provider) {
	t.Helper()
	idp := fakeidp.New(ssoClientID, ssoClientSecret, nil, ssoAlice, ssoBob, ssoCarol, ssoDave)
	t.Cleanup(idp.Close)
	guard := &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(t)}
	ts := newTestServer(t, append([]serverOption{func(d *Deps) {
		d.Config.OIDC = OIDCConfig{Issuer: idp.URL(), ClientID: ssoClientID, ClientSecret: ssoClientSecret, Name: "Example SSO",
			Scopes: []string{"openid", "email", "profile"}, RoleClaim: "groups", AdminGroups: []string{"airlock-admins"},
			BuilderGroups: []string{"airlock-builders"}, ViewerGroups: []string{"airlock-viewers"}}
		d.OIDCClient = oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.NoRedirects)
	}}, opts...)...)
	return ts, idp
}

// ssoStart presses "Sign in with …" and returns the provider URL the
// browser is sent to.
func (c *client) ssoStart(t *testing.T, next string) string {
	t.Helper()
	if r := c.get("/signin"); r.status == http.StatusSeeOther { // nobody exists yet: the button is on the setup page
		c.get(r.header.Get("Location"))
	}
	r := c.post(OIDCStartPath, url.Values{"next": {next}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("start single sign-on: got %d, want 303\n%s", r.status, truncate(r.body, 1000))
	}
	return r.header.Get("Location")
}

// ssoSignIn signs in at the provider as login and follows the provider's
// answer back to Airlock's callback.
func (c *client) ssoSignIn(t *testing.T, idp *fakeidp.Provider, login string) response {
	t.Helper()
	back, err := idp.Approve(c.ssoStart(t, "/accounts"), login)
	if err != nil {
		t.Fatal(err)
	}
	return c.callback(t, back)
}

// callback follows the provider's redirect back to Airlock.
func (c *client) callback(t *testing.T, back string) response {
	t.Helper()
	if !strings.HasPrefix(back, c.ts.srv.URL+OIDCCallbackPath+"?") {
		t.Fatalf("the provider sent the browser to %q, want the callback", back)
	}
	return c.get(strings.TrimPrefix(back, c.ts.srv.URL))
}

// signedInAs reports who the dashboard says is signed in ("" for nobody).
func (c *client) signedInAs(t *testing.T) string {
	t.Helper()
	r := c.get("/")
	if r.status != http.StatusOK {
		return ""
	}
	i := strings.Index(r.body, "Signed in as </span><strong>")
	if i < 0 {
		t.Fatalf("dashboard without the signed-in user:\n%s", r.body)
	}
	rest := r.body[i+len("Signed in as </span><strong>"):]
	return rest[:strings.Index(rest, "<")]
}

// ssoUser is the user of a provider subject.
func (ts *testServer) ssoUser(t *testing.T, sub string) (store.User, bool) {
	t.Helper()
	us, err := ts.store.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.OIDCSubject == sub {
			return u, true
		}
	}
	return store.User{}, false
}
