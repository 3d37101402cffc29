package oauthflow

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackGuard allows loopback (the test servers) and names that resolve to
// it; its dialer fails the test for anything else.
func loopbackGuard(t *testing.T, allowPrivate bool) *DialGuard {
	return &DialGuard{AllowPrivate: allowPrivate, Dial: loopbackOnlyDial(t), Resolver: &fakeResolver{answers: map[string][]string{
		"api.test":      {"127.0.0.1"},
		"other.test":    {"127.0.0.1"},
		"metadata.test": {"169.254.169.254"},
	}}}
}

func TestNewHTTPClientGuard(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		wantOK       bool
		wantRefused  bool
	}{
		{"loopback refused by default", srv.URL, false, false, true},
		{"loopback allowed with AllowPrivate", srv.URL, true, true, false},
		{"name resolving to loopback allowed", "http://api.test:" + port + "/", true, true, false},
		{"name resolving to loopback refused", "http://api.test:" + port + "/", false, false, true},
		{"decimal loopback refused", "http://2130706433:" + port + "/", false, false, true},
		{"decimal loopback normalised and allowed", "http://2130706433:" + port + "/", true, true, false},
		{"metadata name refused even when private allowed", "http://metadata.test/latest/meta-data/", true, false, true},
		{"metadata literal refused", "http://169.254.169.254/latest/meta-data/", true, false, true},
		{"mapped metadata literal refused", "http://[::ffff:169.254.169.254]/", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			c := NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, tt.allowPrivate), Timeout: 5 * time.Second}, NoRedirects)
			resp, err := c.Get(tt.url)
			if err == nil {
				resp.Body.Close()
			}
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("got ok %v (%v), want %v", got, err, tt.wantOK)
			}
			if got := errors.Is(err, ErrRefusedAddress); got != tt.wantRefused {
				t.Errorf("got refused %v (%v), want %v", got, err, tt.wantRefused)
			}
			if tt.wantOK && hits.Load() != before+1 {
				t.Errorf("got %d hits, want %d", hits.Load(), before+1)
			}
		})
	}
}

func TestNewHTTPClientTransport(t *testing.T) {
	c := NewHTTPClient(HTTPOptions{HeaderTimeout: 7 * time.Second}, NoRedirects)
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("got transport %T, want *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		t.Errorf("got a proxy function, want none (a proxy would bypass the dial guard)")
	}
	if tr.MaxIdleConnsPerHost != 64 || !tr.ForceAttemptHTTP2 || tr.ResponseHeaderTimeout != 7*time.Second || tr.TLSHandshakeTimeout <= 0 {
		t.Errorf("got per-host %d, h2 %v, header timeout %v, tls %v, want 64, true, 7s, >0",
			tr.MaxIdleConnsPerHost, tr.ForceAttemptHTTP2, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
	}
	if c.Timeout != 30*time.Second {
		t.Errorf("got total timeout %v, want the 30s default", c.Timeout)
	}
	// A nil guard still guards: loopback is refused.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("got a request through an unguarded client")
	}))
	defer srv.Close()
	if _, err := c.Get(srv.URL); !errors.Is(err, ErrRefusedAddress) {
		t.Errorf("got %v, want ErrRefusedAddress from the default guard", err)
	}
}

func TestNewHTTPClientHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true), HeaderTimeout: 100 * time.Millisecond}, NoRedirects)
	start := time.Now()
	_, err := c.Get(srv.URL)
	if err == nil {
		t.Fatalf("got a response, want a header timeout")
	}
	if Classify(err) != KindTemporary {
		t.Errorf("got kind %v, want temporary", Classify(err))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("got %v before the timeout, want about 100ms", d)
	}
}

func TestRedirectPolicies(t *testing.T) {
	var finalHits, otherHits atomic.Int32
	var srvURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/final", http.StatusFound) })
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "other.test:"+port(srvURL) {
			otherHits.Add(1)
		} else {
			finalHits.Add(1)
		}
		io.WriteString(w, "final")
	})
	mux.HandleFunc("/cross", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.test:"+port(srvURL)+"/final", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	srvURL = srv.URL
	base := "http://api.test:" + port(srv.URL)

	tests := []struct {
		name       string
		policy     RedirectPolicy
		path       string
		wantStatus int
		wantFinal  int32
	}{
		{"no redirects returns the 3xx", NoRedirects, "/same", http.StatusFound, 0},
		{"same origin followed", SameOriginRedirects, "/same", http.StatusOK, 1},
		{"cross origin not followed", SameOriginRedirects, "/cross", http.StatusTemporaryRedirect, 0},
		{"loop stops after 5", SameOriginRedirects, "/loop", http.StatusFound, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finalHits.Store(0)
			c := NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true)}, tt.policy)
			req, _ := http.NewRequest(http.MethodGet, base+tt.path, nil)
			req.Header.Set("Authorization", "Bearer secret")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("got %v, want a response", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || finalHits.Load() != tt.wantFinal {
				t.Errorf("got status %d, final hits %d, want %d, %d", resp.StatusCode, finalHits.Load(), tt.wantStatus, tt.wantFinal)
			}
			if otherHits.Load() != 0 {
				t.Errorf("got %d requests to the other origin, want 0", otherHits.Load())
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://a.example/x", "https://a.example:443/y", true},
		{"https://A.example/x", "https://a.example/y", true},
		{"http://a.example/", "https://a.example/", false},
		{"https://a.example/", "https://a.example:8443/", false},
		{"https://a.example/", "https://b.example/", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.a, tt.b), func(t *testing.T) {
			ra, _ := http.NewRequest("GET", tt.a, nil)
			rb, _ := http.NewRequest("GET", tt.b, nil)
			if got := originOf(ra.URL) == originOf(rb.URL); got != tt.same {
				t.Errorf("got same %v, want %v", got, tt.same)
			}
		})
	}
}

func port(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}

// TestSameOriginAgreesWithOriginOf: the base-URL check's sameOrigin, which
// builds no strings, answers as comparing originOf's strings does.
func TestSameOriginAgreesWithOriginOf(t *testing.T) {
	urls := []string{"https://api.example.com", "https://API.example.com:443/v1", "https://api.example.com:8443",
		"http://api.example.com", "http://api.example.com:80/x", "HTTP://api.example.com", "https://[::1]:443",
		"https://[::1]", "ftp://api.example.com", "ftp://api.example.com:21", "https://other.example.com"}
	for _, a := range urls {
		for _, b := range urls {
			ua, _ := url.Parse(a)
			ub, _ := url.Parse(b)
			if got, want := sameOrigin(ua, ub), originOf(ua) == originOf(ub); got != want {
				t.Errorf("sameOrigin(%s, %s): got %v, want %v", a, b, got, want)
			}
		}
	}
}
