package oauthflow_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
func loopbackOnly(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
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
	t        *testing.T
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

func newEngine(t *testing.T, opts fakeprovider.Options, grant string) *engine {
	t.Helper()
	return newEngineWith(t, opts, grant, store.Options{})
}

// newEngineWith is newEngine with store options (the sealer and the clock
// are set here).
func newEngineWith(t *testing.T, opts fakeprovider.Options, grant string, so store.Options) *engine {
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
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"}}
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
	tok, err := e.client.ExchangeCode(context.Background(), e.in, nil, code, verifier, redirect)
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	saved, err := e.mgr.Connect(context.Background(), e.acct, e.in, tok, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return saved
}

func TestThousandCallersInsideWindowCauseOneRefresh(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 50 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour)) // 15 s left: callers wait for the refresh
	before := e.provider.RefreshCalls()
	const n = 1000
	var wg sync.WaitGroup
	tokens := make([]string, n)
	var failures atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.mgr.Token(context.Background(), e.acct, e.in)
			if err != nil {
				failures.Add(1)
				return
			}
			tokens[i] = res.Token.AccessToken
		}()
	}
	wg.Wait()
	if got := e.provider.RefreshCalls() - before; got != 1 {
		t.Errorf("token endpoint calls: got %d, want 1", got)
	}
	if failures.Load() != 0 {
		t.Errorf("callers that failed: %d", failures.Load())
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	for i, tok := range tokens {
		if tok != stored.AccessToken || tok == first.AccessToken {
			t.Fatalf("caller %d: got a token other than the new one", i)
		}
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("provider saw invalid grants %d, chain revocations %d; want 0", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
}

func TestRefreshWindowCappedAtHalfTheLifetime(t *testing.T) {
	cases := []struct {
		name    string
		ttl     time.Duration
		elapsed time.Duration
		refresh bool
	}{
		{"2 h token, 31 min left", 2 * time.Hour, 89 * time.Minute, false},
		{"2 h token, 29 min left", 2 * time.Hour, 91 * time.Minute, true},
		{"20 min token, 11 min left", 20 * time.Minute, 9 * time.Minute, false},
		{"20 min token, 9 min left", 20 * time.Minute, 11 * time.Minute, true},
		{"20 min token, fresh", 20 * time.Minute, 0, false},
		{"2 min token, 61 s left", 2 * time.Minute, 59 * time.Second, false},
		{"2 min token, 59 s left", 2 * time.Minute, 61 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, fakeprovider.Options{AccessTTL: tc.ttl}, oauthflow.GrantAuthorizationCode)
			e.connect()
			e.clock.Add(tc.elapsed)
			first, _ := e.store.LoadToken(context.Background(), e.acct.ID)
			res, err := e.mgr.Token(context.Background(), e.acct, e.in)
			if err != nil {
				t.Fatal(err)
			}
			e.settle() // inside the window the refresh runs in the background
			if res.Token.AccessToken != first.AccessToken || (e.provider.RefreshCalls() == 1) != tc.refresh {
				t.Errorf("refreshed: got the current token %v (%d calls), want the current token and refresh=%v",
					res.Token.AccessToken == first.AccessToken, e.provider.RefreshCalls(), tc.refresh)
			}
			stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
			if (stored.Version > first.Version) != tc.refresh {
				t.Errorf("stored version: got %d after %d, want a new one: %v", stored.Version, first.Version, tc.refresh)
			}
		})
	}
}

func TestRefreshWithoutNewRefreshTokenKeepsTheOld(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode) // no rotation: no refresh_token in answers
	first := e.connect()
	for range 3 {
		e.clock.Add(45 * time.Minute)
		if _, err := e.mgr.Token(context.Background(), e.acct, e.in); err != nil {
			t.Fatal(err)
		}
		e.settle()
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if stored.RefreshToken != first.RefreshToken || e.provider.RefreshCalls() != 3 {
		t.Errorf("refresh token: kept=%v after %d refreshes, want kept after 3", stored.RefreshToken == first.RefreshToken, e.provider.RefreshCalls())
	}
}

