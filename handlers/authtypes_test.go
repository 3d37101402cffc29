package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/store"
)

// fakeCredAPI is an API that takes api tokens, HTTP Basic or tokens from its
// own custom token endpoint (POST /auth/token, JSON or form).
type fakeCredAPI struct {
	srv *httptest.Server
	mu  sync.Mutex
	// accept is what the API takes: the Authorization or X-Api-Key header
	// value, or the api_key query value.
	accept    string
	fetches   []string // bodies the token endpoint received
	fetchCT   []string
	issued    int
	tokenTTL  int
	refuseKey bool
	lastSeen  string
}

func newFakeCredAPI(t *testing.T) *fakeCredAPI {
	f := &fakeCredAPI{tokenTTL: 3600}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCredAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/auth/token" {
		b, _ := io.ReadAll(r.Body)
		f.fetches, f.fetchCT = append(f.fetches, string(b)), append(f.fetchCT, r.Header.Get("Content-Type"))
		if f.refuseKey {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"bad key"}`)
			return
		}
		f.issued++
		f.accept = fmt.Sprintf("Bearer ct-token-%d", f.issued)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":{"token":"ct-token-%d","ttl":%d}}`, f.issued, f.tokenTTL)
		return
	}
	seen := r.Header.Get("Authorization")
	if v := r.Header.Get("X-Api-Key"); v != "" {
		seen = v
	}
	if v := r.URL.Query().Get("api_key"); v != "" {
		seen = v
	}
	f.lastSeen = seen
	if seen != f.accept {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, `{"ok":true}`)
}

func (f *fakeCredAPI) set(fn func(f *fakeCredAPI)) { f.mu.Lock(); fn(f); f.mu.Unlock() }
func (f *fakeCredAPI) seen() string                { f.mu.Lock(); defer f.mu.Unlock(); return f.lastSeen }

// credAccount is the account JSON the tests read.
type credAccount struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	LastError   *string           `json:"last_error"`
	Credentials map[string]string `json:"credentials"`
}

func decodeCredAccount(t *testing.T, r response) credAccount {
	t.Helper()
	var a credAccount
	if err := json.Unmarshal([]byte(r.body), &a); err != nil {
		t.Fatalf("decode account: %v in %s", err, r.body)
	}
	return a
}

// credIntegration creates an integration from JSON (admin) and an account
// with credentials (builder), and returns the account.
func credSetup(t *testing.T, ts *testServer, integration, account string) (credAccount, string) {
	t.Helper()
	admin, builder := ts.apiKey(store.RoleAdmin), ts.apiKey(store.RoleBuilder)
	if r := ts.api("POST", "/api/v1/integrations", admin, integration); r.status != http.StatusCreated {
		t.Fatalf("create integration: got %d %s", r.status, r.body)
	}
	var in struct{ Key string }
	json.Unmarshal([]byte(integration), &in)
	r := ts.api("POST", "/api/v1/integrations/"+in.Key+"/accounts", builder, account)
	if r.status != http.StatusCreated {
		t.Fatalf("create account: got %d %s", r.status, r.body)
	}
	return decodeCredAccount(t, r), builder
}

func credRequest(t *testing.T, ts *testServer, key, id, u string) (status int, body string) {
	t.Helper()
	r := ts.api("POST", "/api/v1/accounts/"+id+"/request", key, `{"url": "`+u+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("request: got %d %s", r.status, r.body)
	}
	var out requestOutput
	json.Unmarshal([]byte(r.body), &out)
	return out.Status, r.body
}

func accountStatus(t *testing.T, ts *testServer, key, id string) credAccount {
	t.Helper()
	return decodeCredAccount(t, ts.api("GET", "/api/v1/accounts/"+id, key, ""))
}

