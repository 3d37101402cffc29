package handlers

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"

	"airlock/oauthflow"
)

// testHosts gives host names to loopback test servers, so a test can build
// URLs such as http://{env}.acme.test:8080/token and still talk only to
// 127.0.0.0/8: each name resolves to an address 127.0.0.N of its own, and a
// dial to 127.0.0.N, whatever the port, reaches the server named for it.
type testHosts struct {
	t     *testing.T
	mu    sync.Mutex
	names map[string]int    // host name → N
	addrs map[string]string // "127.0.0.N" → the server's host:port
}

func newTestHosts(t *testing.T) *testHosts {
	return &testHosts{t: t, names: map[string]int{}, addrs: map[string]string{}}
}

// route makes name reach the server at serverURL (http://127.0.0.1:port).
func (h *testHosts) route(name, serverURL string) {
	u, err := url.Parse(serverURL)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.names) + 2 // 127.0.0.1 stays the servers' own address
	h.names[name] = n
	h.addrs[fmt.Sprintf("127.0.0.%d", n)] = u.Host
}

// LookupIPAddr resolves the routed names only.
func (h *testHosts) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, byte(n))}}, nil
}

func (h *testHosts) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ip, _, _ := net.SplitHostPort(addr)
	h.mu.Lock()
	target, ok := h.addrs[ip]
	h.mu.Unlock()
	if !ok {
		target = addr
	}
	return loopbackOnly(h.t)(ctx, network, target)
}

// option makes a test server's token client, token manager and API client
// resolve and dial through h.
func (h *testHosts) option() serverOption {
	return func(d *Deps) {
		guard := &oauthflow.DialGuard{AllowPrivate: true, Resolver: h, Dial: h.dial}
		d.Tokens = &oauthflow.Client{HTTP: oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.NoRedirects), Now: d.Now}
		d.Manager = oauthflow.NewManager(oauthflow.ManagerOptions{Store: d.Store, Client: d.Tokens, Now: d.Now, OnRefresh: d.Metrics.ObserveRefresh})
		d.APIClient = oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: guard}, oauthflow.SameOriginRedirects)
	}
}
