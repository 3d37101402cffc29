package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// linkAccount creates an authorization-code account through the API and
// returns it with its first connect link and a second one made after it.
func linkAccount(t *testing.T, ts *testServer, key, name string) (accountJSON, string, string) {
	t.Helper()
	r := ts.api("POST", "/api/v1/integrations/fake/accounts", key, `{"name": "`+name+`"}`)
	var a accountJSON
	if err := json.Unmarshal([]byte(r.body), &a); err != nil || a.ConnectURL == nil {
		t.Fatalf("create account: got %d %s", r.status, r.body)
	}
	r = ts.api("POST", "/api/v1/accounts/"+a.ID+"/connect-link", key, "")
	var l struct {
		ConnectURL string `json:"connect_url"`
	}
	if err := json.Unmarshal([]byte(r.body), &l); err != nil || l.ConnectURL == "" {
		t.Fatalf("new connect link: got %d %s", r.status, r.body)
	}
	return a, *a.ConnectURL, l.ConnectURL
}

// openLink opens a connect link in a new browser and approves at the
// provider; it returns the browser and the callback URL.
func openLink(t *testing.T, ts *testServer, p *fakeprovider.Provider, link string) (*client, string) {
	t.Helper()
	c := ts.newClient()
	open := c.follow(t, link)
	if open.status != http.StatusSeeOther {
		t.Fatalf("open %s: got %d, want 303 to the provider\n%s", link, open.status, open.body)
	}
	cb, err := p.Approve(open.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return c, cb
}

// TestConnectionSpendsEveryOpenLink: once an account is connected — by one of
// its links or from the console — none of its other links connects it again
// (which would replace the connection with whoever holds the old link).
func TestConnectionSpendsEveryOpenLink(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	key := ts.apiKey(store.RoleBuilder)

	_, first, second := linkAccount(t, ts, key, "by-link")
	owner, cb := openLink(t, ts, p, first)
	if done := owner.follow(t, cb); done.status != http.StatusSeeOther || done.header.Get("Location") != "/connect/done" {
		t.Fatalf("connect by link: got %d to %q", done.status, done.header.Get("Location"))
	}
	console, firstC, secondC := linkAccount(t, ts, key, "by-console")
	builder := ts.signedIn(store.RoleBuilder)
	cb, err := p.Approve(builder.startConnect(t, console.ID))
	if err != nil {
		t.Fatal(err)
	}
	if done := builder.follow(t, cb); done.status != http.StatusSeeOther {
		t.Fatalf("connect from the console: got %d\n%s", done.status, done.body)
	}
	for _, link := range []string{first, second, firstC, secondC} {
		if got := ts.newClient().follow(t, link); got.status != http.StatusGone {
			t.Errorf("%s after the account connected: got %d, want 410", link, got.status)
		}
	}
}

// TestLinkOpenedBeforeAnotherConnectsIsRefused: a flow started from a link
// before the account connected some other way cannot connect it again.
func TestLinkOpenedBeforeAnotherConnectsIsRefused(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	key := ts.apiKey(store.RoleBuilder)
	_, first, second := linkAccount(t, ts, key, "customer")
	late, lateCB := openLink(t, ts, p, second)
	owner, cb := openLink(t, ts, p, first)
	owner.follow(t, cb)
	calls := p.TokenCalls()
	if got := late.follow(t, lateCB); got.status != http.StatusBadRequest || !strings.Contains(got.body, "already used") {
		t.Errorf("callback of the other link: got %d, want 400 already used\n%s", got.status, got.body)
	}
	if p.TokenCalls() != calls {
		t.Errorf("the other link's callback reached the token endpoint: %d calls before, %d after", calls, p.TokenCalls())
	}
}

// TestFailedExchangeLeavesTheLinkUsable: a link is spent by a connection,
// not by an attempt: after the token endpoint fails, the same link works.
func TestFailedExchangeLeavesTheLinkUsable(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			ts := newTestServer(t)
			p := ts.provider(fakeprovider.Options{})
			ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
			key := ts.apiKey(store.RoleBuilder)
			a, link, _ := linkAccount(t, ts, key, "customer")
			owner, cb := openLink(t, ts, p, link)
			p.FailNextToken(status, `{"error": "temporarily_unavailable"}`, 1)
			if got := owner.follow(t, cb); got.status < 400 {
				t.Fatalf("callback with a failing token endpoint: got %d, want an error page", got.status)
			}
			again, cb := openLink(t, ts, p, link)
			if done := again.follow(t, cb); done.status != http.StatusSeeOther || done.header.Get("Location") != "/connect/done" {
				t.Fatalf("second try with the same link: got %d to %q\n%s", done.status, done.header.Get("Location"), done.body)
			}
			if got, _ := ts.store.GetAccount(context.Background(), a.ID); got.Status != oauthflow.StatusConnected {
				t.Errorf("account: got %s, want connected", got.Status)
			}
		})
	}
}

