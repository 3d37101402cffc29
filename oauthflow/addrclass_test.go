package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// Verdicts the guard may give an address.
const (
	passes       = "passes"        // global unicast: allowed
	privateOnly  = "private only"  // allowed only with AllowPrivate
	neverAllowed = "never allowed" // refused whatever the setting
)

// specialBlocks is written out here from the IANA IPv4 and IPv6
// Special-Purpose Address Registries (and the platform endpoints), apart from
// the guard's own table, so an entry missing there fails here.
var specialBlocks = []struct {
	block, name, verdict string
}{
	// IANA IPv4 Special-Purpose Address Registry.
	{"0.0.0.0/8", `"This network"`, neverAllowed},
	{"0.0.0.0/32", `"This host on this network"`, neverAllowed},
	{"10.0.0.0/8", "Private-Use", privateOnly},
	{"100.64.0.0/10", "Shared Address Space", privateOnly},
	{"127.0.0.0/8", "Loopback", privateOnly},
	{"169.254.0.0/16", "Link Local", neverAllowed},
	{"172.16.0.0/12", "Private-Use", privateOnly},
	{"192.0.0.0/24", "IETF Protocol Assignments", neverAllowed},
	{"192.0.0.0/29", "IPv4 Service Continuity Prefix", neverAllowed},
	{"192.0.0.8/32", "IPv4 dummy address", neverAllowed},
	{"192.0.0.9/32", "Port Control Protocol Anycast", neverAllowed},
	{"192.0.0.10/32", "Traversal Using Relays around NAT Anycast", neverAllowed},
	{"192.0.0.170/32", "NAT64/DNS64 Discovery", neverAllowed},
	{"192.0.0.171/32", "NAT64/DNS64 Discovery", neverAllowed},
	{"192.0.2.0/24", "Documentation (TEST-NET-1)", neverAllowed},
	{"192.31.196.0/24", "AS112-v4", neverAllowed},
	{"192.52.193.0/24", "AMT", neverAllowed},
	{"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", neverAllowed},
	{"192.88.99.2/32", "6a44-relay anycast address", neverAllowed},
	{"192.168.0.0/16", "Private-Use", privateOnly},
	{"192.175.48.0/24", "Direct Delegation AS112 Service", neverAllowed},
	{"198.18.0.0/15", "Benchmarking", neverAllowed},
	{"198.51.100.0/24", "Documentation (TEST-NET-2)", neverAllowed},
	{"203.0.113.0/24", "Documentation (TEST-NET-3)", neverAllowed},
	{"240.0.0.0/4", "Reserved", neverAllowed},
	{"255.255.255.255/32", "Limited Broadcast", neverAllowed},
	// IPv4 multicast (its own registry).
	{"224.0.0.0/4", "Multicast", neverAllowed},
	// IANA IPv6 Special-Purpose Address Registry.
	{"::1/128", "Loopback Address", privateOnly},
	{"::/128", "Unspecified Address", neverAllowed},
	{"64:ff9b:1::/48", "Local-Use IPv4/IPv6 Translation", neverAllowed},
	{"100::/64", "Discard-Only Address Block", neverAllowed},
	{"100:0:0:1::/64", "Dummy IPv6 Prefix", neverAllowed},
	{"2001::/23", "IETF Protocol Assignments", neverAllowed},
	{"2001::/32", "TEREDO", neverAllowed},
	{"2001:1::1/128", "Port Control Protocol Anycast", neverAllowed},
	{"2001:1::2/128", "Traversal Using Relays around NAT Anycast", neverAllowed},
	{"2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", neverAllowed},
	{"2001:2::/48", "Benchmarking", neverAllowed},
	{"2001:3::/32", "AMT", neverAllowed},
	{"2001:4:112::/48", "AS112-v6", neverAllowed},
	{"2001:10::/28", "Deprecated (previously ORCHID)", neverAllowed},
	{"2001:20::/28", "ORCHIDv2", neverAllowed},
	{"2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", neverAllowed},
	{"2001:db8::/32", "Documentation", neverAllowed},
	{"2620:4f:8000::/48", "Direct Delegation AS112 Service", neverAllowed},
	{"3fff::/20", "Documentation", neverAllowed},
	{"5f00::/16", "Segment Routing (SRv6) SIDs", neverAllowed},
	{"fc00::/7", "Unique-Local", privateOnly},
	{"fe80::/10", "Link-Local Unicast", neverAllowed},
	// IPv6 address space outside the special-purpose registry that is not global unicast.
	{"ff00::/8", "Multicast", neverAllowed},
	{"fec0::/10", "Site-Local (deprecated)", neverAllowed},
	{"4000::/2", "Reserved by IETF", neverAllowed},
	{"e000::/4", "Reserved by IETF", neverAllowed},
	{"200::/7", "Reserved by IETF", neverAllowed},
	// Platform endpoints.
	{"168.63.129.16/32", "Azure WireServer", neverAllowed},
	{"192.0.0.192/32", "Oracle Cloud metadata", neverAllowed},
	{"100.100.100.200/32", "Alibaba Cloud metadata", neverAllowed},
	{"fd00:ec2::/64", "AWS IMDS, DNS and NTP over IPv6", neverAllowed},
}

