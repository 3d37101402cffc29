package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

var setupCodeRE = regexp.MustCompile(`setup_code=([A-Z0-9-]+)`)

func (ts *testServer) setupCode() string {
	ts.t.Helper()
	if err := ts.h.StartSetup(context.Background()); err != nil {
		ts.t.Fatal(err)
	}
	m := setupCodeRE.FindAllStringSubmatch(ts.logs.String(), -1)
	if len(m) == 0 {
		ts.t.Fatal("no setup code in the log")
	}
	return m[len(m)-1][1]
}

func TestSetupCodeRequiredAndSingleUse(t *testing.T) {
	ts := newTestServer(t)
	code := ts.setupCode()
	c := ts.newClient()

	if r := c.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/setup" {
		t.Fatalf("first page with no users: got %d to %q, want 303 to /setup", r.status, r.header.Get("Location"))
	}
	c.get("/setup")
	r := c.post("/setup", url.Values{"code": {"WRONG-CODE"}, "email": {"ada@example.com"}, "password": {testPassword}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not the current setup code") {
		t.Fatalf("wrong code: got %d, want 422 naming the setup code", r.status)
	}
	if n, _ := ts.store.CountUsers(context.Background()); n != 0 {
		t.Fatalf("users after a wrong code: got %d, want 0", n)
	}
	r = c.post("/setup", url.Values{"code": {strings.ToLower(code)}, "email": {"ada@example.com"}, "password": {"short"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "at least 12 characters") {
		t.Errorf("short password: got %d, want 422 naming the length", r.status)
	}
	r = c.post("/setup", url.Values{"code": {code}, "email": {"ada@example.com"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("right code: got %d, want 303\n%s", r.status, r.body)
	}
	home := c.get("/")
	if home.status != 200 || !strings.Contains(home.body, "ada@example.com") {
		t.Errorf("after setup: got %d, want the dashboard with the user's email", home.status)
	}
	u, err := ts.store.GetUserByEmail(context.Background(), "ada@example.com")
	if err != nil || u.Role != store.RoleAdmin {
		t.Errorf("first user: got %+v (%v), want an admin", u, err)
	}
	// Gone afterwards, for everyone, even with the same code.
	other := ts.newClient()
	if r := other.get("/setup"); r.status != http.StatusNotFound {
		t.Errorf("setup page after setup: got %d, want 404", r.status)
	}
	other.get("/signin")
	if r := other.post("/setup", url.Values{"code": {code}, "email": {"eve@example.com"}, "password": {testPassword}}); r.status != http.StatusNotFound {
		t.Errorf("reusing the setup code: got %d, want 404", r.status)
	}
}

func TestSignInRenewsSessionAndSignOutEndsIt(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("bob@example.com", store.RoleBuilder)
	c := ts.newClient()
	c.get("/signin")
	before := sessionCookie(t, c, ts)
	r := c.post("/signin", url.Values{"email": {"Bob@Example.com"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in: got %d, want 303", r.status)
	}
	after := sessionCookie(t, c, ts)
	if after == before {
		t.Error("session id not renewed at sign-in")
	}
	if r := c.get("/"); r.status != 200 || !strings.Contains(r.body, "bob@example.com") {
		t.Fatalf("dashboard after sign-in: got %d", r.status)
	}
	r = c.post("/signout", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign out: got %d", r.status)
	}
	if sessionCookie(t, c, ts) == after {
		t.Error("session id not renewed at sign-out")
	}
	if r := c.get("/users"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
		t.Errorf("console after sign-out: got %d to %q, want 303 to /signin", r.status, r.header.Get("Location"))
	}
	// The old, signed-in cookie is dead too.
	stale := ts.newClient()
	u, _ := url.Parse(ts.srv.URL)
	stale.http.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: after}})
	if r := stale.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("replaying the pre-sign-out cookie: got %d, want 303 to sign-in", r.status)
	}
}

func sessionCookie(t *testing.T, c *client, ts *testServer) string {
	t.Helper()
	u, _ := url.Parse(ts.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == SessionCookie {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestSignInRateLimitPerAccount(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("carol@example.com", store.RoleViewer)
	for i := range signinLimit {
		// Each attempt from its own address, so only the account limit applies.
		r := signinFrom(ts, "carol@example.com", "wrong password!", "10.1.0."+string(rune('1'+i)))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %d, want 401", i+1, r.status)
		}
	}
	r := signinFrom(ts, "carol@example.com", testPassword, "10.2.0.1")
	if r.status != http.StatusTooManyRequests || !regexp.MustCompile(`Try again in \d+ s`).MatchString(r.body) {
		t.Fatalf("6th attempt with the right password: got %d, want 429 with 'Try again in N s'", r.status)
	}
	ts.clock.Add(signinWindow + time.Second)
	if r := signinFrom(ts, "carol@example.com", testPassword, "10.2.0.1"); r.status != http.StatusSeeOther {
		t.Errorf("after the window: got %d, want 303", r.status)
	}
}

func TestSignInRateLimitPerAddress(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("dave@example.com", store.RoleViewer)
	for i := range signinLimit {
		r := signinFrom(ts, "nobody"+string(rune('a'+i))+"@example.com", "whatever-password", "")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %d, want 401", i+1, r.status)
		}
	}
	r := signinFrom(ts, "dave@example.com", testPassword, "")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "your address") {
		t.Errorf("6th attempt from the same address: got %d, want 429 naming the address", r.status)
	}
}

// TestForwardedForIgnoredFromUntrustedPeer: a client cannot dodge the address
// limit by sending a different X-Forwarded-For each time.
func TestForwardedForIgnoredFromUntrustedPeer(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("someone@example.com", store.RoleViewer)
	for i := range signinLimit {
		signinFrom(ts, "x"+string(rune('a'+i))+"@example.com", "whatever-password", "203.0.113."+string(rune('1'+i)))
	}
	if r := signinFrom(ts, "y@example.com", "whatever-password", "198.51.100.9"); r.status != http.StatusTooManyRequests {
		t.Errorf("spoofed X-Forwarded-For from an untrusted peer: got %d, want 429 (the peer address is limited)\n%s", r.status, r.body)
	}
}

func TestForwardedForHonouredFromTrustedProxy(t *testing.T) {
	ts := newTestServer(t, func(d *Deps) { d.Config.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	ts.addUser("someone@example.com", store.RoleViewer)
	for i := range signinLimit {
		signinFrom(ts, "x"+string(rune('a'+i))+"@example.com", "whatever-password", "203.0.113.7")
	}
	if r := signinFrom(ts, "y@example.com", "whatever-password", "203.0.113.7"); r.status != http.StatusTooManyRequests {
		t.Errorf("same client behind the proxy: got %d, want 429", r.status)
	}
	if r := signinFrom(ts, "y@example.com", "whatever-password", "203.0.113.8"); r.status != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: got %d, want 401 (not limited)", r.status)
	}
}

func signinFrom(ts *testServer, email, pw, xff string) response {
	c := ts.newClient()
	c.get("/signin")
	if xff == "" {
		return c.post("/signin", url.Values{"email": {email}, "password": {pw}})
	}
	return c.post("/signin", url.Values{"email": {email}, "password": {pw}}, "X-Forwarded-For", xff)
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		peer, xff, want string
	}{
		{"192.0.2.1:1234", "", "192.0.2.1"},
		{"192.0.2.1:1234", "198.51.100.1", "192.0.2.1"},                      // untrusted peer: header ignored
		{"10.0.0.5:1234", "198.51.100.1", "198.51.100.1"},                    // trusted proxy
		{"10.0.0.5:1234", "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1"}, // rightmost untrusted
		{"10.0.0.5:1234", "garbage", "10.0.0.5"},
		{"10.0.0.5:1234", "", "10.0.0.5"},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, trusted).String(); got != tc.want {
			t.Errorf("peer %s xff %q: got %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestDisabledUserIsSignedOut(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleBuilder)
	admin := ts.signedIn(store.RoleAdmin)
	users, _ := ts.store.ListUsers(context.Background())
	var builder store.User
	for _, u := range users {
		if u.Role == store.RoleBuilder {
			builder = u
		}
	}
	admin.get("/users")
	if r := admin.post("/users/"+itoa64(builder.ID), url.Values{"action": {"disable"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: got %d", r.status)
	}
	if r := c.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("disabled user's next request: got %d, want 303 to sign-in", r.status)
	}
}

func TestUsersPageInviteRoleAndLastAdmin(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/users")
	r := admin.post("/users", url.Values{"email": {"newbie@example.com"}, "role": {"viewer"}})
	m := regexp.MustCompile(`id="temp-password" type="text" readonly value="([^"]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("invite: got %d without a temporary password shown", r.status)
	}
	// The invitee signs in with it and must change it first.
	c := ts.newClient()
	c.get("/signin")
	c.post("/signin", url.Values{"email": {"newbie@example.com"}, "password": {m[1]}})
	if r := c.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/password" {
		t.Fatalf("invitee's first page: got %d to %q, want 303 to /account/password", r.status, r.header.Get("Location"))
	}
	c.get("/account/password")
	r = c.post("/account/password", url.Values{"current": {m[1]}, "password": {"a brand new password"}, "confirm": {"a brand new password"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change password: got %d\n%s", r.status, r.body)
	}
	if r := c.get("/"); r.status != 200 {
		t.Errorf("after changing the password: got %d, want 200", r.status)
	}
	// Duplicate email.
	admin.get("/users")
	if r := admin.post("/users", url.Values{"email": {"NEWBIE@example.com"}, "role": {"viewer"}}); r.status != 422 || !strings.Contains(r.body, "already exists") {
		t.Errorf("duplicate invite: got %d, want 422 'already exists'", r.status)
	}
	// The last admin can be neither demoted nor disabled.
	me, _ := ts.store.ListUsers(context.Background())
	var adminID int64
	for _, u := range me {
		if u.Role == store.RoleAdmin {
			adminID = u.ID
		}
	}
	admin.get("/users")
	if r := admin.post("/users/"+itoa64(adminID), url.Values{"action": {"role"}, "role": {"viewer"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/users" {
		t.Errorf("demote last admin: got %d to %q, want 303 back to /users", r.status, r.header.Get("Location"))
	}
	if page := admin.get("/users"); !strings.Contains(page.body, "last enabled admin") {
		t.Error("the users page does not say why the last admin stays")
	}
	if r := admin.post("/users/"+itoa64(adminID), url.Values{"action": {"disable"}}); r.status != http.StatusSeeOther {
		t.Errorf("disable last admin: got %d, want 303", r.status)
	}
	if u, _ := ts.store.GetUser(context.Background(), adminID); u.Role != store.RoleAdmin || u.Disabled() {
		t.Errorf("the last admin changed: role %s disabled %v", u.Role, u.Disabled())
	}
}

func TestAPIKeyAuthentication(t *testing.T) {
	ts := newTestServer(t)
	viewer := ts.apiKey(store.RoleViewer)
	type errBody struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	check := func(name, key string, status int, code string) {
		t.Helper()
		r := ts.api("GET", "/api/v1/whoami", key, "")
		var b errBody
		_ = json.Unmarshal([]byte(r.body), &b)
		if r.status != status || (code != "" && b.Error.Code != code) {
			t.Errorf("%s: got %d %s, want %d %s", name, r.status, r.body, status, code)
		}
	}
	check("missing key", "", 401, "unauthorized")
	check("unknown key", "alk_nope", 401, "unauthorized")
	check("valid viewer key", viewer, 200, "")

	// A session cookie never authenticates the API.
	c := ts.signedIn(store.RoleAdmin)
	if r := c.get("/api/v1/whoami"); r.status != 401 {
		t.Errorf("API with a signed-in admin's cookie and no key: got %d, want 401", r.status)
	}

	// Disable through the console: refused at once despite the cache.
	keys, _ := ts.store.ListAPIKeys(context.Background())
	c.get("/settings")
	if r := c.post("/settings/api-keys/"+itoa64(keys[0].ID)+"/disable", nil); r.status != http.StatusSeeOther {
		t.Fatalf("disable key: got %d", r.status)
	}
	check("disabled key", viewer, 401, "unauthorized")
}

func TestAPIKeyChecksAreCached(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleViewer)
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != 200 {
		t.Fatalf("first call: got %d", r.status)
	}
	// Close the database: a cached key still authenticates without touching it.
	ts.store.Close()
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != 200 {
		t.Errorf("second call with the database closed: got %d, want 200 from the cache", r.status)
	}
}

func TestSettingsCreatesKeyShownOnceAndStoresOnlyHash(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn(store.RoleAdmin)
	c.get("/settings")
	r := c.post("/settings/api-keys", url.Values{"name": {"billing service"}, "role": {"builder"}})
	m := regexp.MustCompile(`id="new-key" type="text" readonly value="(alk_[^"]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("create key: got %d, key not shown", r.status)
	}
	key := m[1]
	if again := c.get("/settings"); strings.Contains(again.body, key) {
		t.Error("the key is shown again on the next visit")
	}
	if !strings.Contains(c.get("/settings").body, "…"+key[len(key)-4:]) {
		t.Error("the key's last 4 characters are not listed")
	}
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != 200 || !strings.Contains(r.body, `"role":"builder"`) {
		t.Errorf("new key: got %d %s", r.status, r.body)
	}
	// Force a checkpoint so the WAL is folded into the file, then read raw bytes.
	ts.store.Close()
	raw := readDBFiles(t, ts.store.Path())
	if strings.Contains(raw, key) {
		t.Error("the SQLite files contain the API key itself")
	}
	if !strings.Contains(raw, store.HashAPIKey(key)) {
		t.Error("the SQLite files do not contain the key's hash")
	}
}

func readDBFiles(t *testing.T, path string) string {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err == nil {
			all = append(all, b...)
		}
	}
	return string(all)
}

func itoa64(n int64) string { return strconvFormat(n) }

func TestSafeNextStaysOnThisSite(t *testing.T) {
	cases := map[string]string{
		"/integrations?q=a":        "/integrations?q=a",
		"":                         "/",
		"//evil.example/x":         "/",
		"/\t/evil.example/x":       "/",
		"/\n/evil.example":         "/",
		"/\\evil.example":          "/",
		"https://evil.example/":    "/",
		"javascript:alert(1)":      "/",
		"evil.example":             "/",
		"/%09/evil.example":        "/%09/evil.example", // stays a path on this site: %09 is not decoded by browsers here
		"/accounts/acc_1#activity": "/accounts/acc_1#activity",
	}
	for in, want := range cases {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", in, got, want)
		}
	}
}
