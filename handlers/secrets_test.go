package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// captureLog keeps every response body a test server's helpers read, so a
// test can search them all for leaked secrets afterwards.
type captureLog struct {
	mu     sync.Mutex
	bodies []capturedBody
}

type capturedBody struct {
	method, path string
	body         []byte
}

func (l *captureLog) add(method, path string, body []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bodies = append(l.bodies, capturedBody{method: method, path: path, body: body})
}

func (l *captureLog) all() []capturedBody {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]capturedBody(nil), l.bodies...)
}

// tokenRoute is the one response allowed to carry a token.
func tokenRoute(method, path string) bool {
	return method == http.MethodGet && strings.HasPrefix(path, "/api/v1/accounts/") && strings.HasSuffix(path, "/token")
}

// TestSecretsNeverLeak runs the flows that handle secrets — integrations with
// client secrets through the API, the form and the import; connections by
// authorization code (console and connect link) and client credentials;
// refreshes, requests, rejections, revocations, disconnects, a webhook URL
// holding tokens and its failed deliveries — visits every
// page that shows an account or an integration, then searches every response
// (but the token API's), the log and the SQLite files for each client secret,
// access token and refresh token: none may appear.
func TestSecretsNeverLeak(t *testing.T) {
	ts := newTestServer(t)
	secret := "cs-provider-" + randomToken()
	r := &secretsRun{t: t, ts: ts, admin: ts.signedIn(store.RoleAdmin), key: ts.apiKey(store.RoleAdmin), secrets: []string{secret},
		p: ts.provider(fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true, ClientSecret: secret})}
	r.integrations(secret)
	r.webhook()
	ids := r.accounts()
	r.use(ids)
	r.tracesWritten(ids[0])
	ts.drain(2) // the alerts of the revoked accounts fail to deliver: their errors name the URL
	if ds, _ := ts.store.ListDeliveries(context.Background(), 10); len(ds) == 0 || ds[0].LastError == "" {
		t.Fatalf("deliveries: got %+v, want failed ones whose errors the scan searches", ds)
	}
	r.credentials()
	r.visit(ids)
	// Disconnect (revoking) and delete.
	ts.api("POST", "/api/v1/accounts/"+ids[2]+"/disconnect", r.key, "")
	r.admin.post("/accounts/"+ids[0]+"/disconnect", nil)
	ts.api("DELETE", "/api/v1/integrations/code", r.key, "")
	ts.activity.Flush(context.Background())
	r.scan()
}