// globalAddrs are global unicast, some just outside a special block.
var globalAddrs = []string{
	"8.8.8.8", "1.1.1.1", "1.0.0.0", "223.255.255.255", "192.0.1.1", "192.0.3.0", "198.17.255.255", "198.20.0.1",
	"100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1", "168.63.129.17", "192.88.98.255",
	"2001:4860:4860::8888", "2606:4700:4700::1111", "2001:200::1", "2001:db9::1", "2a00:1450:4001::1",
	"3ffe:ffff::1", "2620:4f:8001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
}

// blockEnds is the first and last address of a block.
func blockEnds(p netip.Prefix) []netip.Addr {
	first := p.Masked().Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	if last == first {
		return []netip.Addr{first}
	}
	return []netip.Addr{first, last}
}

// checkVerdict fails the test unless CheckAddr gives ip the verdict.
func checkVerdict(t *testing.T, ip netip.Addr, verdict string) {
	t.Helper()
	strict, loose := CheckAddr(ip, false), CheckAddr(ip, true)
	got := passes
	switch {
	case strict != nil && loose != nil:
		got = neverAllowed
	case strict != nil:
		got = privateOnly
	case loose != nil:
		got = "refused only with AllowPrivate (a bug)"
	}
	if got != verdict {
		t.Errorf("%s: got %s (%v), want %s", ip, got, strict, verdict)
	}
	for _, err := range []error{strict, loose} {
		if err != nil && !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("%s: got %v, want it to wrap ErrRefusedAddress", ip, err)
		}
	}
}

func TestGuardSpecialPurposeRegistries(t *testing.T) {
	for _, b := range specialBlocks {
		t.Run(b.block+" "+b.name, func(t *testing.T) {
			for _, ip := range blockEnds(netip.MustParsePrefix(b.block)) {
				checkVerdict(t, ip, b.verdict)
			}
		})
	}
	for _, s := range globalAddrs {
		t.Run(s+" global", func(t *testing.T) { checkVerdict(t, netip.MustParseAddr(s), passes) })
	}
}

// embed puts v4 into an IPv6 address: prefix bytes, then v4 at offset at.
func embed(prefix string, at int, v4 netip.Addr, xor byte) netip.Addr {
	b := netip.MustParseAddr(prefix).As16()
	for i, x := range v4.As4() {
		b[at+i] = x ^ xor
	}
	return netip.AddrFrom16(b)
}

