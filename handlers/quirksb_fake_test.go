package handlers

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// quirkFakeB is a provider that behaves like the real ones issue 14 part B
// is about, by configuration: extra values on the callback (Zoho's
// accounts-server, QuickBooks' realmId), extra fields in the token answer
// (Salesforce's instance_url, an id_token), no expires_in, rotating refresh
// tokens, a userinfo endpoint, and an API that checks the bearer token and
// the path. Everything it receives is counted.
type quirkFakeB struct {
	srv            *httptest.Server
	now            func() time.Time
	mu             sync.Mutex
	user           string            // who signs in next (sub, user id)
	callbackExtra  func() url.Values // added to the redirect to the callback
	tokenExtra     func() map[string]any
	noExpiresIn    bool
	rotate         bool
	scope          string // granted scope; "" echoes the requested one
	access         map[string]bool
	refresh        map[string]string // live refresh token → user
	codes          map[string]string // code → user
	revoked        []string
	tokenCalls     int
	refreshCalls   int
	apiCalls       int
	apiPaths       []string
	userinfoCalls  int
	counter        int
	requestedScope string
	// check, when set, decides which access tokens the API accepts (an
	// instance server trusting its login server's tokens).
	check func(string) bool
}

// newQuirkFakeB starts a fake on addr (127.0.0.1:0 unless given).
func newQuirkFakeB(t *testing.T, now func() time.Time, addr string) *quirkFakeB {
	t.Helper()
	f := &quirkFakeB{now: now, user: "user-1", access: map[string]bool{}, refresh: map[string]string{}, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", f.authorize)
	mux.HandleFunc("/token", f.token)
	mux.HandleFunc("/revoke", f.revokeHandler)
	mux.HandleFunc("/userinfo", f.userinfo)
	mux.HandleFunc("/", f.api)
	f.srv = httptest.NewUnstartedServer(mux)
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		f.srv.Listener.Close()
		f.srv.Listener = l
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *quirkFakeB) URL() string { return f.srv.URL }

func (f *quirkFakeB) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.counter++
	code := fmt.Sprintf("code-%d", f.counter)
	f.codes[code] = f.user
	f.requestedScope = q.Get("scope")
	f.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}}
	if f.callbackExtra != nil {
		for k, v := range f.callbackExtra() {
			back[k] = v
		}
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (f *quirkFakeB) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	var user string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		u, ok := f.codes[r.PostForm.Get("code")]
		if !ok {
			writeJSONStatus(w, 400, map[string]any{"error": "invalid_grant"})
			return
		}
		delete(f.codes, r.PostForm.Get("code"))
		user = u
	case "refresh_token":
		f.refreshCalls++
		u, ok := f.refresh[r.PostForm.Get("refresh_token")]
		if !ok {
			writeJSONStatus(w, 400, map[string]any{"error": "invalid_grant"})
			return
		}
		if f.rotate {
			delete(f.refresh, r.PostForm.Get("refresh_token"))
		}
		user = u
	default:
		writeJSONStatus(w, 400, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	writeJSONStatus(w, 200, f.issue(user, r.PostForm.Get("grant_type") == "authorization_code" || f.rotate))
}

// issue makes a token answer for user; f.mu is held.
func (f *quirkFakeB) issue(user string, newRefresh bool) map[string]any {
	f.counter++
	at := fmt.Sprintf("at-%d-%s", f.counter, user)
	f.access[at] = true
	ans := map[string]any{"access_token": at, "token_type": "Bearer", "scope": f.grantedScope(),
		"id_token": fakeIDToken(user)}
	if !f.noExpiresIn {
		ans["expires_in"] = 3600
	}
	if newRefresh {
		rt := fmt.Sprintf("rt-%d-%s", f.counter, user)
		f.refresh[rt] = user
		ans["refresh_token"] = rt
	}
	if f.tokenExtra != nil {
		for k, v := range f.tokenExtra() {
			ans[k] = v
		}
	}
	return ans
}

func (f *quirkFakeB) grantedScope() string {
	if f.scope != "" {
		return f.scope
	}
	return f.requestedScope
}

func fakeIDToken(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iss": "fake"})
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + ".c2ln"
}

func (f *quirkFakeB) revokeHandler(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := r.PostForm.Get("token")
	f.revoked = append(f.revoked, tok)
	delete(f.access, tok)
	delete(f.refresh, tok)
	w.WriteHeader(200)
}

func (f *quirkFakeB) userinfo(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userinfoCalls++
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !f.access[at] {
		writeJSONStatus(w, 401, map[string]any{"error": "invalid_token"})
		return
	}
	_, user, _ := strings.Cut(strings.TrimPrefix(at, "at-"), "-")
	writeJSONStatus(w, 200, map[string]any{"user": map[string]any{"id": user}, "org": "org-9"})
}

func (f *quirkFakeB) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiCalls++
	f.apiPaths = append(f.apiPaths, r.URL.Path)
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if f.check != nil && !f.check(at) || f.check == nil && !f.access[at] {
		writeJSONStatus(w, 401, map[string]any{"error": "invalid_token"})
		return
	}
	writeJSONStatus(w, 200, map[string]any{"ok": true, "path": r.URL.Path, "user": userOf(at)})
}

// valid reports whether the fake issued at and it is still live.
func (f *quirkFakeB) valid(at string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.access[at]
}

// expireAll makes every access token issued so far invalid (the provider
// expired them early, as Salesforce does with its session timeout).
func (f *quirkFakeB) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access = map[string]bool{}
}

func (f *quirkFakeB) counts() (token, refresh, api, userinfo int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.refreshCalls, f.apiCalls, f.userinfoCalls
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// userOf is who an access token of the fake was issued to.
func userOf(at string) string {
	_, user, _ := strings.Cut(strings.TrimPrefix(at, "at-"), "-")
	return user
}