func TestInvalidGrantMarksNeedsReconnectWithoutALoop(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	e.provider.RevokeAll() // the user revoked access at the provider
	e.clock.Add(urgent(time.Hour))
	_, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if !errors.Is(err, oauthflow.ErrNeedsReconnect) {
		t.Fatalf("got %v, want ErrNeedsReconnect", err)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusNeedsReconnect || acc.LastError == "" {
		t.Errorf("account: status %s error %q, want needs_reconnect with the error", acc.Status, acc.LastError)
	}
	calls := e.provider.TokenCalls()
	for range 5 {
		e.mgr.Token(context.Background(), e.acct, e.in)
		e.mgr.Rejected(context.Background(), e.acct, e.in, 1, 401)
	}
	if got := e.provider.TokenCalls() - calls; got != 0 {
		t.Errorf("token calls after needs_reconnect: got %d, want 0 (no refresh loop)", got)
	}
}

func TestTemporaryFailureKeepsTheCurrentTokenUntilExpiry(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour))
	e.provider.FailNextToken(503, `{"error":"temporarily_unavailable"}`, 1)
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || res.Token.AccessToken != first.AccessToken {
		t.Fatalf("got %v / new token %v, want the current token and no error", err, res.Token.AccessToken != first.AccessToken)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	if acc.Status != oauthflow.StatusConnected || acc.LastError == "" || acc.TemporaryFailures != 1 {
		t.Errorf("account: status %s error %q failures %d, want connected, the error recorded, 1", acc.Status, acc.LastError, acc.TemporaryFailures)
	}
	// The next call after the backoff (1 s ± a fifth) tries again and succeeds.
	e.clock.Add(2 * time.Second)
	res, err = e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || !res.Refreshed {
		t.Errorf("retry: got refreshed=%v (%v), want a refresh", res.Refreshed, err)
	}
}

func TestRejectedRefreshesOnceForConcurrentRejections(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 20 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	tok := e.connect()
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := e.provider.RefreshCalls(); got != 1 {
		t.Errorf("refresh calls: got %d, want 1", got)
	}
	// A rejection of the old version after the refresh does not refresh again.
	if _, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil || e.provider.RefreshCalls() != 1 {
		t.Errorf("late rejection of the old token: %d calls (%v), want still 1", e.provider.RefreshCalls(), err)
	}
}

// TestTwoProcessesNeverSpendTheSameRefreshToken runs two managers (two Airlock
// processes) on one database against a provider that revokes the chain on reuse.
func TestTwoProcessesNeverSpendTheSameRefreshToken(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 20 * time.Minute, RotateRefreshTokens: true, RefreshDelay: 30 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	e.connect()
	other := e.newManager()
	for round := range 6 {
		e.clock.Add(11 * time.Minute)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			m := e.mgr
			if i%2 == 1 {
				m = other
			}
			go func() {
				defer wg.Done()
				if _, err := m.Token(context.Background(), e.acct, e.in); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		e.settle()
	}
	if e.provider.InvalidGrants() != 0 || e.provider.ChainRevocations() != 0 {
		t.Errorf("invalid grants %d, chain revocations %d; want 0", e.provider.InvalidGrants(), e.provider.ChainRevocations())
	}
	if got := e.provider.RefreshCalls(); got != 6 {
		t.Errorf("refresh calls: got %d, want 6 (one per round)", got)
	}
}

func TestClientCredentialsFetchesANewTokenInsteadOfRefreshing(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 20 * time.Minute}, oauthflow.GrantClientCredentials)
	res, err := e.mgr.Refresh(context.Background(), e.acct, e.in, oauthflow.ReasonConnect)
	if err != nil || !res.Refreshed || res.Token.RefreshToken != "" {
		t.Fatalf("connect: got %+v (%v)", res, err)
	}
	e.clock.Add(urgent(20 * time.Minute))
	res2, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || !res2.Refreshed || res2.Token.AccessToken == res.Token.AccessToken {
		t.Errorf("inside the window: got refreshed=%v (%v)", res2.Refreshed, err)
	}
	if got := e.provider.TokenCallsByGrant("client_credentials"); got != 2 {
		t.Errorf("client_credentials calls: got %d, want 2", got)
	}
	acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
	for _, w := range acc.Warnings {
		if w.Code == oauthflow.WarnNoRefreshToken {
			t.Error("a client-credentials account warns about a missing refresh token")
		}
	}
}

