package handlers

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// rowCounts counts the rows of every table in the test server's database,
// read through a connection of its own.
func rowCounts(t *testing.T, ts *testServer) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+ts.store.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("found %d tables: the schema was not read", len(tables))
	}
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + tb + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// anonymousGETs sends n cookieless GETs, cycling through paths, and checks
// each answered one of the statuses a public page gives.
func anonymousGETs(t *testing.T, ts *testServer, n int, paths []string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range n {
		p := paths[i%len(paths)]
		resp, err := hc.Get(ts.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s: got %d", p, resp.StatusCode)
		}
	}
}

// TestAnonymousGETsWriteNothing: a cookieless GET of a public page (or of a
// console page that sends the browser to sign in) adds no row to any table,
// so a flood of them cannot fill the database.
func TestAnonymousGETsWriteNothing(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	ts := newTestServer(t)
	ts.setupCode()
	static := "/static/" + ts.h.assets + "/app.css"
	callback := CallbackPath + "?state=" + strings.Repeat("s", 43) + "&code=c"
	phases := []struct {
		name  string
		paths []string
	}{
		{"before setup", []string{"/setup", "/signin", "/", "/integrations", static, CallbackPath, callback, "/connect/done", "/nowhere"}},
		{"after setup", []string{"/signin", "/signin?next=%2Faccounts", "/", "/accounts", static, CallbackPath, callback, "/connect/done", "/nowhere"}},
	}
	for i, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			if i == 1 {
				ts.addUser("frank@example.com", store.RoleAdmin)
			}
			before := rowCounts(t, ts)
			anonymousGETs(t, ts, n/len(phases), ph.paths)
			ts.activity.Flush(context.Background())
			after := rowCounts(t, ts)
			for tb, b := range before {
				if after[tb] != b {
					t.Errorf("table %s: got %d rows after %d anonymous GETs, want %d", tb, after[tb], n/len(phases), b)
				}
			}
		})
	}
}

// TestSignInStillCreatesTheSession: the session row appears at sign-in, and
// the pages that need one (the dashboard after sign-in) work.
func TestSignInStillCreatesTheSession(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("gina@example.com", store.RoleBuilder)
	c := ts.newClient()
	c.get("/signin")
	if n, _ := ts.store.CountSessions(context.Background()); n != 0 {
		t.Fatalf("sessions after loading the form: got %d, want 0", n)
	}
	if r := c.post("/signin", url.Values{"email": {"gina@example.com"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: got %d, want 303\n%s", r.status, r.body)
	}
	if n, _ := ts.store.CountSessions(context.Background()); n != 1 {
		t.Errorf("sessions after sign-in: got %d, want 1", n)
	}
	if r := c.get("/"); r.status != http.StatusOK || !strings.Contains(r.body, "gina@example.com") {
		t.Errorf("dashboard after sign-in: got %d", r.status)
	}
	if r := c.post("/account/password", url.Values{"current": {"not it at all"}, "password": {"another long password"}, "confirm": {"another long password"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a signed-in form with the session's token: got %d, want 422 (validation, not CSRF)", r.status)
	}
}

// TestCSRFTokenInTheQueryIsRefused: _csrf counts only from the form body or
// the X-CSRF-Token header. A token in the URL leaks into logs, history and
// Referer headers, so a valid one there must not make a POST acceptable.
func TestCSRFTokenInTheQueryIsRefused(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("hal@example.com", store.RoleAdmin)
	n := 0
	cases := []struct {
		name   string
		client func() *client
		path   string
		form   func() url.Values
		want   int
	}{
		{"sign-in form", func() *client { c := ts.newClient(); c.get("/signin"); return c }, "/signin",
			func() url.Values { return url.Values{"email": {"hal@example.com"}, "password": {testPassword}} }, http.StatusSeeOther},
		{"signed-in form", func() *client { return ts.signedIn(store.RoleAdmin) }, "/users",
			func() url.Values {
				n++
				return url.Values{"email": {fmt.Sprintf("ivy%d@example.com", n)}, "role": {"viewer"}}
			}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, multipart := range []bool{false, true} {
				c, form := tc.client(), tc.form()
				body, ct := form.Encode(), "application/x-www-form-urlencoded"
				if multipart {
					var sb strings.Builder
					for k, v := range form {
						fmt.Fprintf(&sb, "--b\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", k, v[0])
					}
					sb.WriteString("--b--\r\n")
					body, ct = sb.String(), "multipart/form-data; boundary=b"
				}
				q := url.Values{"_csrf": {c.csrf}}
				req, _ := http.NewRequest("POST", ts.srv.URL+tc.path+"?"+q.Encode(), strings.NewReader(body))
				req.Header.Set("Content-Type", ct)
				if r := c.do(req); r.status != http.StatusForbidden {
					t.Errorf("%s, a valid token only in the query: got %d, want 403", ct, r.status)
				}
			}
			// The same request with the token in the body is accepted, so the
			// 403 above is the CSRF check's.
			c, form := tc.client(), tc.form()
			form.Set("_csrf", c.csrf)
			if r := c.post(tc.path, form); r.status != tc.want {
				t.Errorf("the token in the body: got %d, want %d", r.status, tc.want)
			}
		})
	}
}

// TestAnonymousFormTokenIsBoundToItsBrowser: the sign-in form's token (no
// session row behind it) works only with the cookie it was made for, and
// only for a session's lifetime — an attacker's own token, fetched from the
// server, is no good in a victim's browser.
func TestAnonymousFormTokenIsBoundToItsBrowser(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("lee@example.com", store.RoleViewer)
	form := func(token string) url.Values {
		return url.Values{"_csrf": {token}, "email": {"lee@example.com"}, "password": {testPassword}}
	}
	attacker, victim := ts.newClient(), ts.newClient()
	attacker.get("/signin")
	victim.get("/signin")
	if attacker.csrf == "" || attacker.csrf == victim.csrf {
		t.Fatalf("form tokens: attacker %q, victim %q; want two different tokens", attacker.csrf, victim.csrf)
	}
	if r := victim.post("/signin", form(attacker.csrf)); r.status != http.StatusForbidden {
		t.Errorf("another browser's token: got %d, want 403", r.status)
	}
	if r := ts.newClient().post("/signin", form(victim.csrf)); r.status != http.StatusForbidden {
		t.Errorf("a token without its cookie: got %d, want 403", r.status)
	}
	if r := victim.post("/signin", form(victim.csrf+"x")); r.status != http.StatusForbidden {
		t.Errorf("a tampered token: got %d, want 403", r.status)
	}
	stale := victim.csrf
	ts.clock.Add(store.DefaultLifetimes.Absolute + time.Minute)
	if r := victim.post("/signin", form(stale)); r.status != http.StatusForbidden {
		t.Errorf("a token older than a session's lifetime: got %d, want 403", r.status)
	}
	victim.get("/signin") // a fresh form, same cookie
	if r := victim.post("/signin", form(victim.csrf)); r.status != http.StatusSeeOther {
		t.Errorf("the browser's own fresh token: got %d, want 303", r.status)
	}
}
