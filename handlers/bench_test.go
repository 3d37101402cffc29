package handlers

import (
	"airlock/oauthflow/benchload"

	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// benchServer is the real router on a loopback server over a real SQLite
// file, wired as main wires it (activity log, metrics, manager, runner),
// with logs formatted but discarded.
type benchServer struct {
	st  *store.Store
	h   *Handler
	srv *httptest.Server
}

// benchDial refuses anything but loopback, like the tests' dialer.
func benchDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("bench dialer: %s is not loopback", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func benchHTTPClient(redirects oauthflow.RedirectPolicy) *http.Client {
	return oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: benchDial}}, redirects)
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	ctx := context.Background()
	sealer, err := store.NewSealer(bytes.Repeat([]byte{7}, store.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	return newBenchServerOn(b, st)
}

// newBenchServerOn is newBenchServer on a store the caller opened (with
// benchSealer's key); it closes the store at the end.
func newBenchServerOn(b *testing.B, st *store.Store) *benchServer {
	b.Helper()
	b.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	tokens := &oauthflow.Client{HTTP: benchHTTPClient(oauthflow.NoRedirects)}
	activity := st.NewActivityLog(time.Second, func(err error) { b.Errorf("activity log: %v", err) })
	b.Cleanup(func() { activity.Close(context.Background()) })
	metrics := NewMetrics(st)
	h, e := New(Deps{
		Config:         Config{PublicURL: pub, Realm: "eu", Org: "Bench Org"},
		Store:          st,
		Sessions:       st.NewSessionStore(bytes.Repeat([]byte{9}, 32), false),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		PasswordParams: cheapPasswords,
		Manager:        oauthflow.NewManager(oauthflow.ManagerOptions{Store: st, Client: tokens, OnRefresh: metrics.ObserveRefresh}),
		Metrics:        metrics,
		WebhookClient:  benchHTTPClient(oauthflow.NoRedirects),
		Tokens:         tokens,
		APIClient:      benchHTTPClient(oauthflow.SameOriginRedirects),
		Activity:       activity,
	})
	srv.Config.Handler = e
	srv.Start()
	b.Cleanup(srv.Close)
	return &benchServer{st: st, h: h, srv: srv}
}

// apiKey stores a key with the role and returns it.
func (bs *benchServer) apiKey(b *testing.B, role string) string {
	key, hash, last4 := store.NewAPIKey()
	if _, err := bs.st.CreateAPIKey(context.Background(), "bench", role, hash, last4, "bench"); err != nil {
		b.Fatal(err)
	}
	return key
}

// signedIn returns a cookie-jar client signed in as a new user of the role.
func (bs *benchServer) signedIn(b *testing.B, role string) *http.Client {
	b.Helper()
	hash, err := store.HashPassword(testPassword, cheapPasswords)
	if err != nil {
		b.Fatal(err)
	}
	email := role + "-" + randomToken()[:6] + "@example.com"
	if _, err := bs.st.CreateUser(context.Background(), email, hash, role, false); err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: benchClientTransport(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, body := benchGet(b, c, bs.srv.URL+"/signin")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token on /signin")
	}
	resp, err := c.PostForm(bs.srv.URL+"/signin", url.Values{"email": {email}, "password": {testPassword}, "_csrf": {m[1]}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: got %d, want 303", resp.StatusCode)
	}
	return c
}

// benchClientTransport is the benchmark clients' transport: enough idle
// connections that 50 callers never churn connections.
func benchClientTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}
}

