package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers from a table; it never touches DNS.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	lookups []string
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	r.lookups = append(r.lookups, host)
	r.mu.Unlock()
	ips, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// loopbackOnlyDial dials 127.0.0.0/8 and nothing else: any other address
// fails the test, so no test can ever send traffic elsewhere.
func loopbackOnlyDial(t *testing.T) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Is4() || !ip.IsLoopback() {
			t.Errorf("dial to %s: the guard let through an address that is not 127.0.0.0/8", addr)
			return nil, fmt.Errorf("test dialer refuses %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func testResolver() *fakeResolver {
	return &fakeResolver{answers: map[string][]string{
		"metadata.test": {"169.254.169.254"},
		"internal.test": {"10.0.0.5"},
		"mixed.test":    {"1.1.1.1", "10.0.0.1"},
		"mapped.test":   {"::ffff:169.254.169.254"},
		"ula.test":      {"fd12:3456::1"},
		"cgnat.test":    {"100.64.1.2"},
		"loop.test":     {"127.0.0.1"},
		"empty.test":    {},
	}}
}

func TestDialGuardRefuses(t *testing.T) {
	tests := []struct {
		addr         string
		allowPrivate bool
		want         string
	}{
		{"169.254.169.254:80", false, "dial guard: 169.254.169.254 is a link-local/metadata address and is always refused"},
		{"169.254.169.254:80", true, "dial guard: 169.254.169.254 is a link-local/metadata address and is always refused"},
		{"2852039166:80", true, "dial guard: 169.254.169.254 (for 2852039166) is a link-local/metadata address and is always refused"},
		{"0251.0376.0251.0376:80", true, "169.254.169.254 (for 0251.0376.0251.0376) is a link-local/metadata address"},
		{"0xa9.0xfe.0xa9.0xfe:80", true, "169.254.169.254 (for 0xa9.0xfe.0xa9.0xfe) is a link-local/metadata"},
		{"0xA9FEA9FE:80", true, "169.254.169.254 (for 0xA9FEA9FE) is a link-local/metadata"},
		{"169.254.43518:80", true, "169.254.169.254 (for 169.254.43518) is a link-local/metadata"},
		{"169.254.169.254.:80", true, "169.254.169.254 (for 169.254.169.254.) is a link-local/metadata"},
		{"[::ffff:169.254.169.254]:80", true, "dial guard: ::ffff:169.254.169.254 is a link-local/metadata address and is always refused"},
		{"[::ffff:a9fe:a9fe]:80", true, "is a link-local/metadata address"},
		{"[::a9fe:a9fe]:80", true, "is a link-local/metadata address"},
		{"[64:ff9b::a9fe:a9fe]:80", true, "is a link-local/metadata address"},
		{"[fe80::1]:80", true, "dial guard: fe80::1 is a link-local/metadata address and is always refused"},
		{"[fe80::1%eth0]:80", true, "dial guard: fe80::1 (for fe80::1%eth0) is a link-local/metadata address"},
		{"[fd00:ec2::254]:80", true, "dial guard: fd00:ec2::254 is a cloud metadata (AWS) address and is always refused"},
		{"100.100.100.200:80", true, "dial guard: 100.100.100.200 is a cloud metadata (Alibaba Cloud) address and is always refused"},
		{"metadata.test:80", true, "dial guard: 169.254.169.254 (for metadata.test) is a link-local/metadata address and is always refused"},
		{"mapped.test:80", true, "dial guard: 169.254.169.254 (for mapped.test) is a link-local/metadata address"},
		{"[::ffff:10.0.0.1]:80", false, "dial guard: ::ffff:10.0.0.1 is a private address; set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true to allow it"},
		{"internal.test:443", false, "dial guard: 10.0.0.5 (for internal.test) is a private address; set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true to allow it"},
		{"mixed.test:443", false, "dial guard: 10.0.0.1 (for mixed.test) is a private address"},
		{"172.16.0.1:80", false, "is a private address"},
		{"192.168.1.1:80", false, "is a private address"},
		{"127.0.0.1:80", false, "dial guard: 127.0.0.1 is a loopback address; set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true to allow it"},
		{"2130706433:80", false, "dial guard: 127.0.0.1 (for 2130706433) is a loopback address"},
		{"0x7f.1:80", false, "127.0.0.1 (for 0x7f.1) is a loopback address"},
		{"0177.0.0.1:80", false, "127.0.0.1 (for 0177.0.0.1) is a loopback address"},
		{"loop.test:80", false, "127.0.0.1 (for loop.test) is a loopback address"},
		{"[::1]:80", false, "dial guard: ::1 is a loopback address"},
		{"[fc00::1]:80", false, "dial guard: fc00::1 is a private (unique local) address"},
		{"ula.test:80", false, "fd12:3456::1 (for ula.test) is a private (unique local) address"},
		{"100.64.0.1:80", false, "dial guard: 100.64.0.1 is a private (shared/CGNAT) address"},
		{"cgnat.test:80", false, "100.64.1.2 (for cgnat.test) is a private (shared/CGNAT) address"},
		{"0.0.0.0:80", true, "dial guard: 0.0.0.0 is an unspecified address and is always refused"},
		{"0:80", true, "0.0.0.0 (for 0) is an unspecified address"},
		{"[::]:80", true, "dial guard: :: is an unspecified address and is always refused"},
		{"224.0.0.1:80", true, "is a multicast address and is always refused"},
		{"255.255.255.255:80", true, "is a broadcast address and is always refused"},
		{"240.0.0.1:80", true, "is a reserved address and is always refused"},
		{"[ff02::1]:80", true, "is a multicast address and is always refused"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allow=%v", tt.addr, tt.allowPrivate), func(t *testing.T) {
			g := &DialGuard{AllowPrivate: tt.allowPrivate, Resolver: testResolver(), Dial: loopbackOnlyDial(t)}
			conn, err := g.DialContext(context.Background(), "tcp", tt.addr)
			if err == nil {
				conn.Close()
				t.Fatalf("got a connection, want refusal %q", tt.want)
			}
			if !errors.Is(err, ErrRefusedAddress) {
				t.Errorf("got %v, want an error wrapping ErrRefusedAddress", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err.Error(), tt.want)
			}
		})
	}
}

