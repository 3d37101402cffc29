package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrRefusedAddress is wrapped by every dial guard refusal, so callers can
// tell "this URL points somewhere Airlock may not go" from a network failure.
var ErrRefusedAddress = errors.New("dial guard: address refused")

// defaultConnectTimeout bounds a connect when the guard builds its own dialer.
const defaultConnectTimeout = 10 * time.Second

// DialGuard is the SSRF check of every outbound call (token, revoke, API,
// webhooks). It admits global unicast only (CheckAddr). It resolves the host
// itself, checks every address, and dials the checked IP literal, so DNS
// cannot answer differently between the check and the connect (rebinding).
// It is safe for concurrent use.
type DialGuard struct {
	// AllowPrivate also allows loopback and private ranges (127/8, ::1, 10/8,
	// 172.16/12, 192.168/16, 100.64/10, fc00::/7: AIRLOCK_ALLOW_PRIVATE_NETWORKS);
	// metadata, link-local and every other special-purpose block stay refused.
	AllowPrivate bool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver interface {
		LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	}
	// Dial connects to a checked IP literal; nil means a net.Dialer with a
	// connect timeout. Tests inject one that refuses anything not loopback.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// refusedError names the address, what it carries, the host it came from
// and the setting.
type refusedError struct {
	addr   netip.Addr
	host   string // empty when the URL held the IP literal
	reason string
	via    string     // the embedding it was unwrapped from, if any
	inner  netip.Addr // the IPv4 address that embedding carries
	always bool
}

// Error names the address, its host and the setting (or that none helps).
func (e *refusedError) Error() string {
	what := e.addr.String()
	var notes []string
	if e.via != "" && !strings.Contains(what, e.inner.String()) { // ::ffff:10.0.0.1 says it already
		notes = append(notes, e.via+" form of "+e.inner.String())
	}
	if e.host != "" && e.host != what {
		notes = append(notes, "for "+e.host)
	}
	if len(notes) > 0 {
		what += " (" + strings.Join(notes, ", ") + ")"
	}
	article := "a"
	if strings.ContainsRune("aeiouAEIOU", rune(e.reason[0])) {
		article = "an"
	}
	if e.always {
		return fmt.Sprintf("dial guard: %s is %s %s address and is always refused", what, article, e.reason)
	}
	return fmt.Sprintf("dial guard: %s is %s %s address; set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true to allow it", what, article, e.reason)
}

// Unwrap makes every refusal match errors.Is(err, ErrRefusedAddress).
func (e *refusedError) Unwrap() error { return ErrRefusedAddress }

// CheckAddr reports whether the dial guard lets a connection go to ip: only
// global unicast, and loopback and private ranges when allowPrivate (see
// ipv4Special and ipv6Special). An IPv6 address that carries an IPv4 one
// (mapped, SIIT, compatible, NAT64, 6to4, Teredo) is unwrapped first. The
// error wraps ErrRefusedAddress.
func CheckAddr(ip netip.Addr, allowPrivate bool) error {
	return checkAddr(ip, allowPrivate, "")
}

func checkAddr(ip netip.Addr, allowPrivate bool, host string) error {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return &refusedError{addr: ip, host: host, reason: "invalid", always: true}
	}
	v := classify(ip)
	if v.class == classGlobal || (v.class == classPrivate && allowPrivate) {
		return nil
	}
	return &refusedError{addr: ip, host: host, reason: v.reason, via: v.via, inner: v.inner, always: v.class == classRefused}
}

// DialContext resolves addr's host, refuses it if any resolved address is
// refused (a name with one good and one bad address is refused: which one a
// client picks is not under our control), then dials the checked IPs in turn.
func (g *DialGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial guard: network %q is not allowed", network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial guard: %w", err)
	}
	ips, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if err := checkAddr(ip, g.AllowPrivate, host); err != nil {
			return nil, err
		}
	}
	dial := g.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: defaultConnectTimeout, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	var errs []error
	for _, ip := range ips {
		conn, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial guard: connect to %s: %w", host, errors.Join(errs...))
}

// resolve turns a host into addresses: IP literals (including the legacy
// decimal, octal and hex IPv4 forms that getaddrinfo and browsers accept,
// such as 2130706433 or 0x7f.1) without DNS, names through the resolver.
func (g *DialGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	if ip, ok := parseLegacyIPv4(host); ok {
		return []netip.Addr{ip}, nil
	}
	var r interface {
		LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	} = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	addrs, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("dial guard: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("dial guard: resolve %s: no addresses", host)
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return nil, fmt.Errorf("dial guard: resolve %s: invalid address %v", host, a.IP)
		}
		// net.IP holds IPv4 in 16-byte form: unmap so 10.0.0.5 is dialled and
		// named as such (a mapped AAAA record is then judged as IPv4, too).
		ips = append(ips, ip.Unmap().WithZone(a.Zone))
	}
	return ips, nil
}

// parseLegacyIPv4 parses the inet_aton forms: one to four parts, each
// decimal, octal (leading 0) or hex (0x), the last part filling the
// remaining bytes. A single trailing dot is ignored, as browsers do.
func parseLegacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if host == "" || len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseLegacyPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for _, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v = v<<8 | n
	}
	lastBits := 8 * uint(5-len(parts))
	last := nums[len(nums)-1]
	if last >= 1<<lastBits {
		return netip.Addr{}, false
	}
	v = v<<lastBits | last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseLegacyPart parses one part of a legacy IPv4 form.
func parseLegacyPart(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" alone is zero in inet_aton
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || strings.ContainsAny(p, "+-_") {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
