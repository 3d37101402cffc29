// Package fakeprovider is a fake OAuth 2.0 provider for Airlock's tests, in
// the manner of net/http/httptest: New starts a real HTTP server on 127.0.0.1
// with an authorization endpoint, a token endpoint, a revocation endpoint
// (RFC 7009) and a protected API.
//
// It is the ruler the token engine is measured with, so it is strict where
// real providers are strict and quirky where Options ask for a real provider's
// quirk: one-time codes that a failed attempt burns, PKCE downgrade refusal,
// refresh-token rotation with reuse detection that revokes the whole chain,
// expiry decided by an injectable clock.
//
// Every method of Provider is safe for concurrent use. Values returned by the
// inspection methods (LastTokenRequest, IssuedAccessTokens …) contain secrets
// on purpose, so tests can assert on them and search storage and logs for
// leaks; they are copies and may be kept.
package fakeprovider

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Client authentication methods at the token and revocation endpoints.
const (
	ClientAuthBasic = "basic" // HTTP Basic, id and secret form-url-encoded first (RFC 6749 §2.3.1)
	ClientAuthBody  = "body"  // client_id and client_secret as request parameters
)

// Where the protected API looks for the access token (see SetAPIToken).
const (
	InHeader = "header"
	InQuery  = "query"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultAccessTTL    = time.Hour
	DefaultClientID     = "client-id"
	DefaultClientSecret = "client-secret"
	// CodeTTL is how long an authorization code can be exchanged.
	CodeTTL = 60 * time.Second
)

// Options configure a provider; the zero value is a standard, well-behaved
// provider: JSON answers, POST token endpoint, HTTP Basic client
// authentication, one-hour access tokens, non-rotating refresh tokens.
type Options struct {
	// AccessTTL is the lifetime of access tokens (default 1h). The tokens
	// expire after it even when OmitExpiresIn hides it from the client.
	AccessTTL time.Duration
	// OmitExpiresIn answers without expires_in.
	OmitExpiresIn bool
	// ExpiresInAsString answers "expires_in":"3600" instead of 3600.
	ExpiresInAsString bool
	// FormEncoded answers application/x-www-form-urlencoded instead of JSON,
	// whatever the Accept header says (GitHub does so without Accept).
	FormEncoded bool
	// RequireGET makes the token endpoint accept only GET with the
	// parameters in the query; POST then answers 405.
	RequireGET bool
	// ClientAuth is ClientAuthBasic (default) or ClientAuthBody; the other
	// method is refused with 401 invalid_client.
	ClientAuth string
	// RotateRefreshTokens makes every refresh issue a new refresh token and
	// mark the old one replaced; presenting a replaced one is answered with
	// invalid_grant and revokes the whole chain (RFC 9700 §4.14.2).
	RotateRefreshTokens bool
	// NoRefreshToken makes the authorization code grant issue no refresh
	// token.
	NoRefreshToken bool
	// Issuer, when set, is sent as iss in every authorization response
	// (RFC 9207).
	Issuer string
	// ClientID and ClientSecret are the only registered client (defaults
	// "client-id" and "client-secret").
	ClientID, ClientSecret string
	// Scope is the scope granted; empty grants the requested scope.
	Scope string
	// Clock decides every expiry (codes and access tokens); default
	// time.Now. Inject one to simulate a day in seconds. It is called with
	// the provider's lock held, so it must not call the Provider.
	Clock func() time.Time
	// RequirePKCE refuses an authorization request without an S256
	// code_challenge and a code exchange without a valid code_verifier.
	RequirePKCE bool
	// RefreshDelay is slept after a refresh is decided and before it is
	// answered: the rotation is already committed when the client waits,
	// as on a slow real server, which widens races in tests.
	RefreshDelay time.Duration
	// CodeDelay is slept after a code exchange is decided and before it is
	// answered, so tests can hold several callbacks inside their exchange.
	CodeDelay time.Duration
	// EchoCredentials makes the token and revocation endpoints refuse every
	// request with 401 invalid_client and an error_description quoting what
	// the client sent — its Authorization header and its parameters, secrets
	// included — as a debugging provider might: the test of what Airlock
	// lets reach its messages.
	EchoCredentials bool
	// ReuseGrace, with RotateRefreshTokens, accepts a replaced refresh token
	// again for this long after it was replaced (by Clock), as Okta's grace
	// period and Auth0's reuse interval do: a client that lost the answer
	// of a rotation can retry. After it, reuse revokes the chain.
	ReuseGrace time.Duration
}