// tracesWritten fails unless the flows left traces of every kind the scan
// must cover, on the account connected through the console.
func (r *secretsRun) tracesWritten(id string) {
	r.t.Helper()
	if err := r.ts.mgr.Wait(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	list, _, err := r.ts.store.ListTraces(context.Background(), id, 100, "")
	kinds := map[string]bool{}
	for _, tr := range list {
		kinds[tr.Kind] = true
	}
	for _, k := range []string{oauthflow.TraceConnect, oauthflow.TraceRefresh, oauthflow.TraceTestRequest, oauthflow.TraceHealthCheck} {
		if !kinds[k] {
			r.t.Errorf("traces of the scanned flows: got kinds %v (%v), want %s among them: the scan would not cover it", kinds, err, k)
		}
	}
	// Every way a trace is read is a response the scan searches: the API's
	// list and trace, the console's trace page and its JSON download.
	if got := r.ts.api("GET", "/api/v1/accounts/"+id+"/traces?limit=100", r.key, ""); got.status != http.StatusOK {
		r.t.Errorf("trace list: got %d", got.status)
	}
	for _, tr := range list {
		tid := strconv.FormatInt(tr.ID, 10)
		if got := r.ts.api("GET", "/api/v1/traces/"+tid, r.key, ""); got.status != http.StatusOK {
			r.t.Errorf("trace %s: got %d", tid, got.status)
		}
		for _, page := range []string{"/accounts/" + id + "/traces/" + tid, "/accounts/" + id + "/traces/" + tid + "/json"} {
			if got := r.admin.get(page); got.status != http.StatusOK {
				r.t.Errorf("%s: got %d", page, got.status)
			}
		}
	}
}

// secretsRun is one run of TestSecretsNeverLeak and the secrets it used.
type secretsRun struct {
	t       *testing.T
	ts      *testServer
	p       *fakeprovider.Provider
	admin   *client
	key     string
	secrets []string
}

// newSecret is a client secret for an integration that never connects.
func (r *secretsRun) newSecret(what string) string {
	s := "cs-" + what + "-" + randomToken()
	r.secrets = append(r.secrets, s)
	return s
}

// integrations creates them through the form (a failed save first, full
// page and htmx), the API, the import (and a refused one), and changes a
// secret with a PUT and an edit: "code" and "machine" use the provider's
// secret, the others a secret of their own.
func (r *secretsRun) integrations(secret string) {
	t, ts, admin := r.t, r.ts, r.admin
	code := secretsIntegration(r.p, "code", oauthflow.GrantAuthorizationCode)
	bad := code
	bad.Key = "new" // reserved: the form comes back with the secret typed
	admin.get("/integrations/new")
	if got := admin.post("/integrations", integrationForm(bad, secret)); got.status != http.StatusUnprocessableEntity {
		t.Fatalf("form with a reserved key: got %d, want 422", got.status)
	}
	admin.post("/integrations", integrationForm(bad, secret), "HX-Request", "true")
	if got := admin.post("/integrations", integrationForm(code, secret)); got.status != http.StatusSeeOther {
		t.Fatalf("form create: got %d\n%s", got.status, got.body)
	}
	machine := secretsIntegration(r.p, "machine", oauthflow.GrantClientCredentials)
	if got := ts.api("POST", "/api/v1/integrations", r.key, integrationJSON(t, machine, secret)); got.status != http.StatusCreated {
		t.Fatalf("API create: got %d %s", got.status, got.body)
	}
	decoy := secretsIntegration(r.p, "decoy", oauthflow.GrantAuthorizationCode)
	ts.api("POST", "/api/v1/integrations", r.key, integrationJSON(t, decoy, r.newSecret("api")))
	ts.api("PUT", "/api/v1/integrations/decoy", r.key, integrationJSON(t, decoy, r.newSecret("put")))
	admin.get("/integrations/decoy/edit")
	admin.post("/integrations/decoy", integrationForm(decoy, r.newSecret("edit")))
	imported := secretsIntegration(r.p, "imported", oauthflow.GrantAuthorizationCode)
	admin.get("/integrations/import")
	admin.post("/integrations/import", url.Values{"json": {integrationJSON(t, imported, r.newSecret("import"))}})
	imported.Key = "new" // refused: the import page shows the pasted JSON again
	admin.post("/integrations/import", url.Values{"json": {integrationJSON(t, imported, r.newSecret("refused-import"))}})
}

// webhook sets a webhook URL whose path and query hold tokens, through the
// console (a refused save first); deliveries to it fail (nothing listens).
func (r *secretsRun) webhook() {
	path, query := "hookpath-"+randomToken()[:16], "hookquery-"+randomToken()[:16]
	r.secrets = append(r.secrets, path, query)
	r.admin.post("/settings/webhook", url.Values{"url": {"ftp://127.0.0.1:1/" + path + "?token=" + query}})
	if got := r.admin.post("/settings/webhook", url.Values{"url": {"http://127.0.0.1:1/hooks/" + path + "?token=" + query}}); got.status != http.StatusSeeOther {
		r.t.Fatalf("save the webhook URL: got %d", got.status)
	}
}

// accounts connects one account through the console, one through a connect
// link and one by client credentials, and returns their ids in that order.
func (r *secretsRun) accounts() []string {
	t, ts, p := r.t, r.ts, r.p
	console := ts.account(ts.getIntegration("code"), "console", nil)
	cb, err := p.Approve(r.admin.startConnect(t, console.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.admin.follow(t, cb); got.status != http.StatusSeeOther {
		t.Fatalf("callback: got %d %s", got.status, got.body)
	}
	var linked accountJSON
	json.Unmarshal([]byte(ts.api("POST", "/api/v1/integrations/code/accounts", r.key, `{"name": "linked"}`).body), &linked)
	owner := ts.newClient()
	open := owner.follow(t, *linked.ConnectURL)
	if cb, err = p.Approve(open.header.Get("Location")); err != nil {
		t.Fatal(err)
	}
	owner.follow(t, cb)
	var m2m accountJSON
	json.Unmarshal([]byte(ts.api("POST", "/api/v1/integrations/machine/accounts", r.key, `{"name": "m2m"}`).body), &m2m)
	if m2m.Status != oauthflow.StatusConnected {
		t.Fatalf("client credentials account: got %s, want connected", m2m.Status)
	}
	return []string{console.ID, linked.ID, m2m.ID}
}

// use refreshes (API, console, htmx), sends requests (API, console, htmx),
// has one rejected, runs the health check and reads the token API; then the
// user revokes access at the provider and a refresh and a request fail.
func (r *secretsRun) use(ids []string) {
	t, ts, admin, api := r.t, r.ts, r.admin, r.p.APIURL()
	for _, id := range ids {
		ts.api("POST", "/api/v1/accounts/"+id+"/refresh", r.key, "")
		admin.get("/accounts/" + id)
		admin.post("/accounts/"+id+"/refresh", nil)
		admin.post("/accounts/"+id+"/refresh", nil, "HX-Request", "true")
		ts.api("POST", "/api/v1/accounts/"+id+"/request", r.key, `{"url": "`+api+`me", "headers": {"X-Trace": "t"}}`)
		r.p.FailNextAPI(401, 1)
		ts.api("POST", "/api/v1/accounts/"+id+"/request", r.key, `{"url": "`+api+`me"}`)
		admin.post("/accounts/"+id+"/request", url.Values{"method": {"GET"}, "url": {api + "me"}, "header_name": {"Accept"}, "header_value": {"application/json"}})
		admin.post("/accounts/"+id+"/request", url.Values{"method": {"GET"}, "url": {api + "me"}}, "HX-Request", "true")
		admin.post("/accounts/"+id+"/check", nil)
		if got := ts.api("GET", "/api/v1/accounts/"+id+"/token", r.key, ""); !strings.Contains(got.body, "fp_at_") {
			t.Errorf("token API: got %d %s, want an access token (the one answer allowed to carry one)", got.status, got.body)
		}
		ts.clock.Add(40 * time.Minute) // inside the 30 min window: the next use refreshes
	}
	r.p.RevokeAll()
	ts.api("POST", "/api/v1/accounts/"+ids[1]+"/refresh", r.key, "")
	ts.api("POST", "/api/v1/accounts/"+ids[0]+"/request", r.key, `{"url": "`+api+`me"}`)
	ts.activity.Flush(context.Background())
}

// credentials creates an api_token, a basic and a custom_token integration
// with an account each (issue 17), uses them, has one rejected, replaces
// their credentials and reads their pages: the credentials join the secrets.
func (r *secretsRun) credentials() {
	t, ts := r.t, r.ts
	f := newFakeCredAPI(t)
	token, password, apiKey := "tok-"+randomToken(), "pw-"+randomToken(), "key-"+randomToken()
	r.secrets = append(r.secrets, token, password, apiKey, base64.StdEncoding.EncodeToString([]byte("ann:"+password)))
	bases := `"api_base_urls": ["` + f.srv.URL + `/"]`
	for _, c := range []struct{ integration, account string }{
		{`{"key": "sectok", "name": "T", "auth_type": "api_token", "token": {"name": "X-Api-Key", "template": "{token}"}, ` + bases + `}`,
			`{"name": "t", "credentials": {"token": "` + token + `"}}`},
		{`{"key": "secbas", "name": "B", "auth_type": "basic", ` + bases + `}`,
			`{"name": "b", "credentials": {"username": "ann", "password": "` + password + `"}}`},
		{customIntegrationJSON(f, "json", `{"key":"{api_key}"}`, "application/json"),
			`{"name": "c", "parameters": {"team": "x"}, "credentials": {"user": "ann", "api_key": "` + apiKey + `"}}`},
	} {
		if got := ts.api("POST", "/api/v1/integrations", r.key, c.integration); got.status != http.StatusCreated {
			t.Fatalf("create integration: got %d %s", got.status, got.body)
		}
		var in struct{ Key string }
		json.Unmarshal([]byte(c.integration), &in)
		got := ts.api("POST", "/api/v1/integrations/"+in.Key+"/accounts", r.key, c.account)
		var a accountJSON
		json.Unmarshal([]byte(got.body), &a)
		ts.api("POST", "/api/v1/accounts/"+a.ID+"/request", r.key, `{"url": "`+f.srv.URL+`/me"}`)
		r.admin.post("/accounts/"+a.ID+"/request", url.Values{"method": {"GET"}, "url": {f.srv.URL + "/me"}})
		var body struct {
			Credentials map[string]string `json:"credentials"`
		}
		json.Unmarshal([]byte(c.account), &body)
		put, _ := json.Marshal(body)
		ts.api("PUT", "/api/v1/accounts/"+a.ID+"/credentials", r.key, string(put))
		if a.Status != oauthflow.StatusConnected {
			t.Errorf("credential account %s: got %d %s, want connected", in.Key, got.status, got.body)
		}
		r.admin.get("/accounts/" + a.ID)
		ts.api("GET", "/api/v1/accounts/"+a.ID, r.key, "")
		r.admin.get("/integrations/" + in.Key + "/export")
	}
}

// visit reads every page and API answer that shows an account or an
// integration.
func (r *secretsRun) visit(ids []string) {
	for _, path := range []string{"/", "/accounts", "/activity", "/integrations", "/integrations/code", "/integrations/code/edit",
		"/integrations/code/export", "/integrations/machine", "/integrations/decoy/edit", "/settings", "/metrics",
		"/accounts/" + ids[0], "/accounts/" + ids[1], "/accounts/" + ids[2], "/accounts/" + ids[2] + "/edit"} {
		if got := r.admin.get(path); got.status != http.StatusOK {
			r.t.Errorf("GET %s: got %d", path, got.status)
		}
	}
	for _, path := range []string{"/api/v1/integrations", "/api/v1/integrations/code", "/api/v1/integrations/code/accounts",
		"/api/v1/accounts/" + ids[0], "/api/v1/accounts/" + ids[2]} {
		r.ts.api("GET", path, r.key, "")
	}
}

// scan searches every captured response but the token API's, the log and
// the database files for every client secret, access and refresh token.
func (r *secretsRun) scan() {
	t, ts := r.t, r.ts
	access, refresh := r.p.IssuedAccessTokens(), r.p.IssuedRefreshTokens()
	if len(access) < 10 || len(refresh) < 5 {
		t.Fatalf("the flows issued %d access and %d refresh tokens: too few to mean anything", len(access), len(refresh))
	}
	secrets := append(append(r.secrets, access...), refresh...)
	haystacks := map[string][]byte{"the log": []byte(ts.logs.String())}
	bodies := 0
	for i, b := range ts.captured.all() {
		if tokenRoute(b.method, b.path) {
			continue
		}
		bodies++
		haystacks[b.method+" "+b.path+" (response "+strconvFormat(int64(i))+")"] = b.body
	}
	// Every committed transaction is in the database file or its WAL, so
	// they can be read while the store is open.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(ts.store.Path() + suffix); err == nil {
			haystacks["the database file "+filepath.Base(ts.store.Path())+suffix] = b
		}
	}
	if db := haystacks["the database file airlock.db"]; bodies < 60 || len(db) == 0 {
		t.Fatalf("searched %d responses and a database of %d bytes: the flows did not run", bodies, len(db))
	}
	for _, s := range secrets {
		for where, b := range haystacks {
			if strings.Contains(string(b), s) {
				t.Errorf("%s contains the secret %s…", where, s[:12])
			}
		}
	}
}

// secretsIntegration is an integration of kind grant on provider p.
func secretsIntegration(p *fakeprovider.Provider, key, grant string) oauthflow.Integration {
	in := oauthflow.Integration{Key: key, Name: "Secrets " + key,
		OAuth2: oauthflow.OAuth2{GrantType: grant, TokenURL: p.TokenURL(), TokenMethod: "POST", RevokeURL: p.RevokeURL(),
			Scope: "read", ClientID: fakeprovider.DefaultClientID, ClientAuth: oauthflow.ClientAuthBasic, PKCE: true,
			RefreshWindowSeconds: 1800, RejectedStatuses: []int{401, 403}},
		Token:       oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: oauthflow.InHeader},
		APIBaseURLs: []string{p.APIURL()},
		HealthCheck: &oauthflow.HealthCheck{Method: "GET", URL: p.APIURL() + "health", ExpectStatus: 200},
	}
	if grant == oauthflow.GrantAuthorizationCode {
		in.OAuth2.AuthorizationURL = p.AuthorizeURL()
	}
	return in
}
