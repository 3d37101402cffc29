package oauthflow

import (
	"net/netip"
)

// addrClass is what the dial guard makes of an address.
type addrClass uint8

const (
	classGlobal  addrClass = iota // global unicast: allowed
	classPrivate                  // loopback and private: allowed only with AllowPrivate
	classRefused                  // refused whatever the setting
)

// specialRange is one block the guard does not treat as global unicast.
type specialRange struct {
	prefix netip.Prefix
	name   string // the registry's name for it (or the platform's), with its RFC
	reason string // what a refusal calls it: "a <reason> address"
	class  addrClass
}

func special(prefix, name, reason string, class addrClass) specialRange {
	return specialRange{prefix: netip.MustParsePrefix(prefix), name: name, reason: reason, class: class}
}

// ipv4Special (read-only) is the IANA IPv4 Special-Purpose Address Registry
// in full, IPv4 multicast, and platform endpoints. Only loopback, Private-Use
// and Shared Address Space are private; everything else is refused always,
// including the blocks the registry marks globally reachable (PCP and TURN
// anycast, AS112, AMT, the 6a44 relay): they are anycast services of other
// protocols, where no API an integration calls can live, and the first two
// sit in 192.0.0.0/24 beside Oracle Cloud's metadata service. The longest
// matching prefix decides, so a platform endpoint inside a private block
// (Alibaba's metadata in 100.64.0.0/10) is refused.
var ipv4Special = []specialRange{
	special("0.0.0.0/8", `"This network" (RFC 791)`, "unspecified", classRefused),
	special("0.0.0.0/32", `"This host on this network" (RFC 1122)`, "unspecified", classRefused),
	special("10.0.0.0/8", "Private-Use (RFC 1918)", "private", classPrivate),
	special("100.64.0.0/10", "Shared Address Space (RFC 6598)", "private (shared/CGNAT)", classPrivate),
	special("127.0.0.0/8", "Loopback (RFC 1122)", "loopback", classPrivate),
	special("169.254.0.0/16", "Link Local (RFC 3927)", "link-local/metadata", classRefused),
	special("172.16.0.0/12", "Private-Use (RFC 1918)", "private", classPrivate),
	special("192.0.0.0/24", "IETF Protocol Assignments (RFC 6890)", "IETF protocol assignment", classRefused),
	special("192.0.0.0/29", "IPv4 Service Continuity Prefix (RFC 7335)", "DS-Lite service continuity", classRefused),
	special("192.0.0.8/32", "IPv4 dummy address (RFC 7600)", "dummy", classRefused),
	special("192.0.0.9/32", "Port Control Protocol Anycast (RFC 7723)", "PCP anycast", classRefused),
	special("192.0.0.10/32", "Traversal Using Relays around NAT Anycast (RFC 8155)", "TURN anycast", classRefused),
	special("192.0.0.170/31", "NAT64/DNS64 Discovery (RFC 8880, RFC 7050)", "NAT64/DNS64 discovery", classRefused),
	special("192.0.2.0/24", "Documentation (TEST-NET-1) (RFC 5737)", "documentation", classRefused),
	special("192.31.196.0/24", "AS112-v4 (RFC 7535)", "AS112 DNS sink", classRefused),
	special("192.52.193.0/24", "AMT (RFC 7450)", "AMT relay anycast", classRefused),
	special("192.88.99.0/24", "Deprecated (6to4 Relay Anycast) (RFC 7526)", "6to4 relay anycast", classRefused),
	special("192.88.99.2/32", "6a44-relay anycast address (RFC 6751)", "6a44 relay anycast", classRefused),
	special("192.168.0.0/16", "Private-Use (RFC 1918)", "private", classPrivate),
	special("192.175.48.0/24", "Direct Delegation AS112 Service (RFC 7534)", "AS112 DNS sink", classRefused),
	special("198.18.0.0/15", "Benchmarking (RFC 2544)", "benchmarking", classRefused),
	special("198.51.100.0/24", "Documentation (TEST-NET-2) (RFC 5737)", "documentation", classRefused),
	special("203.0.113.0/24", "Documentation (TEST-NET-3) (RFC 5737)", "documentation", classRefused),
	special("240.0.0.0/4", "Reserved (RFC 1112)", "reserved", classRefused),
	special("255.255.255.255/32", "Limited Broadcast (RFC 8190, RFC 919)", "broadcast", classRefused),
	special("224.0.0.0/4", "Multicast (RFC 5771)", "multicast", classRefused),
	special("168.63.129.16/32", "Azure WireServer", "cloud platform (Azure WireServer)", classRefused),
	special("192.0.0.192/32", "Oracle Cloud Infrastructure metadata", "cloud metadata (Oracle Cloud)", classRefused),
	special("100.100.100.200/32", "Alibaba Cloud metadata", "cloud metadata (Alibaba Cloud)", classRefused),
}