func TestAPITokenAccounts(t *testing.T) {
	for _, place := range []struct{ name, token, want string }{
		{"header", `{"name": "X-Api-Key", "template": "{token}", "in": "header"}`, "tok-abcdef-7890"},
		{"query", `{"name": "api_key", "template": "{token}", "in": "query"}`, "tok-abcdef-7890"},
		{"bearer default", `{}`, "Bearer tok-abcdef-7890"},
	} {
		t.Run(place.name, func(t *testing.T) {
			ts := newTestServer(t)
			f := newFakeCredAPI(t)
			f.set(func(f *fakeCredAPI) { f.accept = place.want })
			acct, key := credSetup(t, ts, `{"key": "tok", "name": "Tok", "auth_type": "api_token", "token": `+place.token+
				`, "api_base_urls": ["`+f.srv.URL+`/"]}`, `{"name": "prod", "credentials": {"token": "tok-abcdef-7890"}}`)
			if acct.Status != "connected" || acct.Credentials["token"] != "set, ends in …7890" {
				t.Fatalf("created: got %+v, want connected with a masked token", acct)
			}
			status, body := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me")
			if status != 200 || f.seen() != place.want {
				t.Errorf("request: got %d with %q, want 200 with %q", status, f.seen(), place.want)
			}
			if strings.Contains(body, "tok-abcdef-7890") {
				t.Errorf("the answer carries the token: %s", body)
			}
			// The API stops taking the token: no retry, the account goes to error.
			f.set(func(f *fakeCredAPI) { f.accept = "other" })
			if status, _ := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me"); status != 401 {
				t.Errorf("rejected: got %d, want 401", status)
			}
			got := accountStatus(t, ts, key, acct.ID)
			if got.Status != "error" || got.LastError == nil || !strings.Contains(*got.LastError, "rejected the credentials") {
				t.Errorf("after a rejection: got %+v, want error saying the credentials were rejected", got)
			}
			// And it recovers on the next success.
			f.set(func(f *fakeCredAPI) { f.accept = place.want })
			credRequest(t, ts, key, acct.ID, f.srv.URL+"/me")
			if got := accountStatus(t, ts, key, acct.ID); got.Status != "connected" {
				t.Errorf("after a success: got %+v, want connected", got)
			}
		})
	}
}

func TestBasicAccountsAndCredentialReplacement(t *testing.T) {
	ts := newTestServer(t)
	f := newFakeCredAPI(t)
	basic := func(u, p string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	f.set(func(f *fakeCredAPI) { f.accept = basic("ann", "pa:ss-word-1") })
	acct, key := credSetup(t, ts, `{"key": "bas", "name": "Bas", "auth_type": "basic", "api_base_urls": ["`+f.srv.URL+`/"]}`,
		`{"name": "prod", "credentials": {"username": "ann", "password": "pa:ss-word-1"}}`)
	if acct.Status != "connected" || acct.Credentials["username"] != "ann" || acct.Credentials["password"] != "set, ends in …rd-1" {
		t.Fatalf("created: got %+v", acct)
	}
	if status, _ := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me"); status != 200 {
		t.Errorf("request: got %d with %q", status, f.seen())
	}
	for _, tt := range []struct{ name, body, path string }{
		{"missing", `{"credentials": {"username": "ann"}}`, "credentials.password"},
		{"unknown", `{"credentials": {"username": "ann", "password": "x", "otp": "1"}}`, "credentials.otp"},
	} {
		r := ts.api("PUT", "/api/v1/accounts/"+acct.ID+"/credentials", key, tt.body)
		if e, ok := apiErrorOf(r.body); r.status != 422 || !ok || e.Fields[tt.path] == "" {
			t.Errorf("%s: got %d %s, want 422 naming %s", tt.name, r.status, r.body, tt.path)
		}
	}
	f.set(func(f *fakeCredAPI) { f.accept = basic("bob", "second-secret") })
	r := ts.api("PUT", "/api/v1/accounts/"+acct.ID+"/credentials", key, `{"credentials": {"username": "bob", "password": "second-secret"}}`)
	if got := decodeCredAccount(t, r); r.status != 200 || got.Status != "connected" || got.Credentials["username"] != "bob" {
		t.Fatalf("replace: got %d %s", r.status, r.body)
	}
	if status, _ := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me"); status != 200 {
		t.Errorf("after replacing: got %d with %q", status, f.seen())
	}
	if r := ts.api("PUT", "/api/v1/accounts/"+acct.ID+"/credentials", ts.apiKey(store.RoleViewer), `{"credentials": {}}`); r.status != http.StatusForbidden {
		t.Errorf("viewer: got %d, want 403", r.status)
	}
	if r := ts.api("POST", "/api/v1/integrations/bas/accounts", key, `{"name": "x"}`); r.status != 422 {
		t.Errorf("no credentials: got %d %s, want 422", r.status, r.body)
	}
}

func customIntegrationJSON(f *fakeCredAPI, format, body, ct string) string {
	b, _ := json.Marshal(body)
	return `{"key": "cus", "name": "Cus", "auth_type": "custom_token", "parameters": [{"name": "team"}],
		"credential_fields": [{"name": "user", "label": "User"}, {"name": "api_key", "label": "API key", "secret": true}],
		"custom_token": {"method": "POST", "url": "` + f.srv.URL + `/auth/token", "headers": {"Content-Type": "` + ct + `"},
			"body": ` + string(b) + `, "body_format": "` + format + `",
			"response": {"token": "data.token", "expires_in": "data.ttl"}, "default_ttl_seconds": 600},
		"api_base_urls": ["` + f.srv.URL + `/"]}`
}