// TestConcurrentUsesOfOneLinkExchangeOnce: browsers that opened one link
// come back at the same moment; the token endpoint (slow, so their
// exchanges would overlap) sees one code exchange, and one browser connects.
func TestConcurrentUsesOfOneLinkExchangeOnce(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{CodeDelay: 200 * time.Millisecond})
	ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	key := ts.apiKey(store.RoleBuilder)
	_, link, _ := linkAccount(t, ts, key, "customer")
	const browsers = 8
	clients, paths := make([]*client, browsers), make([]string, browsers)
	for i := range browsers {
		c, cb := openLink(t, ts, p, link)
		u, _ := url.Parse(cb)
		clients[i], paths[i] = c, u.RequestURI()
	}
	results := make([]response, browsers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = clients[i].get(paths[i])
		}()
	}
	close(start)
	wg.Wait()
	connected := 0
	for i, r := range results {
		switch {
		case r.status == http.StatusSeeOther && r.header.Get("Location") == "/connect/done":
			connected++
		case r.status != http.StatusBadRequest:
			t.Errorf("browser %d: got %d, want 303 for one and 400 for the others\n%s", i, r.status, r.body)
		}
	}
	if got := p.TokenCallsByGrant("authorization_code"); got != 1 || connected != 1 {
		t.Errorf("got %d code exchanges and %d connections, want 1 and 1", got, connected)
	}
}

// TestCallbackFromAnotherSessionLeavesTheFlow: someone who got hold of the
// callback URL (state and code) and opens it in their browser is refused,
// and the flow survives: the browser that started it still completes it.
func TestCallbackFromAnotherSessionLeavesTheFlow(t *testing.T) {
	ts := newTestServer(t)
	p := ts.provider(fakeprovider.Options{})
	in := ts.integrationFor(p, "fake", oauthflow.GrantAuthorizationCode, fakeprovider.Options{}, nil)
	acct := ts.account(in, "prod", nil)
	owner := ts.signedIn(store.RoleBuilder)
	cb, err := p.Approve(owner.startConnect(t, acct.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []*client{ts.signedIn(store.RoleAdmin), ts.newClient()} {
		if got := other.follow(t, cb); got.status != http.StatusBadRequest || !strings.Contains(got.body, "another browser") {
			t.Errorf("callback from another session: got %d, want 400 another browser", got.status)
		}
	}
	if got := owner.follow(t, cb); got.status != http.StatusSeeOther || got.header.Get("Location") != "/accounts/"+acct.ID {
		t.Fatalf("owner's callback after the foreign one: got %d to %q, want 303 to the account\n%s", got.status, got.header.Get("Location"), got.body)
	}
	if got, _ := ts.store.GetAccount(context.Background(), acct.ID); got.Status != oauthflow.StatusConnected {
		t.Errorf("account: got %s, want connected", got.Status)
	}
}