func TestDialGuardOtherFailures(t *testing.T) {
	tests := []struct {
		network, addr, want string
	}{
		{"tcp", "unknown.test:80", "dial guard: resolve unknown.test"},
		{"tcp", "empty.test:80", "dial guard: resolve empty.test: no addresses"},
		{"udp", "127.0.0.1:53", `dial guard: network "udp" is not allowed`},
		{"tcp", "no-port", "dial guard: address no-port: missing port in address"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			g := &DialGuard{AllowPrivate: true, Resolver: testResolver(), Dial: loopbackOnlyDial(t)}
			_, err := g.DialContext(context.Background(), tt.network, tt.addr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if errors.Is(err, ErrRefusedAddress) {
				t.Errorf("got %v wrapping ErrRefusedAddress, want a plain failure", err)
			}
		})
	}
}

// TestDialGuardDialsCheckedIP shows the guard connects to the IP it checked,
// not to the name (which DNS could answer differently a second time).
func TestDialGuardDialsCheckedIP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var dialed []string
	r := testResolver()
	g := &DialGuard{AllowPrivate: true, Resolver: r, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return loopbackOnlyDial(t)(ctx, network, addr)
	}}
	for _, host := range []string{"loop.test", "2130706433", "127.0.0.1"} {
		conn, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Fatalf("%s: got %v, want a connection", host, err)
		}
		conn.Close()
	}
	want := "127.0.0.1:" + port
	for _, d := range dialed {
		if d != want {
			t.Errorf("got dial to %s, want %s", d, want)
		}
	}
	if len(dialed) != 3 || len(r.lookups) != 1 {
		t.Errorf("got %d dials and lookups %v, want 3 dials and one lookup (loop.test)", len(dialed), r.lookups)
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		ip           string
		allowPrivate bool
		refused      bool
	}{
		{"8.8.8.8", false, false},
		{"2001:4860:4860::8888", false, false},
		{"1.1.1.1", false, false},
		{"203.0.113.7", true, true}, // documentation (TEST-NET-3)
		{"127.0.0.1", true, false},
		{"10.1.2.3", true, false},
		{"::ffff:10.0.0.1", true, false},
		{"fd12::1", true, false},
		{"127.255.255.254", false, true},
		{"10.255.0.1", false, true},
		{"172.31.255.255", false, true},
		{"172.32.0.1", false, false},
		{"192.168.0.1", false, true},
		{"100.127.255.255", false, true},
		{"100.128.0.1", false, false},
		{"169.254.0.1", true, true},
		{"::ffff:127.0.0.1", false, true},
		{"::", true, true},
		{"0.1.2.3", true, true},
		{"239.255.255.250", true, true},
		{"fe80::abcd", true, true},
		{"64:ff9b::10.0.0.1", false, true},
		{"64:ff9b::8.8.8.8", false, false},
		{"2002:a9fe:a9fe::1", true, true},    // 6to4 carrying 169.254.169.254
		{"2002:7f00:1::1", false, true},      // 6to4 carrying 127.0.0.1
		{"2002:0808:0808::1", false, false},  // 6to4 carrying 8.8.8.8
		{"64:ff9b:1::a9fe:a9fe", true, true}, // local-use NAT64 (RFC 8215) carrying metadata
		{"2001:0:4136:e378::1", true, true},  // Teredo: the IPv4 it reaches is hidden
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allow=%v", tt.ip, tt.allowPrivate), func(t *testing.T) {
			err := CheckAddr(netip.MustParseAddr(tt.ip), tt.allowPrivate)
			if got := err != nil; got != tt.refused {
				t.Errorf("got refused %v (%v), want %v", got, err, tt.refused)
			}
			if err != nil && !errors.Is(err, ErrRefusedAddress) {
				t.Errorf("got %v, want it to wrap ErrRefusedAddress", err)
			}
		})
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	tests := []struct {
		in   string
		want string // empty: not an IPv4 form
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F.0.0.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"10.1.258", "10.1.1.2"},
		{"0", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"08.1.1.1", ""},
		{"0xg.1.1.1", ""},
		{"example.com", ""},
		{"1.2.3.-4", ""},
		{"", ""},
		{"1..2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ip, ok := parseLegacyIPv4(tt.in)
			got := ""
			if ok {
				got = ip.String()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
