package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var setupCodeLogRE = regexp.MustCompile(`setup_code=([A-Z0-9-]+)`)

// setupAdmin completes first-run setup in the browser with the code from the
// server log and returns the admin's email and password.
func setupAdmin(t *testing.T, b *browser, rs *runningServer) (string, string) {
	t.Helper()
	m := setupCodeLogRE.FindStringSubmatch(rs.logs.String())
	if m == nil {
		t.Fatalf("no setup code in the log:\n%s", rs.logs.String())
	}
	email, pw := "ada@example.com", "a long admin password"
	b.do("setup",
		chromedp.Navigate(rs.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("setup-code")),
		chromedp.SendKeys(chromedp.ID("setup-code"), m[1]),
		chromedp.SendKeys(chromedp.ID("setup-email"), email),
		chromedp.SendKeys(chromedp.ID("setup-password"), pw),
		chromedp.Click(chromedp.CSS(`form[action="/setup"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".topbar .user")),
	)
	return email, pw
}

func signIn(b *browser, base, email, pw string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
		chromedp.SendKeys(chromedp.ID("signin-email"), email),
		chromedp.SendKeys(chromedp.ID("signin-password"), pw),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".topbar .user")),
	)
}

func signOut(b *browser) {
	b.t.Helper()
	b.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)),
		chromedp.WaitVisible(chromedp.ID("signin-title")),
	)
}

// TestBrowserSetupSignInUsersAndKeys walks the sign-in issue's path in Chromium.
func TestBrowserSetupSignInUsersAndKeys(t *testing.T) {
	rs := startServer(t, t.TempDir(), nil)
	b := newBrowser(t)
	email, pw := setupAdmin(t, b, rs)
	b.shot("dashboard")
	signOut(b)
	signIn(b, rs.URL, email, pw)
	if got := b.text(".topbar .user strong"); got != email {
		t.Errorf("signed-in user in the header: got %q, want %q", got, email)
	}

	// Invite a builder (htmx swaps in the temporary password).
	b.do("invite builder",
		chromedp.Navigate(rs.URL+"/users"),
		chromedp.WaitVisible(chromedp.ID("user-email")),
		chromedp.SendKeys(chromedp.ID("user-email"), "bob@example.com"),
		chromedp.SetValue(chromedp.ID("user-role"), "builder"),
		chromedp.Click(chromedp.CSS(`form[action="/users"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("created-user")),
	)
	if temp := b.value("#temp-password"); len(temp) < 12 {
		t.Errorf("temporary password: got %q", temp)
	}
	if got := b.text("#users-body table"); !strings.Contains(got, "bob@example.com") || !strings.Contains(got, "invited") {
		t.Errorf("users table: got %q, want bob as invited", got)
	}
	b.shot("users")

	// Create an API key: shown once.
	b.do("create key",
		chromedp.Navigate(rs.URL+"/settings"),
		chromedp.WaitVisible(chromedp.ID("key-name")),
		chromedp.SendKeys(chromedp.ID("key-name"), "billing service"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/api-keys"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("created-key")),
	)
	key := b.value("#new-key")
	if !strings.HasPrefix(key, "alk_") {
		t.Fatalf("new key: got %q", key)
	}
	b.shot("settings")
	b.do("reload settings", chromedp.Navigate(rs.URL+"/settings"), chromedp.WaitVisible(chromedp.ID("keys-title")))
	body := runB(b, "page html", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(body, key) {
		t.Error("the API key is shown again after a reload")
	}
	if !strings.Contains(body, "…"+key[len(key)-4:]) {
		t.Error("the key's last 4 characters are not listed")
	}

	signOut(b)
	b.do("console after sign-out", chromedp.Navigate(rs.URL+"/settings"), chromedp.WaitVisible(chromedp.ID("signin-title")))
	if loc := b.location(); !strings.Contains(loc, "/signin") {
		t.Errorf("console page after sign-out: got %s, want the sign-in page", loc)
	}
	b.sessionCookieOnly()
}
