package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

var tempPasswordRE = regexp.MustCompile(`id="temp-password" type="text" readonly value="([^"]+)"`)

// TestAdminResetsAPassword: the reset shows a one-time temporary password,
// ends the user's sessions, makes the old password useless, and the
// temporary one leads straight to choosing a new password.
func TestAdminResetsAPassword(t *testing.T) {
	ts := newTestServer(t)
	bob := ts.addUser("bob@example.com", store.RoleBuilder)
	bobs := ts.newClient()
	bobs.get("/signin")
	bobs.post("/signin", url.Values{"email": {"bob@example.com"}, "password": {testPassword}})
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/users")
	r := admin.post("/users/"+strconvFormat(bob.ID)+"/reset-password", nil)
	m := tempPasswordRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || !strings.Contains(r.body, "is reset") {
		t.Fatalf("reset: got %d without the temporary password\n%s", r.status, truncate(r.body, 800))
	}
	if who := bobs.signedInAs(t); who != "" {
		t.Errorf("bob's session goes on as %q after the reset", who)
	}
	if again := admin.get("/users"); strings.Contains(again.body, m[1]) {
		t.Error("the temporary password is shown again")
	}
	c := ts.newClient()
	c.get("/signin")
	if r := c.post("/signin", url.Values{"email": {"bob@example.com"}, "password": {testPassword}}); r.status != http.StatusUnauthorized {
		t.Errorf("the old password after the reset: got %d, want 401", r.status)
	}
	if r := c.post("/signin", url.Values{"email": {"bob@example.com"}, "password": {m[1]}}); r.status != http.StatusSeeOther {
		t.Fatalf("the temporary password: got %d, want 303", r.status)
	}
	if r := c.get("/integrations"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/password" {
		t.Errorf("with the temporary password: got %d to %q, want 303 to /account/password", r.status, r.header.Get("Location"))
	}
	if logs := ts.logs.String(); strings.Contains(logs, m[1]) {
		t.Error("the temporary password is in the log")
	}
	me, _ := ts.store.GetUserByEmail(context.Background(), admin.signedInAs(t))
	admin.get("/users")
	if r := admin.post("/users/"+strconvFormat(me.ID)+"/reset-password", nil); r.status != http.StatusSeeOther || tempPasswordRE.MatchString(r.body) {
		t.Errorf("resetting one's own password: got %d, want 303 back to the users page with a message", r.status)
	}
}

