package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// quirkFake is a small provider that departs from RFC 6749 the way one real
// provider does (issue 14): style is slack, notion, figma, marketo or github.
// It issues tokens on the test clock, answers /api/me as that provider would
// for a good or an expired token, and counts what it was sent.
type quirkFake struct {
	t     *testing.T
	style string
	srv   *httptest.Server
	now   func() time.Time
	ttl   time.Duration

	mu           sync.Mutex
	seq          int
	codes        map[string]bool
	access       map[string]time.Time // token → expiry
	refresh      map[string]bool      // refresh tokens still valid
	calls        map[string]int       // "/token refresh_token", "/refresh refresh_token", "/token authorization_code" …
	lastParams   map[string]map[string]string
	contentTypes map[string]bool
	reused       int // rotated-out refresh tokens sent again
}

func newQuirkFake(t *testing.T, style string, now func() time.Time, ttl time.Duration) *quirkFake {
	f := &quirkFake{t: t, style: style, now: now, ttl: ttl, codes: map[string]bool{}, access: map[string]time.Time{},
		refresh: map[string]bool{}, calls: map[string]int{}, lastParams: map[string]map[string]string{}, contentTypes: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", f.authorize)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /refresh", f.token)
	mux.HandleFunc("GET /api/me", f.api)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *quirkFake) url(path string) string { return f.srv.URL + path }

// authorize approves at once: back to the redirect URI with a code.
func (f *quirkFake) authorize(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	code := fmt.Sprintf("code-%d", f.seq)
	f.codes[code] = true
	f.mu.Unlock()
	q := r.URL.Query()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// params reads a token request: form, or JSON for the notion style (which
// refuses a form, as Notion does).
func (f *quirkFake) params(r *http.Request) (map[string]string, string) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	f.contentTypes[mt] = true
	out := map[string]string{}
	if f.style == "notion" {
		if mt != "application/json" {
			return nil, "notion wants a JSON body"
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, "body is not a JSON object of strings"
		}
		return out, ""
	}
	if err := r.ParseForm(); err != nil {
		return nil, err.Error()
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out, ""
}

func (f *quirkFake) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, bad := f.params(r)
	if bad != "" {
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": bad})
		return
	}
	grant := p["grant_type"]
	f.calls[r.URL.Path+" "+grant]++
	f.lastParams[grant] = p
	switch {
	case grant == "authorization_code" && f.codes[p["code"]]:
		delete(f.codes, p["code"])
	case grant == "refresh_token" && f.style == "figma" && r.URL.Path != "/refresh":
		writeJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "refresh at /refresh"})
		return
	case grant == "refresh_token" && f.refresh[p["refresh_token"]]:
		if f.style == "github" { // rotating: the old one is spent
			delete(f.refresh, p["refresh_token"])
		}
	case grant == "refresh_token":
		f.reused++
		writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
		return
	case grant == "client_credentials" && f.style == "marketo":
	default:
		writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
		return
	}
	writeJSON(w, 200, f.issue(grant, p["refresh_token"]))
}

// issue makes a token set and words it as the style's provider does.
func (f *quirkFake) issue(grant, oldRefresh string) map[string]any {
	f.seq++
	at := fmt.Sprintf("%s-at-%d", f.style, f.seq)
	rt := fmt.Sprintf("%s-rt-%d", f.style, f.seq)
	f.access[at] = f.now().Add(f.ttl)
	secs := int(f.ttl.Seconds())
	switch f.style {
	case "slack":
		f.refresh[rt] = true
		return map[string]any{"ok": true, "access_token": "xoxb-bot-not-for-users", "token_type": "bot",
			"authed_user": map[string]any{"access_token": at, "refresh_token": rt, "expires_in": fmt.Sprint(secs), "token_type": "user"}}
	case "marketo":
		return map[string]any{"access_token": at, "token_type": "bearer", "expires_in": secs, "scope": "api@example.com"}
	case "figma":
		if grant == "refresh_token" { // Figma's refresh answer has no refresh token
			return map[string]any{"access_token": at, "expires_in": secs}
		}
	case "github":
		f.refresh[rt] = true
		return map[string]any{"access_token": at, "expires_in": secs, "refresh_token": rt,
			"refresh_token_expires_in": 15897600, "token_type": "bearer", "scope": ""}
	}
	f.refresh[rt] = true
	return map[string]any{"access_token": at, "token_type": "bearer", "refresh_token": rt, "expires_in": secs}
}

// api answers /api/me; a token it does not know, or one past its expiry, is
// rejected the style's way.
func (f *quirkFake) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	exp, ok := f.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	f.mu.Unlock()
	if ok && f.now().Before(exp) {
		writeJSON(w, 200, map[string]any{"ok": true, "success": true, "user": "U1"})
		return
	}
	switch f.style {
	case "slack":
		writeJSON(w, 200, map[string]any{"ok": false, "error": "token_expired"})
	case "marketo":
		writeJSON(w, 200, map[string]any{"requestId": "e42b#14", "success": false, "errors": []any{map[string]any{"code": "602", "message": "Access token expired"}}})
	case "figma":
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="expired"`)
		writeJSON(w, 400, map[string]any{"status": 400, "err": "Token expired"})
	default:
		writeJSON(w, 401, map[string]any{"message": "Bad credentials"})
	}
}

// expireAll makes every access token it issued invalid at once, ahead of
// the expiry it announced: only the API's answer can tell Airlock.
func (f *quirkFake) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.access {
		f.access[k] = time.Time{}
	}
}

func (f *quirkFake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *quirkFake) paramsOf(grant string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastParams[grant]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
