package oauthflow

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RedirectPolicy says what an outbound client does with a 3xx answer.
type RedirectPolicy int

const (
	// NoRedirects returns every 3xx as the response: token and revocation
	// endpoints must never be followed elsewhere (RFC 9700 §4.11, §2.6).
	NoRedirects RedirectPolicy = iota
	// SameOriginRedirects follows at most maxRedirects redirects that keep
	// scheme, host and port; any other 3xx is returned as the response, so
	// credentials never reach another host (golang/oauth2 #500).
	SameOriginRedirects
)

// maxRedirects is how many same-origin redirects an API call may follow.
const maxRedirects = 5

// Defaults for zero HTTPOptions durations; they match the config defaults.
const (
	defaultHTTPConnectTimeout = 5 * time.Second
	defaultHeaderTimeout      = 15 * time.Second
	defaultTotalTimeout       = 30 * time.Second
	tlsHandshakeTimeout       = 10 * time.Second
)

// HTTPOptions configures an outbound client. Zero durations take defaults
// (5 s connect, 15 s headers, 30 s total); a nil Guard is a guard that refuses
// private networks, so no client from here is ever unguarded.
type HTTPOptions struct {
	Guard          *DialGuard
	ConnectTimeout time.Duration // DNS lookup and TCP connect
	HeaderTimeout  time.Duration // until the response headers arrive
	Timeout        time.Duration // the whole exchange, body included
}

// NewHTTPClient builds the client for admin-entered URLs. Every connection
// goes through the dial guard. Proxy is nil on purpose: a proxy taken from
// HTTP_PROXY would make the connection to the proxy, not to the checked
// address, and so bypass the guard. Idle connections are pooled generously
// (64 per host) so many concurrent callers of one API reuse connections.
func NewHTTPClient(o HTTPOptions, redirects RedirectPolicy) *http.Client {
	guard := o.Guard
	if guard == nil {
		guard = &DialGuard{}
	}
	connect := orDefault(o.ConnectTimeout, defaultHTTPConnectTimeout)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		// The context bounds lookup and connect; a live connection is not
		// affected when it ends.
		ctx, cancel := context.WithTimeout(ctx, connect)
		defer cancel()
		return guard.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  orDefault(o.HeaderTimeout, defaultHeaderTimeout),
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	c := &http.Client{Transport: tr, Timeout: orDefault(o.Timeout, defaultTotalTimeout)}
	switch redirects {
	case SameOriginRedirects:
		c.CheckRedirect = sameOriginOnly
	default:
		c.CheckRedirect = noRedirect
	}
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// noRedirect hands the 3xx back to the caller instead of following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// sameOriginOnly follows a redirect only within the first request's origin,
// at most maxRedirects times, to a path without traversal forms, and — when
// the request carries a redirect scope — under the API base URLs; otherwise
// the 3xx becomes the response, and the credential stays where it was.
func sameOriginOnly(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) > maxRedirects || !sameOrigin(req.URL, via[0].URL) || pathProblem(req.URL) != "" {
		return http.ErrUseLastResponse
	}
	if scope, ok := req.Context().Value(redirectScopeKey{}).(func(*url.URL) error); ok && scope(req.URL) != nil {
		return http.ErrUseLastResponse
	}
	return nil
}

type redirectScopeKey struct{}

// withRedirectScope makes sameOriginOnly follow a redirect only to a URL
// that allowed accepts: the runner's API base-URL check, so a same-origin
// redirect cannot carry the token out of the base path (/api/v2/ → /admin).
func withRedirectScope(ctx context.Context, allowed func(*url.URL) error) context.Context {
	return context.WithValue(ctx, redirectScopeKey{}, allowed)
}

// traversalEscapes are escapes that a server (or a proxy before it) may
// decode before it resolves the path: "%2e%2e/" is "../", "%2f" and "%5c"
// split a segment in two, and "%25" hides one of them from a single decode.
var traversalEscapes = []string{"%2e", "%2f", "%5c", "%252e", "%252f", "%255c"}

// pathProblem says why u's path could reach outside the path it names, or
// "": a "." or ".." segment, also with a ";parameter" (Tomcat and Spring read
// "..;/" as "../"), a backslash (which some servers take for "/"), or one of
// the traversalEscapes, in any case.
func pathProblem(u *url.URL) string {
	for _, seg := range strings.Split(u.Path, "/") {
		if name, _, _ := strings.Cut(seg, ";"); name == "." || name == ".." {
			return "The URL path may not contain . or .. segments (also not with ;…): write the path it leads to."
		}
	}
	if strings.ContainsRune(u.Path, '\\') {
		return "The URL path may not contain a backslash: servers may read it as /."
	}
	raw := strings.ToLower(u.EscapedPath() + " " + u.RawPath)
	for _, esc := range traversalEscapes {
		if strings.Contains(raw, esc) {
			return "The URL path may not contain the escapes %2e, %2f or %5c (in any case): write the character itself, or the path it leads to."
		}
	}
	return ""
}

// originOf is scheme://host:port with the default port made explicit, so
// https://a and https://a:443 are the same origin. The redirect policy and
// the API base-URL check both use it.
func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + effectivePort(u)
}

// sameOrigin is originOf(a) == originOf(b) without building either: the
// base-URL check runs it on every request.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && effectivePort(a) == effectivePort(b)
}

// effectivePort is the URL's port, or its scheme's default (80, 443).
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch {
	case strings.EqualFold(u.Scheme, "http"):
		return "80"
	case strings.EqualFold(u.Scheme, "https"):
		return "443"
	}
	return ""
}
