package oauthflow_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// fakeClock is a settable clock shared by the provider, the store and the manager.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// loopbackOnly is the tests' base dialer: it refuses anything but 127.0.0.0/8.
func loopbackOnly(t testing.TB) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("dial to non-loopback address %s", addr)
			return nil, errors.New("test dialer: not loopback")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

type engine struct {
	t        testing.TB
	clock    *fakeClock
	provider *fakeprovider.Provider
	store    *store.Store
	client   *oauthflow.Client
	mgr      *oauthflow.Manager
	in       oauthflow.Integration
	acct     oauthflow.Account
	// managers are all the managers built on the engine, for settle.
	managers []*oauthflow.Manager
}

func newEngine(t testing.TB, opts fakeprovider.Options, grant string) *engine {
	t.Helper()
	return newEngineWith(t, opts, grant, store.Options{})
}

// newEngineWith is newEngine with store options (the sealer and the clock
// are set here).
func newEngineWith(t testing.TB, opts fakeprovider.Options, grant string, so store.Options) *engine {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	opts.Clock = clk.Now
	p := fakeprovider.New(opts)
	t.Cleanup(p.Close)
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{5}, 32))
	so.Sealer, so.Now = sealer, clk.Now
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "airlock.db"), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hc := oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(t)}}, oauthflow.NoRedirects)
	client := &oauthflow.Client{HTTP: hc, Now: clk.Now}
	auth := opts.ClientAuth
	if auth == "" {
		auth = oauthflow.ClientAuthBasic
	}
	in := oauthflow.Integration{Key: "fake", Name: "Fake", OAuth2: oauthflow.OAuth2{
		GrantType: grant, AuthorizationURL: p.AuthorizeURL(), TokenURL: p.TokenURL(), TokenMethod: "POST", RevokeURL: p.RevokeURL(),
		Scope: "read", ClientID: fakeprovider.DefaultClientID, ClientSecret: fakeprovider.DefaultClientSecret, ClientAuth: auth, PKCE: true,
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"},
		APIBaseURLs: []string{p.APIURL()}}
	if opts.RequireGET {
		in.OAuth2.TokenMethod = "GET"
	}
	created, err := st.CreateIntegration(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = created.ID
	row, err := st.CreateAccount(context.Background(), oauthflow.Account{IntegrationID: in.ID, Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{t: t, clock: clk, provider: p, store: st, client: client, in: in, acct: row.Account}
	e.mgr = e.newManager()
	return e
}

func (e *engine) newManager() *oauthflow.Manager {
	m := oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now})
	e.managers = append(e.managers, m)
	return m
}

// settle waits for the refreshes every manager runs in the background, so
// that the simulated clock never jumps while one is under way (real time
// does not jump by minutes during a token call).
func (e *engine) settle() {
	e.t.Helper()
	for _, m := range e.managers {
		if err := m.Wait(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// urgent is how far into a token's life its expiry is close enough that
// callers wait for its refresh (15 s before the end, inside UrgentMargin).
func urgent(ttl time.Duration) time.Duration { return ttl - oauthflow.UrgentMargin/2 }

// connect runs the authorization-code flow against the fake provider and
// stores the first token.
func (e *engine) connect() oauthflow.Token {
	e.t.Helper()
	state, _ := oauthflow.NewState()
	verifier := oauthflow.NewVerifier()
	redirect := "http://127.0.0.1:1/internal/sessions/v1/auth/callback"
	authURL, err := oauthflow.AuthorizationURL(e.in, nil, redirect, state, verifier)
	if err != nil {
		e.t.Fatal(err)
	}
	cb, err := e.provider.Approve(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	code := queryParam(e.t, cb, "code")
	ep, err := oauthflow.ResolveEndpoints(e.in, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.client.ExchangeCode(context.Background(), e.in, nil, ep, code, verifier, redirect)
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	saved, err := e.mgr.Connect(context.Background(), e.acct, e.in, tok, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return saved
}