func TestWarningsShortTTLNoRefreshUnknownExpiry(t *testing.T) {
	cases := []struct {
		name string
		opts fakeprovider.Options
		want []string
	}{
		{"2 min token", fakeprovider.Options{AccessTTL: 2 * time.Minute, RotateRefreshTokens: true}, []string{oauthflow.WarnShortTTL}},
		{"no refresh token", fakeprovider.Options{AccessTTL: time.Hour, NoRefreshToken: true}, []string{oauthflow.WarnNoRefreshToken}},
		{"no expires_in", fakeprovider.Options{OmitExpiresIn: true, RotateRefreshTokens: true}, []string{oauthflow.WarnUnknownExpiry}},
		{"healthy", fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, tc.opts, oauthflow.GrantAuthorizationCode)
			e.connect()
			acc, _ := e.store.GetAccount(context.Background(), e.acct.ID)
			var got []string
			for _, w := range acc.Warnings {
				got = append(got, w.Code)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("warnings: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnknownExpiryRefreshesOnlyOnRejection(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{OmitExpiresIn: true, RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	tok := e.connect()
	e.clock.Add(30 * 24 * time.Hour)
	if res, _ := e.mgr.Token(context.Background(), e.acct, e.in); res.Refreshed {
		t.Error("a token of unknown expiry was refreshed without a rejection")
	}
	if res, err := e.mgr.Rejected(context.Background(), e.acct, e.in, tok.Version, 401); err != nil || !res.Refreshed {
		t.Errorf("after a 401: refreshed=%v (%v), want a refresh", res.Refreshed, err)
	}
}

// TestNoRefreshTokenIsUsedUntilItExpires: without a refresh token the access
// token is used to its end, then the account clearly needs a reconnect, with
// no call to the token endpoint.
func TestNoRefreshTokenIsUsedUntilItExpires(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, NoRefreshToken: true}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(50 * time.Minute) // inside the window, still valid
	res, err := e.mgr.Token(context.Background(), e.acct, e.in)
	if err != nil || res.Token.AccessToken != first.AccessToken || res.Refreshed {
		t.Fatalf("at 50 min: got refreshed=%v (%v), want the current token", res.Refreshed, err)
	}
	e.clock.Add(11 * time.Minute) // expired
	calls := e.provider.TokenCalls()
	if _, err := e.mgr.Token(context.Background(), e.acct, e.in); !errors.Is(err, oauthflow.ErrNeedsReconnect) || !strings.Contains(err.Error(), "no refresh token") {
		t.Errorf("after expiry: got %v, want ErrNeedsReconnect about the missing refresh token", err)
	}
	if e.provider.TokenCalls() != calls {
		t.Error("a token endpoint call was made without a refresh token")
	}
	if acc, _ := e.store.GetAccount(context.Background(), e.acct.ID); acc.Status != oauthflow.StatusNeedsReconnect {
		t.Errorf("status: got %s, want needs_reconnect", acc.Status)
	}
}

// TestWaitLetsARefreshUnderWayCommit: shutdown waits for a refresh whose
// caller gave up, so the rotated token is saved before the store closes.
func TestWaitLetsARefreshUnderWayCommit(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, RefreshDelay: 300 * time.Millisecond}, oauthflow.GrantAuthorizationCode)
	first := e.connect()
	e.clock.Add(urgent(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.mgr.Token(ctx, e.acct, e.in); err == nil {
		t.Fatal("the caller did not give up")
	}
	if err := e.mgr.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.store.LoadToken(context.Background(), e.acct.ID)
	if stored.Version != first.Version+1 || stored.RefreshToken == first.RefreshToken {
		t.Errorf("after Wait: version %d (refresh token replaced: %v), want the rotated token committed", stored.Version, stored.RefreshToken != first.RefreshToken)
	}
}
