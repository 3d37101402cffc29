package oauthflow_test

import (
	"airlock/oauthflow/benchload"

	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// benchAPIBody is what the benchmarks' upstream answers: a small JSON body.
const benchAPIBody = `{"id":"me","ok":true}`

// benchUpstream is a minimal loopback API: 200 and a small JSON body, no
// token check, so its own cost is the same for every caller measured.
func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchAPIBody)
	}))
	b.Cleanup(srv.Close)
	return srv
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

// benchAPIClient is the client the runner uses, and the direct baseline too:
// the same transport settings (dial guard, 64 idle connections per host), so
// the difference measured is the runner's own work.
func benchAPIClient() *http.Client {
	return oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: benchDial}}, oauthflow.SameOriginRedirects)
}

// benchRunnerSetup stores an integration whose API base URL is api, a
// connected account with a fresh token (1 h left), and a manager over them.
func benchRunnerSetup(b *testing.B, api string) (*oauthflow.Manager, oauthflow.Account, oauthflow.Integration, string) {
	b.Helper()
	ctx := context.Background()
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{5}, 32))
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: "bench", Name: "Bench", OAuth2: oauthflow.OAuth2{
		GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: api + "/authorize", TokenURL: api + "/token", TokenMethod: "POST",
		ClientID: "client", ClientSecret: "bench-client-secret", ClientAuth: oauthflow.ClientAuthBasic,
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: "header"}, APIBaseURLs: []string{api + "/"}})
	if err != nil {
		b.Fatal(err)
	}
	if in, err = st.IntegrationWithSecret(ctx, in.ID); err != nil {
		b.Fatal(err)
	}
	row, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "prod"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := oauthflow.Token{AccessToken: "at-bench-0123456789abcdef", RefreshToken: "rt-bench", TokenType: "Bearer",
		Expiry: now.Add(time.Hour), ObtainedAt: now}
	if _, err := st.SaveToken(ctx, row.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		b.Fatal(err)
	}
	row, err = st.GetAccount(ctx, row.ID)
	if err != nil {
		b.Fatal(err)
	}
	mgr := oauthflow.NewManager(oauthflow.ManagerOptions{Store: st, Client: &oauthflow.Client{HTTP: benchAPIClient()}})
	return mgr, row.Account, in, tok.AccessToken
}

// BenchmarkRunner compares the runner in-process with a direct http.Client
// call to the same loopback API (token fresh, so no refresh): the time the
// runner adds per request at p50 (target ≤ 25 µs) and its throughput as a
// share of direct (target ≥ 0.8), at 1 and 50 concurrent callers.
func BenchmarkRunner(b *testing.B) {
	api := benchUpstream(b)
	mgr, acct, in, access := benchRunnerSetup(b, api.URL)
	runner := oauthflow.NewRunner(oauthflow.RunnerOptions{Manager: mgr, HTTP: benchAPIClient(),
		Record: func(oauthflow.RequestRecord) {}, Observe: func(oauthflow.Integration, int, time.Duration) {}})
	direct := benchAPIClient()
	url := api.URL + "/v1/me"
	ctx := context.Background()
	viaDirect := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := direct.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("direct: status %d", resp.StatusCode)
		}
		return nil
	}
	viaRunner := func() error {
		resp, err := runner.Do(ctx, acct, in, oauthflow.Request{Method: http.MethodGet, URL: url, Header: http.Header{"Accept": {"application/json"}}})
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.Refreshed {
			return fmt.Errorf("runner: status %d refreshed %v", resp.Status, resp.Refreshed)
		}
		return nil
	}
	variants := []benchload.Variant{{Name: "direct", Call: viaDirect}, {Name: "runner", Call: viaRunner}}
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			runs := benchload.Compare(b, callers, variants)
			direct, run := runs[0], runs[1]
			b.ReportMetric(benchload.Micros(direct.Pct(50)), "direct-p50-µs")
			b.ReportMetric(benchload.Micros(run.Pct(50)), "p50-µs")
			b.ReportMetric(benchload.Micros(run.Pct(99)), "p99-µs")
			b.ReportMetric(benchload.Micros(run.Pct(50)-direct.Pct(50)), "p50-added-µs")
			b.ReportMetric(run.Rate(), "req/s")
			b.ReportMetric(run.Rate()/direct.Rate(), "throughput-ratio")
			b.ReportMetric(benchload.Micros(run.CPUPerCall()-direct.CPUPerCall()), "cpu-added-µs/req")
			b.ReportMetric(float64(direct.CPUPerCall())/float64(run.CPUPerCall()), "cpu-ratio")
		})
	}
}
