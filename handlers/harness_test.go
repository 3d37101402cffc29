package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
	"airlock/store"
)

// cheapPasswords keeps argon2id fast under the race detector.
var cheapPasswords = store.PasswordParams{Memory: 64, Time: 1, Threads: 1}

// testServer is the real router on a real loopback HTTP server, over a real
// SQLite file.
type testServer struct {
	t        *testing.T
	activity *store.ActivityLog
	metrics  *Metrics
	h        *Handler
	echo     *echo.Echo // the router, for tests that walk its route table
	srv      *httptest.Server
	store    *store.Store
	logs     *syncBuffer
	captured captureLog // every response body the helpers read (secrets_test.go)
	clock    *testClock
	// mgr and tokens are the token manager and client the handler uses.
	mgr    *oauthflow.Manager
	tokens *oauthflow.Client
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type serverOption func(*Deps)

// migratedTemplate is a database file migrated once per test process:
// running the migrations on every test's fresh file was half of this
// package's CPU under the race detector (SQLite parsing the schema, with
// checkptr on). Each test gets a copy; store.Open finds it current and
// applies nothing.
var migratedTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "airlock-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "airlock.db")
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// migratedDB returns the path of a fresh, fully migrated database file in
// the test's temp dir.
func migratedDB(t *testing.T) string {
	t.Helper()
	data, err := migratedTemplate()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	path := filepath.Join(t.TempDir(), "airlock.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTestServer(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	return newTestServerWith(t, store.Options{}, opts...)
}

// newTestServerWith is newTestServer on a store opened with so (the sealer
// and the clock are set here). With so.BusyTimeout set the test means to
// break writes, so the activity log's refused writes are logged, not failed.
func newTestServerWith(t *testing.T, so store.Options, opts ...serverOption) *testServer {
	t.Helper()
	ctx := context.Background()
	clk := &testClock{t: time.Now().UTC()}
	sealer, err := store.NewSealer(bytes.Repeat([]byte{7}, store.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	so.Sealer, so.Now = sealer, clk.Now
	st, err := store.Open(ctx, migratedDB(t), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	ts := &testServer{t: t, store: st, logs: logs, clock: clk}
	ts.srv = httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + ts.srv.Listener.Addr().String())
	guard := &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(t)}
	tokens := &oauthflow.Client{HTTP: oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.NoRedirects), Now: clk.Now}
	activity := st.NewActivityLog(50*time.Millisecond, func(err error) {
		if so.BusyTimeout == 0 || !store.Unavailable(err) {
			t.Errorf("activity log: %v", err)
		}
	})
	t.Cleanup(func() { activity.Close(context.Background()) })
	ts.activity = activity
	metrics := NewMetrics(st)
	ts.metrics = metrics
	d := Deps{
		Config:         Config{PublicURL: pub, Realm: "eu", Org: "Test Org"},
		Store:          st,
		Sessions:       st.NewSessionStore(bytes.Repeat([]byte{9}, 32), false),
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            clk.Now,
		PasswordParams: cheapPasswords,
		Manager:        oauthflow.NewManager(oauthflow.ManagerOptions{Store: st, Client: tokens, Now: clk.Now, OnRefresh: metrics.ObserveRefresh, Traces: st}),
		Metrics:        metrics,
		WebhookClient:  oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.NoRedirects),
		WebhookBackoff: time.Second,
		Tokens:         tokens,
		APIClient:      oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.SameOriginRedirects),
		Activity:       activity,
	}
	for _, o := range opts {
		o(&d)
	}
	h, e := New(d)
	ts.h, ts.mgr, ts.tokens = h, d.Manager, d.Tokens
	ts.echo = e
	ts.srv.Config.Handler = apiContract(t, e) // every /api/v1 exchange checked against the document
	ts.srv.Start()
	t.Cleanup(ts.srv.Close)
	return ts
}

// client is a browser-like HTTP client with its own cookie jar that does not
// follow redirects (tests look at them).
type client struct {
	ts   *testServer
	http *http.Client
	csrf string
}

func (ts *testServer) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{ts: ts, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.ts.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.ts.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.ts.captured.add(req.Method, req.URL.Path, b)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string, hdr ...string) response {
	c.ts.t.Helper()
	req, _ := http.NewRequest("GET", c.ts.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// post sends a form with the CSRF token picked up from the last page, unless
// the form sets _csrf itself.
func (c *client) post(path string, form url.Values, hdr ...string) response {
	c.ts.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		if c.csrf == "" {
			c.get("/signin")
		}
		form.Set("_csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.ts.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

const testPassword = "correct horse battery"

// addUser creates a user directly in the store.
func (ts *testServer) addUser(email, role string) store.User {
	ts.t.Helper()
	hash, err := store.HashPassword(testPassword, cheapPasswords)
	if err != nil {
		ts.t.Fatal(err)
	}
	u, err := ts.store.CreateUser(context.Background(), email, hash, role, false)
	if err != nil {
		ts.t.Fatal(err)
	}
	return u
}

// signedIn returns a client signed in as a new user with the role.
func (ts *testServer) signedIn(role string) *client {
	ts.t.Helper()
	email := role + "-" + randomToken()[:6] + "@example.com"
	ts.addUser(strings.ToLower(email), role)
	c := ts.newClient()
	c.get("/signin")
	r := c.post("/signin", url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		ts.t.Fatalf("sign in as %s: got %d, want 303\n%s", role, r.status, r.body)
	}
	c.get("/")
	return c
}

// apiKey creates an API key with the role and returns it.
func (ts *testServer) apiKey(role string) string {
	ts.t.Helper()
	key, hash, last4 := store.NewAPIKey()
	if _, err := ts.store.CreateAPIKey(context.Background(), "test "+role, role, hash, last4, "test"); err != nil {
		ts.t.Fatal(err)
	}
	return key
}

// api sends a JSON API request with a Bearer key.
func (ts *testServer) api(method, path, key, body string) response {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.srv.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ts.captured.add(method, req.URL.Path, b)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }

// loopbackOnly is the tests' base dialer: any address outside 127.0.0.0/8
// fails the test, so no test can send traffic anywhere else.
func loopbackOnly(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("dial to non-loopback address %s", addr)
			return nil, fmt.Errorf("test dialer: %s is not loopback", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}