func TestCustomTokenAccounts(t *testing.T) {
	for _, tt := range []struct{ format, body, ct, want string }{
		{"json", `{"user":"{user}","key":"{api_key}","team":"{team}","literal":{"x":"{y}"}}`, "application/json",
			`{"user":"ann \"a\"","key":"k\u0026ey-5678","team":"blue","literal":{"x":"{y}"}}`},
		{"form", `user={user}&key={api_key}&team={team}`, "application/x-www-form-urlencoded",
			`user=ann+%22a%22&key=k%26ey-5678&team=blue`},
	} {
		t.Run(tt.format, func(t *testing.T) {
			ts := newTestServer(t)
			f := newFakeCredAPI(t)
			acct, key := credSetup(t, ts, customIntegrationJSON(f, tt.format, tt.body, tt.ct),
				`{"name": "prod", "parameters": {"team": "blue"}, "credentials": {"user": "ann \"a\"", "api_key": "k&ey-5678"}}`)
			if acct.Status != "connected" || acct.Credentials["api_key"] != "set, ends in …5678" {
				t.Fatalf("created: got %+v", acct)
			}
			if len(f.fetches) != 1 || f.fetches[0] != tt.want || f.fetchCT[0] != tt.ct {
				t.Fatalf("token request: got %q (%v), want %q", f.fetches, f.fetchCT, tt.want)
			}
			if status, _ := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me"); status != 200 || f.seen() != "Bearer ct-token-1" {
				t.Errorf("request: got %d with %q", status, f.seen())
			}
			// Past its expiry the token is fetched again before the request.
			ts.clock.Add(time.Hour + time.Minute)
			if status, body := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me"); status != 200 || f.seen() != "Bearer ct-token-2" {
				t.Errorf("after expiry: got %d with %q: %s", status, f.seen(), body)
			}
			// A rejected token is fetched again and the request retried.
			f.set(func(f *fakeCredAPI) { f.accept = "revoked" })
			status, body := credRequest(t, ts, key, acct.ID, f.srv.URL+"/me")
			if status != 200 || f.seen() != "Bearer ct-token-3" || !strings.Contains(body, `"refresh_reason":"rejected"`) {
				t.Errorf("after a rejection: got %d with %q: %s", status, f.seen(), body)
			}
		})
	}
}

func TestCustomTokenFailedFetch(t *testing.T) {
	ts := newTestServer(t)
	f := newFakeCredAPI(t)
	f.set(func(f *fakeCredAPI) { f.refuseKey = true })
	acct, key := credSetup(t, ts, customIntegrationJSON(f, "json", `{"k":"{api_key}"}`, "application/json"),
		`{"name": "prod", "parameters": {"team": "blue"}, "credentials": {"user": "ann", "api_key": "wrong-key-0000"}}`)
	if acct.Status != "error" || acct.LastError == nil || !strings.Contains(*acct.LastError, "401") {
		t.Fatalf("created with a refused key: got %+v, want error naming the 401", acct)
	}
	f.set(func(f *fakeCredAPI) { f.refuseKey = false })
	r := ts.api("PUT", "/api/v1/accounts/"+acct.ID+"/credentials", key, `{"credentials": {"user": "ann", "api_key": "right-key-1111"}}`)
	if got := decodeCredAccount(t, r); got.Status != "connected" {
		t.Errorf("after replacing: got %d %s, want connected", r.status, r.body)
	}
}

func TestCredentialIntegrationsExportCarryTypeNotCredentials(t *testing.T) {
	ts := newTestServer(t)
	f := newFakeCredAPI(t)
	credSetup(t, ts, customIntegrationJSON(f, "json", `{"k":"{api_key}"}`, "application/json"),
		`{"name": "prod", "parameters": {"team": "blue"}, "credentials": {"user": "ann", "api_key": "export-secret-9999"}}`)
	admin := ts.signedIn(store.RoleAdmin)
	r := admin.get("/integrations/cus/export")
	for _, want := range []string{`"auth_type": "custom_token"`, `"credential_fields"`, `"data.token"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("export: got %d %s, want it to carry %s", r.status, r.body, want)
		}
	}
	if strings.Contains(r.body, "export-secret") || strings.Contains(r.body, `"oauth2"`) {
		t.Errorf("export carries a credential or an oauth2 object: %s", r.body)
	}
	// The export imports as a new integration of the same type.
	imported := strings.Replace(r.body, `"key": "cus"`, `"key": "cus2"`, 1)
	if got := ts.api("POST", "/api/v1/integrations", ts.apiKey(store.RoleAdmin), imported); got.status != http.StatusCreated || !strings.Contains(got.body, `"auth_type":"custom_token"`) {
		t.Errorf("import: got %d %s", got.status, got.body)
	}
}