// TestAdminDeletesAUser: the user and their sessions go; an admin cannot
// delete themselves; the last enabled admin cannot be deleted.
func TestAdminDeletesAUser(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	bob := ts.addUser("bob@example.com", store.RoleBuilder)
	bobs := ts.newClient()
	bobs.get("/signin")
	bobs.post("/signin", url.Values{"email": {"bob@example.com"}, "password": {testPassword}})
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/users")
	if r := admin.post("/users/"+strconvFormat(bob.ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: got %d", r.status)
	}
	if _, err := ts.store.GetUser(ctx, bob.ID); err == nil {
		t.Error("bob still exists")
	}
	if who := bobs.signedInAs(t); who != "" {
		t.Errorf("the deleted user's session goes on as %q", who)
	}
	if page := admin.get("/users"); strings.Contains(page.body, `aria-label="Delete bob@example.com"`) || !strings.Contains(page.body, "is deleted") {
		t.Error("users page: want bob gone and the deletion confirmed")
	}
	me, _ := ts.store.GetUserByEmail(ctx, admin.signedInAs(t))
	admin.post("/users/"+strconvFormat(me.ID)+"/delete", nil)
	if page := admin.get("/users"); !strings.Contains(page.body, "cannot delete your own user") {
		t.Error("deleting oneself: no message")
	}
	if _, err := ts.store.GetUser(ctx, me.ID); err != nil {
		t.Errorf("the admin deleted themselves: %v", err)
	}
	// The store keeps the last enabled admin, whoever asks.
	if _, err := ts.store.DeleteUser(ctx, me.ID, 0); err != store.ErrLastAdmin {
		t.Errorf("deleting the last enabled admin: got %v, want ErrLastAdmin", err)
	}
	n := ts.addUser("new@example.com", store.RoleViewer)
	if n.ID <= bob.ID {
		t.Errorf("a new user got id %d, not above the deleted %d: ids must not be reused", n.ID, bob.ID)
	}
}

// TestUsersPageShowsLastSignInAndHowEachSignsIn.
func TestUsersPageShowsLastSignInAndHowEachSignsIn(t *testing.T) {
	ts, idp := newSSOServer(t)
	ts.addUser("never@example.com", store.RoleViewer)
	admin := ts.signedIn(store.RoleAdmin)
	if r := ts.newClient().ssoSignIn(t, idp, "bob"); r.status != http.StatusSeeOther {
		t.Fatalf("bob's sign-in: got %d", r.status)
	}
	page := admin.get("/users").body
	rows := map[string]string{}
	for _, row := range strings.Split(page, "<tr>")[2:] {
		email := row[strings.Index(row, "<td>")+4:]
		rows[strings.TrimSpace(email[:strings.IndexAny(email, "<")])] = row
	}
	cases := []struct{ email, signsIn, last string }{
		{"never@example.com", ">password<", ">never<"},
		{"bob@example.com", ">single sign-on<", ">just now<"},
	}
	for _, tc := range cases {
		row, ok := rows[tc.email]
		if !ok {
			t.Errorf("no row for %s", tc.email)
			continue
		}
		if !strings.Contains(row, tc.signsIn) || !strings.Contains(row, tc.last) {
			t.Errorf("%s: want %q and %q in\n%s", tc.email, tc.signsIn, tc.last, row)
		}
	}
}

// TestAPIKeyExpiryHoldsExactlyThroughTheCache: a key that expires is
// refused with 401 unauthorized from that moment, though it is still in
// the 30-second key cache.
func TestAPIKeyExpiryHoldsExactlyThroughTheCache(t *testing.T) {
	ts := newTestServer(t)
	key, hash, last4 := store.NewAPIKey()
	if _, err := ts.store.CreateExpiringAPIKey(context.Background(), "soon", store.RoleViewer, hash, last4, "test", ts.clock.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != http.StatusOK {
		t.Fatalf("before expiry: got %d", r.status)
	}
	ts.clock.Add(10*time.Second - time.Millisecond)
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != http.StatusOK {
		t.Errorf("a millisecond before expiry: got %d, want 200", r.status)
	}
	ts.clock.Add(time.Millisecond)
	r := ts.api("GET", "/api/v1/whoami", key, "")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"code":"unauthorized"`) || !strings.Contains(r.body, "expired") {
		t.Errorf("at expiry (key still cached): got %d %s, want 401 unauthorized saying it expired", r.status, r.body)
	}
}

// TestAPIKeyFormOffersExpiries: the console's form creates keys expiring
// after 30, 90 or 365 days or never, and refuses anything else beside the field.
func TestAPIKeyFormOffersExpiries(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.signedIn(store.RoleAdmin)
	page := admin.get("/settings")
	for _, v := range []string{"30", "90", "365", "never"} {
		if !strings.Contains(page.body, `<option value="`+v+`"`) {
			t.Errorf("the form does not offer %s", v)
		}
	}
	cases := []struct {
		expires string
		days    int
	}{{"30", 30}, {"90", 90}, {"365", 365}, {"never", 0}}
	for _, tc := range cases {
		r := admin.post("/settings/api-keys", url.Values{"name": {"k" + tc.expires}, "role": {"viewer"}, "expires": {tc.expires}})
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="new-key"`) {
			t.Fatalf("expires %s: got %d", tc.expires, r.status)
		}
		ks, _ := ts.store.ListAPIKeys(context.Background())
		want := time.Time{}
		if tc.days > 0 {
			want = ts.clock.Now().AddDate(0, 0, tc.days)
		}
		if got := ks[0].ExpiresAt; got.Sub(want).Abs() > time.Second {
			t.Errorf("expires %s: got %v, want %v", tc.expires, got, want)
		}
	}
	r := admin.post("/settings/api-keys", url.Values{"name": {"bad"}, "role": {"viewer"}, "expires": {"7"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="key-expires-error"`) {
		t.Errorf("expires 7: got %d, want 422 with the field's error", r.status)
	}
	if page := admin.get("/settings"); !strings.Contains(page.body, ts.clock.Now().AddDate(0, 0, 30).Format("2006-01-02")) {
		t.Error("the key list does not show the expiry")
	}
}

// TestAPIKeyDelete: a deleted key is refused at once and leaves the list.
func TestAPIKeyDelete(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey(store.RoleViewer)
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != http.StatusOK {
		t.Fatalf("before: got %d", r.status)
	}
	ks, _ := ts.store.ListAPIKeys(context.Background())
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/settings")
	if r := admin.post("/settings/api-keys/"+strconvFormat(ks[0].ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: got %d", r.status)
	}
	if r := ts.api("GET", "/api/v1/whoami", key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("the deleted key (cached a moment ago): got %d, want 401", r.status)
	}
	if ks, _ := ts.store.ListAPIKeys(context.Background()); len(ks) != 0 {
		t.Errorf("keys after the delete: got %d, want 0", len(ks))
	}
	if r := admin.post("/settings/api-keys/"+strconvFormat(ks[0].ID)+"/delete", nil); r.status != http.StatusNotFound {
		t.Errorf("deleting it again: got %d, want 404", r.status)
	}
}

// TestWebhookTestEvent: "Send a test event" queues account.test through the
// outbox; it is signed and sent like an alert, and listed with its result.
func TestWebhookTestEvent(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/settings")
	admin.post("/settings/webhook/test", nil)
	if page := admin.get("/settings"); !strings.Contains(page.body, "Set a webhook URL first") {
		t.Error("a test event without a URL: no message saying to set one")
	}
	rc := newReceiver(t, 503)
	ts.store.SetWebhookURL(ctx, rc.srv.URL+"/hook")
	ts.store.SetWebhookSecret(ctx, "whsec_test")
	if r := admin.post("/settings/webhook/test", nil); r.status != http.StatusSeeOther {
		t.Fatalf("send a test event: got %d", r.status)
	}
	ts.drain(2)
	evs := rc.events()
	if len(evs) != 2 || evs[1].Event != store.EventTest || !strings.Contains(evs[1].Reason, "admin-") {
		t.Fatalf("received: got %+v, want account.test twice (a 503, then its retry)", evs)
	}
	rc.mu.Lock()
	body, sig := rc.bodies[1], rc.sigs[1]
	rc.mu.Unlock()
	if !verifySignature("whsec_test", sig, body) {
		t.Error("the test event's signature does not verify")
	}
	page := admin.get("/settings").body
	if !strings.Contains(page, "<code>account.test</code>") || !strings.Contains(page, ">delivered<") {
		t.Errorf("deliveries list: want account.test delivered\n%s", truncate(page[strings.Index(page, "Recent deliveries"):], 1500))
	}
}
