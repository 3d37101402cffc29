// Package fakeidp is an OpenID Connect provider for tests, on a loopback
// httptest server: discovery, a JWKS with key rotation, an authorization
// endpoint (a sign-in page a browser can use, or one call for tests without
// one), a token endpoint that checks the client, the redirect URI and PKCE,
// and userinfo. ID tokens are really signed (ES256); Set changes how the
// provider behaves, so tests can make it answer the ways real providers go
// wrong (another audience or issuer, a stale nonce, an expired token, a key
// nobody published).
package fakeidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is someone who can sign in at the provider.
type User struct {
	Login   string // the name on the sign-in page and in Approve
	Subject string
	Email   string
	// Groups is the groups claim's value as sent: a string, a []string,
	// anything else (to test a malformed claim), or nil for no claim.
	Groups any
}

// Behaviour is what a test can change about the provider; Set changes it.
type Behaviour struct {
	// Issuer of the discovery document and of ID tokens ("": the URL).
	Issuer string
	// TokenIssuer, when set, is the iss of ID tokens only.
	TokenIssuer string
	// Audience of ID tokens ("": the client id).
	Audience any
	// GroupsClaim names the claim holding the groups (default "groups").
	GroupsClaim string
	// GroupsInUserinfo sends the groups from userinfo, not in the ID token.
	GroupsInUserinfo bool
	// Tamper changes an ID token's claims just before it is signed.
	Tamper func(claims map[string]any)
	// TokenTTL is the ID token's lifetime (0: 5 minutes).
	TokenTTL time.Duration
	// UserinfoSubject, when set, is the sub userinfo answers with.
	UserinfoSubject string
}

// Provider is the fake identity provider.
type Provider struct {
	srv          *httptest.Server
	clientID     string
	clientSecret string
	now          func() time.Time

	mu     sync.Mutex
	b      Behaviour
	users  map[string]User
	keys   []*jose.JSONWebKey // published, the first signs
	signer *jose.JSONWebKey
	codes  map[string]grant
	access map[string]User
	keySeq int

	// JWKSFetches counts requests for the key set.
	JWKSFetches atomic.Int64
	// TokenRequests counts requests to the token endpoint.
	TokenRequests atomic.Int64
}

type grant struct {
	user                       User
	redirect, challenge, nonce string
	clientID                   string
	expires                    time.Time
}

// New starts a provider for one client; now is its clock (nil: time.Now).
// It stops when the test ends (Close).
func New(clientID, clientSecret string, now func() time.Time, users ...User) *Provider {
	if now == nil {
		now = time.Now
	}
	p := &Provider{clientID: clientID, clientSecret: clientSecret, now: now, users: map[string]User{},
		codes: map[string]grant{}, access: map[string]User{}}
	for _, u := range users {
		p.users[u.Login] = u
	}
	p.RotateKey(false)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	return p
}

// URL is the provider's base URL, which is also its issuer by default.
func (p *Provider) URL() string { return p.srv.URL }

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// Set changes the provider's behaviour.
func (p *Provider) Set(f func(b *Behaviour)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.b)
}

// AddUser adds (or replaces) someone who can sign in.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Login] = u
}

// RotateKey makes a new signing key with a new key id and publishes it;
// keepOld keeps the previous keys in the key set too (a provider rolling
// over), otherwise only the new key is published.
func (p *Provider) RotateKey(keepOld bool) {
	k := p.newKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	if keepOld {
		p.keys = append([]*jose.JSONWebKey{k}, p.keys...)
	} else {
		p.keys = []*jose.JSONWebKey{k}
	}
	p.signer = k
}

// SignWithUnpublishedKey signs the next ID tokens with a key that is not in
// the key set, as a forger would.
func (p *Provider) SignWithUnpublishedKey() {
	k := p.newKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signer = k
}

func (p *Provider) newKey() *jose.JSONWebKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	p.mu.Lock()
	p.keySeq++
	kid := fmt.Sprintf("key-%d", p.keySeq)
	p.mu.Unlock()
	return &jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

func (p *Provider) issuer() string {
	if p.b.Issuer != "" {
		return p.b.Issuer
	}
	return p.srv.URL
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	iss := p.issuer()
	p.mu.Unlock()
	base := p.srv.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": iss, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
		"userinfo_endpoint": base + "/userinfo", "jwks_uri": base + "/jwks",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"}, "code_challenge_methods_supported": []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	p.JWKSFetches.Add(1)
	p.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

var signinPage = template.Must(template.New("signin").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Fake identity provider</title></head>
<body><h1>Fake identity provider</h1>
<form method="post" action="/authorize">
{{range $k, $v := .Query}}{{range $v}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
{{range .Users}}<button type="submit" name="login" value="{{.Login}}" id="login-{{.Login}}">Sign in as {{.Login}}</button>
{{end}}<button type="submit" name="deny" value="1" id="deny">Deny</button>
</form></body></html>`))

// authorize shows the sign-in page (GET without login), or signs a user in
// and sends the browser back with a code (login=…), or refuses (deny=1).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	q := r.Form
	if q.Get("client_id") != p.clientID || q.Get("response_type") != "code" || q.Get("redirect_uri") == "" {
		http.Error(w, "unknown client, or no redirect_uri, or response_type is not code", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE (S256) is required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	users := make([]User, 0, len(p.users))
	for _, u := range p.users {
		users = append(users, u)
	}
	u, known := p.users[q.Get("login")]
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("state", q.Get("state"))
	switch {
	case q.Get("deny") != "":
		bq.Set("error", "access_denied")
		bq.Set("error_description", "The user said no.")
	case !known:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		signinPage.Execute(w, map[string]any{"Query": stripLogin(q), "Users": users})
		return
	default:
		code := token(24)
		p.mu.Lock()
		p.codes[code] = grant{user: u, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), clientID: q.Get("client_id"), expires: p.now().Add(time.Minute)}
		p.mu.Unlock()
		bq.Set("code", code)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

func stripLogin(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != "login" && k != "deny" {
			out[k] = v
		}
	}
	return out
}

// Approve signs login in for an authorization URL, as the sign-in page
// would, and returns where the provider sends the browser back.
func (p *Provider) Approve(authURL, login string) (string, error) {
	return p.answer(authURL, url.Values{"login": {login}})
}

// Deny refuses an authorization URL, as a user pressing "Deny" would.
func (p *Provider) Deny(authURL string) (string, error) {
	return p.answer(authURL, url.Values{"deny": {"1"}})
}

func (p *Provider) answer(authURL string, extra url.Values) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u.String())
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("fakeidp: authorize answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}
