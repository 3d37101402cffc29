package handlers

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"airlock/store"
)

// TestPasswordSignInOff: with AIRLOCK_PASSWORD_SIGNIN=false only single
// sign-on and break-glass users (airlock user create --local) get in; a
// password user's right password is refused and their running session
// ends; setup and invitations need a password, so they are refused too.
func TestPasswordSignInOff(t *testing.T) {
	ts, idp := newSSOServer(t, func(d *Deps) { d.Config.NoPasswordSignIn = true })
	ctx := context.Background()
	ts.addUser("pat@example.com", store.RoleAdmin)
	page := ts.newClient().get("/signin")
	for _, want := range []string{"Sign in with Example SSO", `id="break-glass"`, "Break-glass sign-in"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("sign-in page: missing %q", want)
		}
	}
	if strings.Contains(page.body, `<details id="break-glass" open`) {
		t.Error("the break-glass form is open before anyone used it")
	}
	c := ts.newClient()
	c.get("/signin")
	r := c.post("/signin", url.Values{"email": {"pat@example.com"}, "password": {testPassword}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "Password sign-in is turned off") {
		t.Errorf("a password user's right password: got %d, want 403 saying password sign-in is off", r.status)
	}
	if who := c.signedInAs(t); who != "" {
		t.Errorf("signed in as %q with a password while password sign-in is off", who)
	}
	hash, _ := store.HashPassword(testPassword, cheapPasswords)
	glass, err := ts.store.CreateLocalUser(ctx, "glass@example.com", hash, store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	bg := ts.newClient()
	bg.get("/signin")
	if r := bg.post("/signin", url.Values{"email": {"glass@example.com"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("a break-glass user: got %d, want 303\n%s", r.status, truncate(r.body, 800))
	}
	users := bg.get("/users")
	if !strings.Contains(users.body, "password (break-glass)") || !strings.Contains(users.body, "password (turned off)") {
		t.Errorf("users page: want both ways of signing in shown")
	}
	if strings.Contains(users.body, `action="/users" hx-post`) {
		t.Error("the invite form is offered while invited users could not sign in")
	}
	if r := bg.post("/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}}); r.status != http.StatusConflict {
		t.Errorf("invite while passwords are off: got %d, want 409", r.status)
	}
	if r := ts.newClient().ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
		t.Errorf("single sign-on while passwords are off: got %d", r.status)
	}
	// A password session that is no longer a break-glass one ends at its
	// next request, as one made before the setting changed would.
	db, err := sql.Open("sqlite", "file:"+ts.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE users SET local = 0 WHERE id = ?", glass.ID); err != nil {
		t.Fatal(err)
	}
	if who := bg.signedInAs(t); who != "" {
		t.Errorf("a password session goes on as %q while password sign-in is off", who)
	}
}

// TestSetupWithPasswordSignInOff: the setup page offers only single sign-on,
// and a setup form posted anyway creates nobody.
func TestSetupWithPasswordSignInOff(t *testing.T) {
	ts, _ := newSSOServer(t, func(d *Deps) { d.Config.NoPasswordSignIn = true })
	code := ts.setupCode()
	c := ts.newClient()
	page := c.get("/setup")
	if !strings.Contains(page.body, "Sign in with Example SSO") || strings.Contains(page.body, `action="/setup"`) {
		t.Errorf("setup page: want the single sign-on button and no password form")
	}
	if r := c.post("/setup", url.Values{"code": {code}, "email": {"ada@example.com"}, "password": {testPassword}}); r.status != http.StatusForbidden {
		t.Errorf("setup form posted anyway: got %d, want 403", r.status)
	}
	if n, _ := ts.store.CountUsers(context.Background()); n != 0 {
		t.Errorf("users: got %d, want 0", n)
	}
}

// TestSignInSettingsPage shows the redirect URI to register and the settings.
func TestSignInSettingsPage(t *testing.T) {
	ts, idp := newSSOServer(t)
	r := ts.signedIn(store.RoleAdmin).get("/settings/sign-in")
	for _, want := range []string{ts.srv.URL + "/auth/oidc/callback", idp.URL(), ssoClientID, "airlock-admins", "airlock-builders", "Sign in with Example SSO"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("sign-in settings: missing %q", want)
		}
	}
	if strings.Contains(r.body, ssoClientSecret) {
		t.Error("the sign-in settings page shows the client secret")
	}
	plain := newTestServer(t)
	if r := plain.signedIn(store.RoleAdmin).get("/settings/sign-in"); !strings.Contains(r.body, plain.srv.URL+"/auth/oidc/callback") {
		t.Error("with single sign-on off, the page does not give the redirect URI to register")
	}
}