func benchGet(b *testing.B, c *http.Client, u string) (int, string) {
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// benchUpstream is a minimal loopback API: 200 and a small JSON body.
func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"me","ok":true}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchConnected stores an integration whose API base URL is api and a
// connected account with a fresh token (1 h left); it returns the account id
// and the access token.
func (bs *benchServer) benchConnected(b *testing.B, api string) (string, string) {
	ctx := context.Background()
	in, err := bs.st.CreateIntegration(ctx, oauthflow.Integration{Key: "bench", Name: "Bench", OAuth2: oauthflow.OAuth2{
		GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: api + "/authorize", TokenURL: api + "/token", TokenMethod: "POST",
		ClientID: "client", ClientSecret: "bench-client-secret", ClientAuth: oauthflow.ClientAuthBasic,
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"}, APIBaseURLs: []string{api + "/"}})
	if err != nil {
		b.Fatal(err)
	}
	row, err := bs.st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "prod"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := oauthflow.Token{AccessToken: "at-bench-0123456789abcdef", RefreshToken: "rt-bench", TokenType: "Bearer", Expiry: now.Add(time.Hour), ObtainedAt: now}
	if _, err := bs.st.SaveToken(ctx, row.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		b.Fatal(err)
	}
	return row.ID, tok.AccessToken
}

// BenchmarkRequestAPI is the request API end to end (client → Airlock → API)
// against the same call made direct and through a bare
// httputil.ReverseProxy that injects the Authorization header (the floor
// for one extra hop): added p50 over direct at 1 caller (target ≤ 100 µs)
// and throughput as a share of the bare proxy's at 50 callers (target ≥ 0.8).
func BenchmarkRequestAPI(b *testing.B) {
	api := benchUpstream(b)
	bs := newBenchServer(b)
	id, access := bs.benchConnected(b, api.URL)
	key := bs.apiKey(b, store.RoleBuilder)
	target, _ := url.Parse(api.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Set("Authorization", "Bearer "+access)
		},
		Transport: benchHTTPClient(oauthflow.SameOriginRedirects).Transport,
	}
	proxySrv := httptest.NewServer(proxy)
	b.Cleanup(proxySrv.Close)
	client := &http.Client{Transport: benchClientTransport()}
	get := func(u, auth string) func() error {
		return func() error {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Accept", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			return benchDo(client, req)
		}
	}
	reqBody := `{"method":"GET","url":"` + api.URL + `/v1/me","headers":{"Accept":"application/json"}}`
	viaAirlock := func() error {
		req, _ := http.NewRequest(http.MethodPost, bs.srv.URL+"/api/v1/accounts/"+id+"/request", strings.NewReader(reqBody))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		return benchDo(client, req)
	}
	variants := []benchload.Variant{
		{Name: "direct", Call: get(api.URL+"/v1/me", "Bearer "+access)},
		{Name: "proxy", Call: get(proxySrv.URL+"/v1/me", "")},
		{Name: "airlock", Call: viaAirlock},
	}
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			runs := benchload.Compare(b, callers, variants)
			direct, prx, air := runs[0], runs[1], runs[2]
			b.ReportMetric(benchload.Micros(direct.Pct(50)), "direct-p50-µs")
			b.ReportMetric(benchload.Micros(prx.Pct(50)), "proxy-p50-µs")
			b.ReportMetric(benchload.Micros(air.Pct(50)), "p50-µs")
			b.ReportMetric(benchload.Micros(air.Pct(99)), "p99-µs")
			b.ReportMetric(benchload.Micros(air.Pct(50)-direct.Pct(50)), "p50-added-µs")
			b.ReportMetric(benchload.Micros(prx.Pct(50)-direct.Pct(50)), "proxy-added-µs")
			b.ReportMetric(air.Rate(), "req/s")
			b.ReportMetric(air.Rate()/prx.Rate(), "vs-proxy-ratio")
			b.ReportMetric(air.Rate()/direct.Rate(), "vs-direct-ratio")
			b.ReportMetric(benchload.Micros(air.CPUPerCall()), "cpu-µs/req")
			b.ReportMetric(benchload.Micros(prx.CPUPerCall()), "proxy-cpu-µs/req")
			b.ReportMetric(float64(prx.CPUPerCall())/float64(air.CPUPerCall()), "cpu-vs-proxy-ratio")
		})
	}
}

// benchDo sends req and reads the whole answer; anything but 200 is an error.
func benchDo(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.300s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