// Provider is a running fake OAuth 2.0 provider. Create it with New and stop
// it with Close.
type Provider struct {
	srv       *httptest.Server
	opts      Options
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	accessTTL time.Duration
	pending   map[string]authRequest // approve-page requests by id
	codes     map[string]*authCode
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	chains    []*chain

	issuedAccess  []string
	issuedRefresh []string
	tokenReqs     []TokenRequest
	lastAPI       APIRequest
	revocations   []Revocation
	counts        counters

	tokenFail  tokenFailure
	fault      *Fault
	apiFail    statusFailure
	revokeFail statusFailure
	apiToken   apiTokenConfig
	redirects  map[string]string
}

type counters struct {
	token            int
	byGrant          map[string]int
	api              int
	revoke           int
	invalidGrants    int
	chainRevocations int
}

type tokenFailure struct {
	status int
	body   string
	n      int
}

type statusFailure struct {
	status int
	n      int
}

// New starts a provider on 127.0.0.1 (never on another interface, whatever
// the httptest flags say). It panics when Options.ClientAuth is not one of
// the known methods or no port can be had, as httptest.NewServer does.
func New(opts Options) *Provider {
	opts = withDefaults(opts)
	p := &Provider{
		opts:      opts,
		done:      make(chan struct{}),
		accessTTL: opts.AccessTTL,
		pending:   make(map[string]authRequest),
		codes:     make(map[string]*authCode),
		access:    make(map[string]*accessToken),
		refresh:   make(map[string]*refreshToken),
		counts:    counters{byGrant: make(map[string]int)},
		apiToken:  defaultAPIToken(),
		redirects: make(map[string]string),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fakeprovider: listen on 127.0.0.1: %v", err))
	}
	p.srv = httptest.NewUnstartedServer(p.routes())
	p.srv.Listener.Close()
	p.srv.Listener = l
	p.srv.Start()
	return p
}

func withDefaults(opts Options) Options {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.ClientAuth == "" {
		opts.ClientAuth = ClientAuthBasic
	}
	if opts.ClientAuth != ClientAuthBasic && opts.ClientAuth != ClientAuthBody {
		panic(fmt.Sprintf("fakeprovider: Options.ClientAuth %q: want %q or %q",
			opts.ClientAuth, ClientAuthBasic, ClientAuthBody))
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return opts
}

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", p.handleAuthorize)
	mux.HandleFunc("/authorize/decision", p.handleDecision)
	mux.HandleFunc("/token", p.handleToken)
	mux.HandleFunc("/revoke", p.handleRevoke)
	mux.HandleFunc("/api/", p.handleAPI)
	return mux
}

// Close stops the server, first cutting short any RefreshDelay in progress
// so that Close does not wait for it.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.srv.Close()
	})
}

// URL is the provider's base URL, http://127.0.0.1:port, without a slash.
func (p *Provider) URL() string { return p.srv.URL }

// AuthorizeURL is the authorization endpoint.
func (p *Provider) AuthorizeURL() string { return p.srv.URL + "/authorize" }

// TokenURL is the token endpoint.
func (p *Provider) TokenURL() string { return p.srv.URL + "/token" }

// RevokeURL is the revocation endpoint (RFC 7009).
func (p *Provider) RevokeURL() string { return p.srv.URL + "/revoke" }

// APIURL is the protected API's base, ending in a slash: every path below it
// answers.
func (p *Provider) APIURL() string { return p.srv.URL + "/api/" }

// Client is an http.Client for the provider's server, as httptest's.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// now reads the injected clock.
func (p *Provider) now() time.Time { return p.opts.Clock() }

// sleep waits d, or less when the provider is closed.
func (p *Provider) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.done:
	}
}

// randomValue is a fresh secret with a readable kind prefix, so a leak found
// in a log says what leaked.
func randomValue(kind string) string {
	return "fp_" + kind + "_" + rand.Text()
}
