package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store/pgtest"
)

// Helpers of the replica tests: several real airlock binaries (built with
// -tags faultinject, for the settable clock and the fault points) as
// separate processes on one PostgreSQL database, with the same keys and
// public URL, driven through their JSON API and a browser-like client.

// replicaBinary is the fault-injection binary every replica runs.
func replicaBinary(t *testing.T) string {
	t.Helper()
	return buildFaultBinary(t)
}

// replicaSet is one deployment of several replicas.
type replicaSet struct {
	t         *testing.T
	bin       string
	env       []string // every replica's settings but its address
	addrs     []string
	procs     []*airlockProc
	publicURL string
	provider  *fakeprovider.Provider
	offset    atomic.Int64 // the simulated clock's lead on real time, shared by the replicas and the provider
	// inflight counts requests sent through rs.request and not answered
	// yet: the clock may move only when there are none (advance, settle).
	inflight atomic.Int64
	adminKey string
	dbURL    string
	http     *http.Client
}

// newReplicaSet starts n replicas on a fresh database with a fake provider
// made from po (its clock is the set's). extra are settings for every
// replica ("AIRLOCK_X=v").
func newReplicaSet(t *testing.T, n int, po fakeprovider.Options, extra ...string) *replicaSet {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	rs := &replicaSet{t: t, dbURL: pgtest.Database(t), bin: replicaBinary(t),
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}}
	po.Clock = rs.now
	rs.provider = fakeprovider.New(po)
	t.Cleanup(rs.provider.Close)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "replicas"}, envMap(map[string]string{"AIRLOCK_DATABASE_URL": rs.dbURL}),
		nil, &out, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	rs.adminKey = strings.TrimSpace(out.String())
	for range n {
		rs.addrs = append(rs.addrs, freeAddr(t))
	}
	rs.publicURL = "http://" + rs.addrs[0] // one public URL for all, as behind a load balancer
	rs.env = append([]string{
		"AIRLOCK_DATABASE_URL=" + rs.dbURL,
		"AIRLOCK_DATA_DIR=" + filepath.Join(t.TempDir(), "data"),
		"AIRLOCK_PUBLIC_URL=" + rs.publicURL,
		"AIRLOCK_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(randomKey(t)),
		"AIRLOCK_SESSION_KEY=" + base64.StdEncoding.EncodeToString(randomKey(t)),
		"AIRLOCK_ALLOW_PRIVATE_NETWORKS=true", // the fake provider is on 127.0.0.1
		"AIRLOCK_ACCESS_LOG=false",
		"AIRLOCK_TEST_CLOCK=1",
	}, extra...)
	rs.procs = make([]*airlockProc, n)
	for i := range n {
		rs.start(i)
	}
	return rs
}

func (rs *replicaSet) now() time.Time { return time.Now().Add(time.Duration(rs.offset.Load())) }

// start (re)starts replica i with extra settings on top of the set's.
func (rs *replicaSet) start(i int, extra ...string) *airlockProc {
	rs.t.Helper()
	env := append(append(append([]string{}, rs.env...), "AIRLOCK_ADDR="+rs.addrs[i]), extra...)
	p := startProc(rs.t, rs.bin, env)
	rs.procs[i] = p
	rs.postClock(p)
	return p
}

// advance moves the simulated clock of every live replica and the provider.
// No request may be under way: one would start a refresh on one side of the
// jump and save it on the other (see settle).
func (rs *replicaSet) advance(d time.Duration) {
	rs.t.Helper()
	rs.quiet("advance the clock")
	rs.offset.Add(int64(d))
	for _, p := range rs.procs {
		select {
		case <-p.exited:
		default:
			rs.postClock(p)
		}
	}
}