// ipv6Special (read-only) is the IANA IPv6 Special-Purpose Address Registry
// in full (bar the embeddings, which embeddedIPv4 unwraps first), the
// non-global parts of the IPv6 address space, and platform endpoints. Only
// ::1 and Unique-Local are private. As in IPv4, the blocks marked globally
// reachable are refused too: anycast services of other protocols (PCP, TURN,
// DNS-SD, AMT, AS112) and ORCHIDv2 and DET identifiers, which are not
// locators. Anything outside 2000::/3 that is not listed is refused as well.
var ipv6Special = []specialRange{
	special("::1/128", "Loopback Address (RFC 4291)", "loopback", classPrivate),
	special("::/128", "Unspecified Address (RFC 4291)", "unspecified", classRefused),
	special("64:ff9b:1::/48", "Local-Use IPv4/IPv6 Translation (RFC 8215)", "local-use NAT64", classRefused),
	special("100::/64", "Discard-Only Address Block (RFC 6666)", "discard-only", classRefused),
	special("100:0:0:1::/64", "Dummy IPv6 Prefix (RFC 9780)", "dummy", classRefused),
	special("2001::/23", "IETF Protocol Assignments (RFC 2928)", "IETF protocol assignment", classRefused),
	special("2001::/32", "TEREDO (RFC 4380, RFC 8190)", "Teredo tunnel", classRefused),
	special("2001:1::1/128", "Port Control Protocol Anycast (RFC 7723)", "PCP anycast", classRefused),
	special("2001:1::2/128", "Traversal Using Relays around NAT Anycast (RFC 8155)", "TURN anycast", classRefused),
	special("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast Address (RFC 9665)", "DNS-SD anycast", classRefused),
	special("2001:2::/48", "Benchmarking (RFC 5180)", "benchmarking", classRefused),
	special("2001:3::/32", "AMT (RFC 7450)", "AMT relay anycast", classRefused),
	special("2001:4:112::/48", "AS112-v6 (RFC 7535)", "AS112 DNS sink", classRefused),
	special("2001:10::/28", "Deprecated (previously ORCHID) (RFC 4843)", "ORCHID identifier", classRefused),
	special("2001:20::/28", "ORCHIDv2 (RFC 7343)", "ORCHID identifier", classRefused),
	special("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix (RFC 9374)", "drone identifier (DET)", classRefused),
	special("2001:db8::/32", "Documentation (RFC 3849)", "documentation", classRefused),
	special("2620:4f:8000::/48", "Direct Delegation AS112 Service (RFC 7534)", "AS112 DNS sink", classRefused),
	special("3fff::/20", "Documentation (RFC 9637)", "documentation", classRefused),
	special("5f00::/16", "Segment Routing (SRv6) SIDs (RFC 9602)", "SRv6 segment identifier", classRefused),
	special("fc00::/7", "Unique-Local (RFC 4193, RFC 8190)", "private (unique local)", classPrivate),
	special("fe80::/10", "Link-Local Unicast (RFC 4291)", "link-local/metadata", classRefused),
	special("fec0::/10", "Site-Local (deprecated, RFC 3879)", "site-local (deprecated)", classRefused),
	special("ff00::/8", "Multicast (RFC 4291)", "multicast", classRefused),
	special("fd00:ec2::/64", "AWS instance metadata, DNS and NTP over IPv6", "cloud metadata (AWS)", classRefused),
}

