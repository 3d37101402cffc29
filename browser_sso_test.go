package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"airlock/oauthflow/fakeidp"
)

// TestBrowserSingleSignOn walks the whole single sign-on in Chromium against
// a fake OpenID provider on loopback: the first sign-in from the setup page
// makes the first user (an admin by their group), the users page says how
// they sign in, the sign-in settings give the redirect URI, and someone in
// no group is refused with a page that says so.
func TestBrowserSingleSignOn(t *testing.T) {
	idp := fakeidp.New("airlock", "idp-secret", nil,
		fakeidp.User{Login: "alice", Subject: "sub-alice", Email: "alice@example.com", Groups: []string{"staff", "airlock-admins"}},
		fakeidp.User{Login: "carol", Subject: "sub-carol", Email: "carol@example.com", Groups: []string{"staff"}})
	t.Cleanup(idp.Close)
	rs := startServer(t, t.TempDir(), map[string]string{
		"AIRLOCK_OIDC_ISSUER": idp.URL(), "AIRLOCK_OIDC_CLIENT_ID": "airlock", "AIRLOCK_OIDC_CLIENT_SECRET": "idp-secret",
		"AIRLOCK_OIDC_NAME": "Example SSO", "AIRLOCK_OIDC_ADMIN_GROUPS": "airlock-admins", "AIRLOCK_OIDC_VIEWER_GROUPS": "airlock-viewers",
	})
	b := newBrowser(t)
	b.do("first sign-in from the setup page",
		chromedp.Navigate(rs.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("setup-title")),
	)
	if got := b.text("#sso-start"); got != "Sign in with Example SSO" {
		t.Errorf("button: got %q, want %q", got, "Sign in with Example SSO")
	}
	b.do("sign in at the provider",
		chromedp.Click(chromedp.ID("sso-start")),
		chromedp.WaitVisible(chromedp.ID("login-alice")),
		chromedp.Click(chromedp.ID("login-alice")),
		chromedp.WaitVisible(chromedp.CSS(".topbar .user")),
	)
	b.shot("signed-in")
	if got := b.text(".topbar .user strong"); got != "alice@example.com" {
		t.Errorf("signed-in user: got %q, want alice@example.com", got)
	}
	if got := b.text(".topbar .user .badge"); got != "admin" {
		t.Errorf("role: got %q, want admin", got)
	}
	if hasPassword := runB(b, "password link", chromedp.Evaluate[bool](`document.querySelector('a[href="/account/password"]') !== null`)); hasPassword {
		t.Error("a single sign-on user is offered the password page")
	}
	b.sessionCookieOnly()

	b.do("users page", chromedp.Navigate(rs.URL+"/users"), chromedp.WaitVisible(chromedp.CSS("#users-body table")))
	b.shot("users")
	if got := b.text("#users-body table"); !strings.Contains(got, "alice@example.com") || !strings.Contains(got, "single sign-on") {
		t.Errorf("users table: got %q, want alice signing in with single sign-on", got)
	}
	b.do("sign-in settings", chromedp.Navigate(rs.URL+"/settings/sign-in"), chromedp.WaitVisible(chromedp.ID("oidc-redirect-uri")))
	if got, want := b.text("#oidc-redirect-uri"), rs.URL+"/auth/oidc/callback"; got != want {
		t.Errorf("redirect URI: got %q, want %q", got, want)
	}

	b.shot("sign-in-settings")
	b.do("settings", chromedp.Navigate(rs.URL+"/settings"), chromedp.WaitVisible(chromedp.ID("keys-title")))
	b.shot("settings")
	signOut(b)
	b.shot("sign-in-page")
	b.do("someone in no group",
		chromedp.Click(chromedp.ID("sso-start")),
		chromedp.WaitVisible(chromedp.ID("login-carol")),
		chromedp.Click(chromedp.ID("login-carol")),
		chromedp.WaitVisible(chromedp.ID("sso-problem")),
	)
	b.shot("refused")
	if got := b.text("#sso-problem"); !strings.Contains(got, "none of the groups") || !strings.Contains(got, "airlock-admins") {
		t.Errorf("refusal: got %q, want it to say which groups give a role", got)
	}
	b.do("back to sign-in",
		chromedp.Click(chromedp.CSS(`a[href="/signin"]`)),
		chromedp.WaitVisible(chromedp.ID("signin-title")),
	)
}
