package oauthflow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const callbackPath = "/internal/sessions/v1/auth/callback"

// callbackHandler answers as the callback will: a request with a probe
// value is a probe (signed when live, never a failed callback); anything
// else is an OAuth callback, here refused for its missing state.
func callbackHandler(p *Prober, failedCallbacks *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != callbackPath {
			http.NotFound(w, r)
			return
		}
		if v := r.URL.Query().Get(ProbeParam); v != "" {
			if sig, ok := p.Answer(v); ok {
				w.Header().Set(ProbeHeader, sig)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		failedCallbacks.Add(1)
		http.Error(w, "missing state", http.StatusBadRequest)
	})
}

// probeClient is the guarded client allowed onto loopback, trusting the
// given TLS test servers' certificates.
func probeClient(t *testing.T, tlsServers ...*httptest.Server) *http.Client {
	c := loopbackClient(t)
	pool := x509.NewCertPool()
	for _, s := range tlsServers {
		pool.AddCert(s.Certificate())
	}
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	return c
}

func TestProbeCheck(t *testing.T) {
	p := NewProber()
	var failed atomic.Int32
	plain := httptest.NewServer(callbackHandler(p, &failed))
	defer plain.Close()
	secure := httptest.NewTLSServer(callbackHandler(p, &failed))
	defer secure.Close()

	// A TLS reverse proxy in front of the plain server: the usual set-up.
	backend, _ := url.Parse(plain.URL)
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(backend))
	defer proxy.Close()
	// A proxy that rewrites the scheme: every https request is sent on to
	// http, as a proxy with a wrong "redirect to canonical URL" rule does.
	toHTTP := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	defer toHTTP.Close()

	// Another server: a different process with its own Prober, and one that
	// forges a signature.
	other := httptest.NewServer(callbackHandler(NewProber(), &failed))
	defer other.Close()
	forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(ProbeHeader, "c2lnbmF0dXJl")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer forger.Close()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	hostPort := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
	}
	client := probeClient(t, secure, proxy, toHTTP)
	tests := []struct {
		name, uri, result, detail string
	}{
		{"https to this server", secure.URL + callbackPath, ProbeReachable,
			"The redirect URI reaches this Airlock server over https."},
		{"https through a TLS reverse proxy", proxy.URL + callbackPath + "?keep=1", ProbeReachable,
			"The redirect URI reaches this Airlock server over https."},
		{"http on loopback", plain.URL + callbackPath, ProbeReachable,
			"The redirect URI reaches this Airlock server, over http: providers accept http redirect URIs only for localhost, if at all; use an https public URL elsewhere."},
		{"another Airlock process", other.URL + callbackPath, ProbeOtherServer,
			other.URL + callbackPath + " answered 204 without Airlock's probe signature: the public URL reaches another server, not this one."},
		{"another server's 404", other.URL + "/elsewhere", ProbeOtherServer,
			other.URL + "/elsewhere answered 404 without Airlock's probe signature"},
		{"a forged signature", forger.URL + callbackPath, ProbeOtherServer,
			forger.URL + callbackPath + " answered 204 with a probe signature that is not this server's"},
		{"a closed port", "https://" + closedAddr + callbackPath, ProbeUnreachable,
			"https://" + closedAddr + callbackPath + " could not be reached: dial guard: connect to 127.0.0.1: dial tcp " + closedAddr + ": connect: connection refused."},
		{"a proxy that rewrites https to http", toHTTP.URL + callbackPath, ProbeSchemeMismatch,
			toHTTP.URL + callbackPath + " redirects to " + plain.URL + callbackPath + ": the callback is reached over http although the public URL is https."},
		{"https to a server that speaks only http", "https://" + hostPort(plain) + callbackPath, ProbeSchemeMismatch,
			"https://" + hostPort(plain) + callbackPath + " failed (http: server gave HTTP response to HTTPS client), but " + plain.URL + callbackPath + " reached this Airlock server"},
		{"not a URL", "/internal/sessions/v1/auth/callback", ProbeUnreachable,
			"The redirect URI is not an absolute http or https URL: check AIRLOCK_PUBLIC_URL."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Check(context.Background(), client, tt.uri)
			if got.RedirectURI != tt.uri || got.Result != tt.result || got.OK != (tt.result == ProbeReachable) {
				t.Errorf("got %+v, want result %s for %s", got, tt.result, tt.uri)
			}
			if !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("got detail %q, want it to contain %q", got.Detail, tt.detail)
			}
			if strings.Contains(got.Detail, ProbeParam) {
				t.Errorf("detail %q shows the probe value", got.Detail)
			}
		})
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d probes were handled as failed callbacks, want 0", n)
	}
	if n := len(p.live); n != 0 {
		t.Errorf("%d probes still live after the checks, want 0", n)
	}
}

func TestProbeRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	p := NewProber()
	var failed, hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		callbackHandler(p, &failed).ServeHTTP(w, r)
	}))
	defer elsewhere.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(elsewhere.URL, "http://"))
	front := httptest.NewServer(http.RedirectHandler("http://other.test:"+port+callbackPath, http.StatusFound))
	defer front.Close()
	res := &fakeResolver{answers: map[string][]string{"other.test": {"127.0.0.1"}}}
	c := NewHTTPClient(HTTPOptions{Guard: &DialGuard{AllowPrivate: true, Resolver: res, Dial: loopbackOnlyDial(t)}}, NoRedirects)
	got := p.Check(context.Background(), c, front.URL+callbackPath)
	want := ProbeResult{RedirectURI: front.URL + callbackPath, Result: ProbeOtherServer, Detail: front.URL + callbackPath +
		" redirects (302) to http://other.test:" + port + callbackPath + ", which the check does not follow (another host, or more than 5 redirects): the public URL does not lead to this server. Check AIRLOCK_PUBLIC_URL and the reverse proxy."}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host was asked %d times, want 0", n)
	}
}

func TestProbeAnswer(t *testing.T) {
	p := NewProber()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }

	v := p.NewProbe()
	sig, ok := p.Answer(v)
	if !ok || sig != p.sign(v) {
		t.Fatalf("got %q, %v for a live probe, want its signature", sig, ok)
	}
	if _, ok := p.Answer(v); ok {
		t.Errorf("a probe was answered twice, want single use")
	}
	if _, ok := p.Answer("never-issued"); ok {
		t.Errorf("an unknown value was answered")
	}

	late := p.NewProbe()
	now = now.Add(probeTTL)
	if _, ok := p.Answer(late); ok {
		t.Errorf("a probe a minute old was answered, want it expired")
	}

	if NewProber().sign(v) == p.sign(v) {
		t.Errorf("two Probers sign alike: the key is not per process")
	}
}

func TestProbeLiveSetIsBounded(t *testing.T) {
	p := NewProber()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	first := p.NewProbe()
	for range maxLiveProbes + 10 {
		now = now.Add(time.Millisecond)
		p.NewProbe()
	}
	if n := len(p.live); n != maxLiveProbes {
		t.Errorf("got %d live probes, want at most %d", n, maxLiveProbes)
	}
	if _, ok := p.Answer(first); ok {
		t.Errorf("the oldest probe survived a full set")
	}
	now = now.Add(probeTTL)
	p.NewProbe()
	if n := len(p.live); n != 1 {
		t.Errorf("got %d live probes after a minute, want the expired ones gone (1 left)", n)
	}
}

func TestProbeCheckTimesOut(t *testing.T) {
	p := NewProber()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got := p.Check(ctx, loopbackClient(t), slow.URL+callbackPath)
	if got.Result != ProbeUnreachable || !strings.Contains(got.Detail, "could not be reached: no answer within 10s") {
		t.Errorf("got %+v, want unreachable after the deadline", got)
	}
}