func (rs *replicaSet) postClock(p *airlockProc) {
	rs.t.Helper()
	resp, err := rs.http.Post(p.URL+"/_test/clock?offset="+time.Duration(rs.offset.Load()).String(), "", nil)
	if err != nil {
		rs.t.Fatalf("set the clock of %s: %v", p.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		rs.t.Fatalf("set the clock of %s: got %d, want 204", p.URL, resp.StatusCode)
	}
}

// api calls replica i's JSON API with the admin key (or key, when given);
// out, if not nil, receives the decoded answer.
func (rs *replicaSet) api(i int, method, path, body string, out any, key ...string) int {
	rs.t.Helper()
	req, _ := http.NewRequest(method, rs.procs[i].URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+append(key, rs.adminKey)[0])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rs.http.Do(req)
	if err != nil {
		rs.t.Fatalf("%s %s on replica %d: %v\n%s", method, path, i, err, rs.procs[i].stderr.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			rs.t.Fatalf("%s %s: answer %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// request sends one request through the account on replica i and returns
// Airlock's status and the API's ("200/200").
func (rs *replicaSet) request(i int, accountID string) string {
	rs.inflight.Add(1)
	defer rs.inflight.Add(-1)
	var out struct {
		Status int `json:"status"`
	}
	req, _ := http.NewRequest("POST", rs.procs[i].URL+"/api/v1/accounts/"+accountID+"/request",
		strings.NewReader(`{"url": "`+rs.provider.APIURL()+`me"}`))
	req.Header.Set("Authorization", "Bearer "+rs.adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := rs.http.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&out)
	return fmt.Sprintf("%d/%d", resp.StatusCode, out.Status)
}

// integration creates the integration on replica 0 and returns its key.
func (rs *replicaSet) integration() string {
	rs.t.Helper()
	p := rs.provider
	in := oauthflow.Integration{Key: "replicas", Name: "Replicas", OAuth2: oauthflow.OAuth2{
		GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: p.AuthorizeURL(), TokenURL: p.TokenURL(),
		TokenMethod: "POST", RevokeURL: p.RevokeURL(), Scope: "read", ClientID: fakeprovider.DefaultClientID,
		ClientSecret: fakeprovider.DefaultClientSecret, ClientAuth: oauthflow.ClientAuthBasic, PKCE: true,
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: oauthflow.InHeader},
		APIBaseURLs: []string{p.APIURL()}}
	body, _ := json.Marshal(in)
	if got := rs.api(0, "POST", "/api/v1/integrations", string(body), nil); got != http.StatusCreated {
		rs.t.Fatalf("create integration: got %d, want 201", got)
	}
	return in.Key
}

// account creates an account on replica i and returns its id and connect link.
func (rs *replicaSet) account(i int, name string) (string, string) {
	rs.t.Helper()
	var a crashAccount
	if got := rs.api(i, "POST", "/api/v1/integrations/replicas/accounts", `{"name": "`+name+`"}`, &a); got != http.StatusCreated || a.ConnectURL == nil {
		rs.t.Fatalf("create account: got %d %+v, want 201 with a connect_url", got, a)
	}
	return a.ID, *a.ConnectURL
}

// on rewrites a URL under the public URL to replica i's address: the load
// balancer sending that request to replica i.
func (rs *replicaSet) on(i int, u string) string {
	return strings.Replace(u, rs.publicURL, rs.procs[i].URL, 1)
}

// browser is a fresh browser-like client: a cookie jar (cookies are
// per host, not per port, so every replica gets them) and no redirects
// followed.
func (rs *replicaSet) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// connect opens the connect link on replica start, approves at the
// provider, and brings the callback to replica callback.
func (rs *replicaSet) connect(link string, start, callback int) {
	rs.t.Helper()
	b := rs.browser()
	resp, err := b.Get(rs.on(start, link))
	if err != nil {
		rs.t.Fatal(err)
	}
	resp.Body.Close()
	rs.approve(b, resp, callback, "/connect/done")
}

// approve follows resp (a redirect to the provider's consent page) through
// the approval, and its callback on replica callback, which must redirect
// to want.
func (rs *replicaSet) approve(b *http.Client, resp *http.Response, callback int, want string) {
	rs.t.Helper()
	cb, err := rs.provider.Approve(resp.Header.Get("Location"))
	if err != nil {
		rs.t.Fatalf("approve %q (answered %d): %v", resp.Header.Get("Location"), resp.StatusCode, err)
	}
	if !strings.HasPrefix(cb, rs.publicURL+"/") {
		rs.t.Fatalf("callback %q is not under the public URL %s", cb, rs.publicURL)
	}
	if resp, err = b.Get(rs.on(callback, cb)); err != nil {
		rs.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), want) {
		rs.t.Fatalf("callback on replica %d: got %d to %q, want 303 to %s\n%s", callback, resp.StatusCode, resp.Header.Get("Location"), want,
			rs.procs[callback].stderr.String())
	}
}

// form posts a console form on replica i with the browser's cookies and
// the CSRF token of page (a console page of the same replica).
func (rs *replicaSet) form(b *http.Client, i int, page, path string, v url.Values) *http.Response {
	rs.t.Helper()
	resp, err := b.Get(rs.procs[i].URL + page)
	if err != nil {
		rs.t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formTokenRE.FindSubmatch(html)
	if m == nil {
		rs.t.Fatalf("GET %s on replica %d: answered %d without a CSRF token", page, i, resp.StatusCode)
	}
	v.Set("_csrf", string(m[1]))
	resp, err = b.PostForm(rs.procs[i].URL+path, v)
	if err != nil {
		rs.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// settle waits until no replica has a refresh under way. The caller must
// have every request answered first (it fails the test otherwise): a request
// still on its way to a replica whose settle has returned can start a
// refresh there, which the next advance then jumps in the middle of. The
// refresh lease is timed by the simulated clock, so that jump expires it at
// once, another replica takes it over and spends the same rotating refresh
// token: a double spend that real time, which does not jump by minutes, never
// causes.
func (rs *replicaSet) settle() {
	rs.t.Helper()
	rs.quiet("settle")
	for i, p := range rs.procs {
		select {
		case <-p.exited:
			continue
		default:
		}
		resp, err := rs.http.Post(p.URL+"/_test/settle", "", nil)
		if err != nil {
			rs.t.Fatalf("settle replica %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			rs.t.Fatalf("settle replica %d: got %d", i, resp.StatusCode)
		}
	}
}

// quiet fails the test if a request sent through rs.request is still
// unanswered.
func (rs *replicaSet) quiet(what string) {
	rs.t.Helper()
	if n := rs.inflight.Load(); n != 0 {
		rs.t.Fatalf("%s with %d requests under way: wait for their answers first, or the clock can jump in the middle of a refresh they start", what, n)
	}
}

// signIn signs a browser in with a password on replica i.
func (rs *replicaSet) signIn(b *http.Client, i int, email, password string) {
	rs.t.Helper()
	resp := rs.form(b, i, "/signin", "/signin", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		rs.t.Fatalf("sign in on replica %d: got %d to %q, want 303 to /", i, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// user creates a console user with the command line, on the set's database.
func (rs *replicaSet) user(email, role, password string) {
	rs.t.Helper()
	if err := run(rs.t.Context(), []string{"user", "create", "--email", email, "--role", role}, envMap(map[string]string{"AIRLOCK_DATABASE_URL": rs.dbURL}),
		strings.NewReader(password+"\n"), io.Discard, io.Discard); err != nil {
		rs.t.Fatalf("user create %s: %v", email, err)
	}
}