// globalUnicast6 is the IPv6 space IANA allocates as global unicast.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// outsideGlobal6 is the verdict on IPv6 outside 2000::/3 and every table row.
var outsideGlobal6 = specialRange{name: "Reserved by IETF", reason: "reserved (outside global unicast 2000::/3)", class: classRefused}

// embedding is an IPv6 form that carries an IPv4 address. A transparent one
// is judged as the address it carries: the OS (mapped) or a gateway on the
// path (NAT64, 6to4) connects to that IPv4 address. The others are not
// global unicast themselves, so they are refused whatever they carry, and
// the IPv4 address only names the refusal.
type embedding struct {
	prefix      netip.Prefix
	name        string // as a refusal names it: "<name> form of 169.254.169.254"
	transparent bool
	at          int  // byte offset of the IPv4 address
	xor         byte // Teredo inverts the client address
	self        specialRange
}

// ipv4Embeddings (read-only), most specific first: SIIT's ::ffff:0:0:0/96 lies
// inside the IPv4-compatible ::/96.
var ipv4Embeddings = []embedding{
	{prefix: netip.MustParsePrefix("::ffff:0:0/96"), name: "IPv4-mapped", transparent: true, at: 12},
	{prefix: netip.MustParsePrefix("::ffff:0:0:0/96"), name: "SIIT", at: 12,
		self: specialRange{name: "IPv4-translated (RFC 2765)", reason: "IPv4-translated (SIIT)", class: classRefused}},
	{prefix: netip.MustParsePrefix("::/96"), name: "IPv4-compatible", at: 12,
		self: specialRange{name: "IPv4-compatible (deprecated, RFC 4291)", reason: "IPv4-compatible (deprecated)", class: classRefused}},
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), name: "NAT64", transparent: true, at: 12},
	{prefix: netip.MustParsePrefix("64:ff9b:1::/48"), name: "local-use NAT64", at: 12},
	{prefix: netip.MustParsePrefix("2002::/16"), name: "6to4", transparent: true, at: 2},
	{prefix: netip.MustParsePrefix("2001::/32"), name: "Teredo", at: 12, xor: 0xff},
}

// verdict is the guard's judgement of one address.
type verdict struct {
	specialRange
	via   string     // the embedding the address was unwrapped from, if any
	inner netip.Addr // the IPv4 address it carries
}

// classify judges ip (without zone). An embedding is unwrapped first; the
// unspecified and loopback addresses are their own, not IPv4-compatible.
func classify(ip netip.Addr) verdict {
	if ip.Is6() && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback() {
		for _, e := range ipv4Embeddings {
			if e.prefix.Contains(ip) {
				return e.judge(ip)
			}
		}
	}
	return verdict{specialRange: specialRangeOf(ip)}
}

// judge unwraps the IPv4 address of ip. A refused embedding reports what it
// carries when that is refused too (a metadata address says more than
// "Teredo"), its own reason otherwise.
func (e embedding) judge(ip netip.Addr) verdict {
	b := ip.As16()
	var v4 [4]byte
	for i := range v4 {
		v4[i] = b[e.at+i] ^ e.xor
	}
	inner := netip.AddrFrom4(v4)
	v := verdict{specialRange: specialRangeOf(inner), via: e.name, inner: inner}
	if e.transparent || v.class == classRefused {
		return v
	}
	v.specialRange = e.self
	if v.reason == "" { // local-use NAT64 and Teredo are rows of the registry
		v.specialRange = specialRangeOf(ip)
	}
	return v
}

// specialRangeOf finds the longest matching table row; no row means global unicast
// (IPv4) or, outside 2000::/3, reserved (IPv6).
func specialRangeOf(ip netip.Addr) specialRange {
	table := ipv4Special
	if ip.Is6() {
		table = ipv6Special
	}
	best := specialRange{class: classGlobal}
	for _, r := range table {
		if r.prefix.Contains(ip) && (best.reason == "" || r.prefix.Bits() > best.prefix.Bits()) {
			best = r
		}
	}
	if best.reason == "" && ip.Is6() && !globalUnicast6.Contains(ip) {
		return outsideGlobal6
	}
	return best
}
