package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormAfterSessionEndedSaysSo: a form sent after its session ended
// elsewhere says the session ended and offers sign-in back to its page,
// beside the form for htmx; a post without the console's cookie stays the
// plain CSRF refusal.
func TestFormAfterSessionEndedSaysSo(t *testing.T) {
	ts := newTestServer(t)
	c := ts.signedIn("admin")
	c.get("/account/password")
	if c.csrf == "" {
		t.Fatal("no CSRF token on the password page")
	}
	users, err := ts.store.ListUsers(context.Background())
	if err != nil || len(users) == 0 {
		t.Fatalf("list users: %v", err)
	}
	for _, u := range users {
		if err := ts.store.DeleteUserSessions(context.Background(), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	form := url.Values{"current": {testPassword}, "password": {"another long passphrase"}}
	r := c.post("/account/password", form, "Referer", ts.srv.URL+"/account/password")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Your session ended") {
		t.Errorf("full post: got %d, want 401 'Your session ended'\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `href="/signin?next=%2Faccount%2Fpassword"`) {
		t.Errorf("full post: no sign-in link back to the form's page\n%s", r.body)
	}
	if strings.Contains(r.body, "not sent from this console") {
		t.Error("full post: still says the form was not sent from this console")
	}

	hx := c.post("/account/password", form, "HX-Request", "true", "HX-Trigger", "password-form")
	if hx.status != http.StatusUnauthorized || !strings.Contains(hx.body, "Your session ended") || !strings.Contains(hx.body, `href="/signin?next=`) {
		t.Errorf("htmx post: got %d %q, want 401 with a sign-in link", hx.status, hx.body)
	}
	if got, want := hx.header.Get("HX-Retarget"), "#password-form"; got != want {
		t.Errorf("htmx post HX-Retarget: got %q, want %q (beside the form)", got, want)
	}
	if got := hx.header.Get("HX-Reswap"); got != "beforebegin" {
		t.Errorf("htmx post HX-Reswap: got %q, want beforebegin", got)
	}
	odd := c.post("/account/password", form, "HX-Request", "true", "HX-Trigger", "x, body")
	if got := odd.header.Get("HX-Retarget"); got != "#flash" {
		t.Errorf("htmx post with an odd trigger id: HX-Retarget %q, want #flash", got)
	}

	stranger := ts.newClient()
	s := stranger.post("/account/password", url.Values{"_csrf": {"forged-token-value"}})
	if s.status != http.StatusForbidden || !strings.Contains(s.body, "not sent from this console") {
		t.Errorf("cookieless post: got %d, want 403 'not sent from this console'", s.status)
	}
}
