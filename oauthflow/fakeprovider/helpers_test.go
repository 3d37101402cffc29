package fakeprovider_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
)

const redirectURI = "http://127.0.0.1:9/callback"

// fakeClock is an injectable clock for Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func start(t *testing.T, opts fakeprovider.Options) *fakeprovider.Provider {
	t.Helper()
	p := fakeprovider.New(opts)
	t.Cleanup(p.Close)
	return p
}

// client never follows redirects, as Airlock's token client must not.
var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	body   string
	fields map[string]any // decoded JSON object or form values
}

func (a answer) get(k string) string {
	v, ok := a.fields[k]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// do sends req. It reports a transport error with t.Errorf, not Fatalf, so
// that goroutines may call it; the zero status then fails the caller's check.
func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return answer{fields: map[string]any{}}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b), fields: map[string]any{}}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		_ = json.Unmarshal(b, &a.fields)
	case "application/x-www-form-urlencoded":
		v, _ := url.ParseQuery(string(b))
		for k := range v {
			a.fields[k] = v.Get(k)
		}
	}
	return a
}

// tokenCall describes a request to the token or revocation endpoint.
type tokenCall struct {
	method   string // default POST
	form     url.Values
	auth     string // "basic" (default), "body", "both", "none", "rawbasic" (Basic without form-url-encoding)
	id       string // default client-id
	secret   string // default client-secret
	endpoint string // default the token endpoint
}

func send(t *testing.T, p *fakeprovider.Provider, c tokenCall) answer {
	t.Helper()
	form := url.Values{}
	for k, vs := range c.form {
		form[k] = append([]string(nil), vs...)
	}
	id, secret := c.id, c.secret
	if id == "" {
		id = fakeprovider.DefaultClientID
	}
	if secret == "" {
		secret = fakeprovider.DefaultClientSecret
	}
	if c.auth == "body" || c.auth == "both" {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	endpoint := c.endpoint
	if endpoint == "" {
		endpoint = p.TokenURL()
	}
	var req *http.Request
	var err error
	if c.method == http.MethodGet {
		req, err = http.NewRequest(http.MethodGet, endpoint+"?"+form.Encode(), nil)
	} else {
		req, err = http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		t.Error(err)
		return answer{}
	}
	req.Header.Set("Accept", "application/json")
	switch c.auth {
	case "", "basic", "both":
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	case "rawbasic":
		req.SetBasicAuth(id, secret)
	}
	return do(t, req)
}

func pkcePair(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authURL builds an authorization URL; set overrides or, with "", deletes a parameter.
func authURL(p *fakeprovider.Provider, overrides map[string]string) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {fakeprovider.DefaultClientID},
		"redirect_uri":  {redirectURI},
		"scope":         {"read write"},
		"state":         {"state-123"},
	}
	for k, v := range overrides {
		if v == "" {
			q.Del(k)
			continue
		}
		q.Set(k, v)
	}
	return p.AuthorizeURL() + "?" + q.Encode()
}

// approveCode runs Approve with an S256 challenge and returns code and verifier.
func approveCode(t *testing.T, p *fakeprovider.Provider) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkcePair("verifier-")
	cb, err := p.Approve(authURL(p, map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}))
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if e := u.Query().Get("error"); e != "" {
		t.Fatalf("Approve redirected with error %q", e)
	}
	return u.Query().Get("code"), verifier
}

func exchangeForm(code, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

// connect runs the whole code flow and returns the token answer.
func connect(t *testing.T, p *fakeprovider.Provider, auth string) answer {
	t.Helper()
	code, verifier := approveCode(t, p)
	a := send(t, p, tokenCall{form: exchangeForm(code, verifier), auth: auth})
	if a.status != http.StatusOK {
		t.Fatalf("code exchange: got status %d (%s), want 200", a.status, a.body)
	}
	return a
}

func refresh(t *testing.T, p *fakeprovider.Provider, rt string) answer {
	t.Helper()
	return send(t, p, tokenCall{form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}})
}

func callAPI(t *testing.T, p *fakeprovider.Provider, tok string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.APIURL()+"me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return do(t, req)
}

func wantStatus(t *testing.T, what string, a answer, status int, errCode string) {
	t.Helper()
	if a.status != status || a.get("error") != errCode {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, a.status, a.get("error"), a.body, status, errCode)
	}
}
