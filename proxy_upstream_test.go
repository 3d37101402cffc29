package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// proxyUpstream is the API and the token endpoint the proxy tests call, on
// 127.0.0.1: it accepts the access tokens it issued and not revoked, and
// tells what it received.
type proxyUpstream struct {
	srv     *httptest.Server
	mu      sync.Mutex
	valid   map[string]bool
	issued  int
	hits    map[string]int
	release chan struct{} // lets /api/sse send its second event
}

func newProxyUpstream(t *testing.T) *proxyUpstream {
	u := &proxyUpstream{valid: map[string]bool{}, hits: map[string]int{}, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", u.token)
	mux.HandleFunc("/api/", u.api)
	mux.HandleFunc("/slack/", u.slack)
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

// token refreshes: refresh token rt-X gives at-X-n, which the API accepts.
func (u *proxyUpstream) token(w http.ResponseWriter, r *http.Request) {
	rt := r.PostFormValue("refresh_token")
	if r.PostFormValue("grant_type") != "refresh_token" || !strings.HasPrefix(rt, "rt-") {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.issued++
	at := fmt.Sprintf("at-%s-%d", strings.TrimPrefix(rt, "rt-"), u.issued)
	u.valid[at] = true
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"refresh_token":%q}`, at, rt)
}

// revoke makes the API refuse every token issued for refresh token rt-name.
func (u *proxyUpstream) revoke(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for at := range u.valid {
		if strings.HasPrefix(at, "at-"+name+"-") {
			delete(u.valid, at)
		}
	}
}

func (u *proxyUpstream) refreshes() int { u.mu.Lock(); defer u.mu.Unlock(); return u.issued }
func (u *proxyUpstream) hitsOf(p string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[p]
}

// echoed is what /api/echo/ tells of the request it received.
type echoed struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

func (u *proxyUpstream) api(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u.mu.Lock()
	u.hits[r.URL.Path]++
	ok := u.valid[tok]
	u.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "upstream: token refused", http.StatusUnauthorized)
		return
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/api/echo/"):
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Connection", "X-Hop-Out")
		w.Header().Set("X-Hop-Out", "one hop only")
		w.Header().Set("Keep-Alive", "timeout=5")
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(max(status, 200))
		json.NewEncoder(w).Encode(echoed{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header, string(body)})
	case p == "/api/bytes":
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		io.Copy(w, io.LimitReader(pattern{}, n))
	case p == "/api/upload":
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"n":%d,"err":%q}`, n, fmt.Sprint(err))
	case p == "/api/sse":
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-u.release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	case p == "/api/redirect":
		http.Redirect(w, r, "/api/echo/after-redirect", http.StatusFound)
	case p == "/api/hang":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	default:
		http.NotFound(w, r)
	}
}

// slack answers as Slack's API does: 200 and {"ok":false} for a refused
// token, gzip-encoded when the caller accepts it.
func (u *proxyUpstream) slack(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u.mu.Lock()
	u.hits[r.URL.Path]++
	ok := u.valid[tok]
	u.mu.Unlock()
	body := fmt.Sprintf(`{"ok":%t,"error":"invalid_auth","pad":%q}`, ok, strings.Repeat("p", 4096))
	if ok {
		body = fmt.Sprintf(`{"ok":true,"token":%q}`, tok)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		io.WriteString(w, body)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	io.WriteString(zw, body)
	zw.Close()
}

// pattern is an endless reader of a repeating byte pattern.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return len(p), nil
}

// proxyFixture is a data dir with an integration on the upstream and its
// accounts, and a builder API key: ok (connected, token fresh), expiring
// (its token inside the refresh window), pending (never connected), dead
// (its base URL on a closed port).
type proxyFixture struct {
	up  *proxyUpstream
	dir string
	env map[string]string
	key string
	ids map[string]string
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	f := &proxyFixture{up: newProxyUpstream(t), dir: t.TempDir(), ids: map[string]string{}}
	enc := randomKey(t)
	ctx := context.Background()
	sealer, err := store.NewSealer(enc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(f.dir, "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := f.up.srv.URL
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // nothing listens there any more
	// "slack" answers a refused token as Slack does, 200 {"ok":false}: a
	// rejected_responses rule says so.
	slackRule := []oauthflow.RejectedRule{{BodyPath: "ok", Equals: "false"}}
	for _, spec := range []struct {
		key, api string
		rules    []oauthflow.RejectedRule
	}{{"px", base + "/api/", nil}, {"dead", deadURL + "/api/", nil}, {"slack", base + "/slack/", slackRule}} {
		in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: spec.key, Name: spec.key, RejectedResponses: spec.rules,
			Parameters: []oauthflow.Parameter{{Name: "tenant"}},
			OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: base + "/authorize",
				TokenURL: base + "/token", ClientID: "client", ClientSecret: "secret", ClientAuth: oauthflow.ClientAuthBasic},
			RequestParameters: []oauthflow.RequestParameter{{Name: "X-Tenant", Value: "{tenant}", In: oauthflow.InHeader},
				{Name: "v", Value: "2", In: oauthflow.InQuery}},
			APIBaseURLs: []string{spec.api}})
		if err != nil {
			t.Fatal(err)
		}
		f.seed(t, st, in, spec.key)
	}
	key, hash, last4 := store.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, "proxy test", store.RoleBuilder, hash, last4, "test"); err != nil {
		t.Fatal(err)
	}
	f.key = key
	f.env = map[string]string{"AIRLOCK_DATA_DIR": f.dir, "AIRLOCK_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(enc),
		"AIRLOCK_SESSION_KEY": base64.StdEncoding.EncodeToString(randomKey(t)), "AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true",
		"AIRLOCK_OUTBOUND_HEADER_TIMEOUT": "1s", "AIRLOCK_ACCESS_LOG": "false"}
	return f
}

// seed makes the accounts of one integration ("px": ok, expiring,
// pending; "dead": dead), their tokens valid at the upstream.
func (f *proxyFixture) seed(t *testing.T, st *store.Store, in oauthflow.Integration, key string) {
	ctx := context.Background()
	names := map[string]time.Duration{"ok": time.Hour, "expiring": 10 * time.Second, "pending": 0}
	if key != "px" {
		names = map[string]time.Duration{key: time.Hour}
	}
	for name, ttl := range names {
		row, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: name, Parameters: map[string]string{"tenant": "acme"}})
		if err != nil {
			t.Fatal(err)
		}
		f.ids[name] = row.ID
		if ttl == 0 {
			continue
		}
		at := "at-" + name + "-0"
		f.up.valid[at] = true
		tok := oauthflow.Token{AccessToken: at, RefreshToken: "rt-" + name, TokenType: "Bearer", Expiry: time.Now().Add(ttl),
			ObtainedAt: time.Now().Add(ttl - time.Hour), Endpoints: oauthflow.Endpoints{Token: in.OAuth2.TokenURL}}
		if _, err := st.SaveToken(ctx, row.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
			t.Fatal(err)
		}
	}
}

// call sends a request to Airlock with the key; body may be nil.
func (f *proxyFixture) call(t *testing.T, base, method, path string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if b, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(b.Len())
	}
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}