// embeddings are the IPv6 forms that carry an IPv4 address. Mapped, NAT64
// and 6to4 are judged as the address they carry; the others are not global
// unicast themselves, so they are never allowed.
var embeddings = []struct {
	name       string
	form       func(v4 netip.Addr) netip.Addr
	transcends bool // judged as the IPv4 address it carries
}{
	{"IPv4-mapped", func(v4 netip.Addr) netip.Addr { return embed("::ffff:0:0", 12, v4, 0) }, true},
	{"SIIT", func(v4 netip.Addr) netip.Addr { return embed("::ffff:0:0:0", 12, v4, 0) }, false},
	{"IPv4-compatible", func(v4 netip.Addr) netip.Addr { return embed("::", 12, v4, 0) }, false},
	{"NAT64", func(v4 netip.Addr) netip.Addr { return embed("64:ff9b::", 12, v4, 0) }, true},
	{"local-use NAT64", func(v4 netip.Addr) netip.Addr { return embed("64:ff9b:1::", 12, v4, 0) }, false},
	{"6to4", func(v4 netip.Addr) netip.Addr { return embed("2002::1", 2, v4, 0) }, true},
	// Teredo: server 4.4.4.4 (never dialled), client obfuscated (inverted).
	{"Teredo", func(v4 netip.Addr) netip.Addr { return embed("2001:0:404:404:8000:ffff::", 12, v4, 0xff) }, false},
}

func TestGuardEmbeddedIPv4(t *testing.T) {
	var refused []netip.Addr
	want := map[netip.Addr]string{}
	for _, b := range specialBlocks {
		p := netip.MustParsePrefix(b.block)
		if !p.Addr().Is4() {
			continue
		}
		for _, ip := range blockEnds(p) {
			refused, want[ip] = append(refused, ip), b.verdict
		}
	}
	refused, want[netip.MustParseAddr("169.254.169.254")] = append(refused, netip.MustParseAddr("169.254.169.254")), neverAllowed
	for _, v4 := range refused {
		for _, e := range embeddings {
			ip := e.form(v4)
			t.Run(fmt.Sprintf("%s %s", e.name, v4), func(t *testing.T) {
				verdict := neverAllowed
				if e.transcends {
					verdict = want[v4]
				}
				checkVerdict(t, ip, verdict)
				if ip == netip.IPv6Unspecified() {
					return // ::0.0.0.0 is ::, the unspecified address itself
				}
				if err := CheckAddr(ip, false); err != nil && !strings.Contains(err.Error(), v4.String()) {
					t.Errorf("got %q, want it to name the IPv4 address %s it carries", err, v4)
				}
			})
		}
	}
}

// TestGuardReportedBypasses are the addresses that got through before.
func TestGuardReportedBypasses(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"[::ffff:0:a9fe:a9fe]:80", "::ffff:0:a9fe:a9fe (SIIT form of 169.254.169.254) is a link-local/metadata address and is always refused"},
		{"[fec0::1]:80", "fec0::1 is a site-local (deprecated) address and is always refused"},
		{"198.18.0.1:80", "198.18.0.1 is a benchmarking address and is always refused"},
		{"198.19.255.254:80", "is a benchmarking address"},
		{"192.0.0.1:80", "is always refused"},
		{"192.0.0.192:80", "192.0.0.192 is a cloud metadata (Oracle Cloud) address and is always refused"},
		{"168.63.129.16:80", "168.63.129.16 is a cloud platform (Azure WireServer) address and is always refused"},
		{"[2001:db8::1]:80", "2001:db8::1 is a documentation address and is always refused"},
		{"[100::1]:80", "100::1 is a discard-only address and is always refused"},
		{"[fd00:ec2::254]:80", "fd00:ec2::254 is a cloud metadata (AWS) address and is always refused"},
		{"[fd00:ec2::253]:80", "fd00:ec2::253 is a cloud metadata (AWS) address"},
		{"[2001:0:404:404:8000:ffff:5601:5601]:80", "(Teredo form of 169.254.169.254) is a link-local/metadata address"},
		{"[64:ff9b:1::a9fe:a9fe]:80", "(local-use NAT64 form of 169.254.169.254) is a link-local/metadata address"},
		{"[::ffff:0:808:808]:80", "::ffff:0:808:808 (SIIT form of 8.8.8.8) is an IPv4-translated (SIIT) address and is always refused"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			g := &DialGuard{AllowPrivate: true, Resolver: testResolver(), Dial: loopbackOnlyDial(t)}
			conn, err := g.DialContext(context.Background(), "tcp", tt.addr)
			if err == nil {
				conn.Close()
				t.Fatalf("got a connection, want refusal %q", tt.want)
			}
			if !errors.Is(err, ErrRefusedAddress) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want a refusal containing %q", err, tt.want)
			}
		})
	}
}
