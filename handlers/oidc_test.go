package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeidp"
	"airlock/store"
)

// TestSSOSignInCreatesTheUserAndSetsTheRoleEachTime: the first sign-in makes
// the user (found by the provider's subject, the email kept lower-cased for
// display), with the highest role its groups give; the next sign-in finds
// the same user and sets the role from the groups again.
func TestSSOSignInCreatesTheUserAndSetsTheRoleEachTime(t *testing.T) {
	ts, idp := newSSOServer(t)
	ts.addUser("first@example.com", store.RoleAdmin)
	cases := []struct {
		user     fakeidp.User
		wantRole string
	}{
		{ssoAlice, store.RoleAdmin},
		{ssoBob, store.RoleBuilder}, // viewer and builder groups: builder wins
		{ssoDave, store.RoleViewer}, // the claim as a plain string
	}
	for _, tc := range cases {
		t.Run(tc.user.Login, func(t *testing.T) {
			c := ts.newClient()
			r := c.ssoSignIn(t, idp, tc.user.Login)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/accounts" {
				t.Fatalf("callback: got %d to %q, want 303 to /accounts (the next of the start)\n%s", r.status, r.header.Get("Location"), r.body)
			}
			if got, want := c.signedInAs(t), strings.ToLower(tc.user.Email); got != want {
				t.Errorf("signed in as: got %q, want %q", got, want)
			}
			u, ok := ts.ssoUser(t, tc.user.Subject)
			if !ok || u.Role != tc.wantRole || u.OIDCIssuer != idp.URL() || u.PasswordHash != "" || u.LastSignInAt.IsZero() {
				t.Errorf("user: got %+v (found %v), want role %s, the provider's issuer, no password, a last sign-in", u, ok, tc.wantRole)
			}
		})
	}
	before, _ := ts.store.CountUsers(context.Background())
	idp.AddUser(fakeidp.User{Login: "alice", Subject: ssoAlice.Subject, Email: "alice.new@example.com", Groups: []string{"airlock-viewers"}})
	c := ts.newClient()
	if r := c.ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
		t.Fatalf("second sign-in: got %d\n%s", r.status, r.body)
	}
	after, _ := ts.store.CountUsers(context.Background())
	u, _ := ts.ssoUser(t, ssoAlice.Subject)
	if after != before || u.Role != store.RoleViewer || u.Email != "alice.new@example.com" {
		t.Errorf("second sign-in: got %d users (want %d), role %s (want viewer), email %s", after, before, u.Role, u.Email)
	}
	if r := c.get("/users"); r.status != http.StatusForbidden {
		t.Errorf("alice as viewer on /users: got %d, want 403", r.status)
	}
}

// TestSSOAuthorizationRequest: the redirect to the provider carries the
// configured scopes, a nonce, a PKCE S256 challenge, a state, and the
// redirect URI <public URL>/auth/oidc/callback; nothing of it is in the cookie.
func TestSSOAuthorizationRequest(t *testing.T) {
	ts, idp := newSSOServer(t)
	c := ts.newClient()
	to := c.ssoStart(t, "/")
	if !strings.HasPrefix(to, idp.URL()+"/authorize?") {
		t.Fatalf("start redirects to %q, want the provider's authorization endpoint", to)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	want := map[string]string{"client_id": ssoClientID, "response_type": "code", "scope": "openid email profile",
		"redirect_uri": ts.srv.URL + OIDCCallbackPath, "code_challenge_method": "S256"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s: got %q, want %q", k, q.Get(k), v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("%s: got %q, want 256 random bits", k, q.Get(k))
		}
	}
	if n, _ := ts.store.CountSessions(context.Background()); n != 1 {
		t.Errorf("sessions after the start: got %d, want 1 (the start makes the row)", n)
	}
	base, _ := url.Parse(ts.srv.URL)
	if cs := c.http.Jar.Cookies(base); len(cs) != 1 || cs[0].Name != SessionCookie || len(cs[0].Value) > 200 {
		t.Errorf("cookies: got %v, want only the session cookie", cs)
	}
}

// TestSSORefusals: every way the provider's answer can be wrong is refused
// with a page that says what happened, and signs nobody in.
func TestSSORefusals(t *testing.T) {
	cases := []struct {
		name       string
		login      string
		set        func(b *fakeidp.Behaviour)
		idp        func(p *fakeidp.Provider)
		wantStatus int
		wantText   string
	}{
		{"wrong audience", "alice", func(b *fakeidp.Behaviour) { b.Audience = "another-client" }, nil, 401, "expected audience"},
		{"wrong issuer", "alice", func(b *fakeidp.Behaviour) { b.TokenIssuer = "https://evil.example" }, nil, 401, "different provider"},
		{"wrong nonce", "alice", func(b *fakeidp.Behaviour) {
			b.Tamper = func(c map[string]any) { c["nonce"] = "a-nonce-from-another-sign-in" }
		}, nil, 401, "nonce"},
		{"no nonce", "alice", func(b *fakeidp.Behaviour) { b.Tamper = func(c map[string]any) { delete(c, "nonce") } }, nil, 401, "nonce"},
		{"expired token", "alice", func(b *fakeidp.Behaviour) {
			b.Tamper = func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }
		}, nil, 401, "already expired"},
		{"key not published", "alice", nil, func(p *fakeidp.Provider) { p.SignWithUnpublishedKey() }, 401, "signature"},
		{"several audiences without azp", "alice", func(b *fakeidp.Behaviour) { b.Audience = []string{ssoClientID, "other"} }, nil, 401, "authorized party"},
		{"missing group", "carol", nil, nil, 403, "none of the groups"},
		{"no groups claim", "alice", func(b *fakeidp.Behaviour) { b.GroupsClaim = "roles" }, nil, 403, `sent no &#34;groups&#34; claim`},
		{"groups not strings", "alice", func(b *fakeidp.Behaviour) {
			b.Tamper = func(c map[string]any) { c["groups"] = map[string]any{"admin": true} }
		}, nil, 403, "neither a string nor a list"},
		{"userinfo for another subject", "alice", func(b *fakeidp.Behaviour) {
			b.GroupsInUserinfo, b.UserinfoSubject = true, "sub-mallory"
		}, nil, 401, "userinfo answered for subject"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, idp := newSSOServer(t)
			if tc.set != nil {
				idp.Set(tc.set)
			}
			if tc.idp != nil {
				tc.idp(idp)
			}
			c := ts.newClient()
			r := c.ssoSignIn(t, idp, tc.login)
			if r.status != tc.wantStatus || !strings.Contains(r.body, tc.wantText) {
				t.Errorf("got %d, want %d with %q\n%s", r.status, tc.wantStatus, tc.wantText, truncate(r.body, 1500))
			}
			if !strings.Contains(r.body, `id="sso-problem"`) || !strings.Contains(r.body, `href="/signin"`) {
				t.Errorf("the refusal is not the single sign-on problem page with the way back")
			}
			if who := c.signedInAs(t); who != "" {
				t.Errorf("signed in as %q after a refused sign-in", who)
			}
			if n, _ := ts.store.CountUsers(context.Background()); n != 0 {
				t.Errorf("users after a refused sign-in: got %d, want 0", n)
			}
		})
	}
}

// TestSSOMissingGroupSaysWhatToAskFor: the refusal names the groups that
// would give a role.
func TestSSOMissingGroupSaysWhatToAskFor(t *testing.T) {
	ts, idp := newSSOServer(t)
	r := ts.newClient().ssoSignIn(t, idp, "carol")
	for _, want := range []string{"carol@example.com", "admin: airlock-admins", "builder: airlock-builders", "viewer: airlock-viewers", "Ask your administrator"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("refusal page: missing %q\n%s", want, truncate(r.body, 1500))
		}
	}
}

// TestSSOProviderProblems: a denial at the provider, and a provider whose
// discovery names another issuer, get pages that say so.
func TestSSOProviderProblems(t *testing.T) {
	ts, idp := newSSOServer(t)
	c := ts.newClient()
	back, err := idp.Deny(c.ssoStart(t, "/"))
	if err != nil {
		t.Fatal(err)
	}
	before := idp.TokenRequests.Load()
	if r := c.callback(t, back); r.status != http.StatusForbidden || !strings.Contains(r.body, "access_denied") {
		t.Errorf("denied: got %d\n%s", r.status, truncate(r.body, 800))
	}
	if idp.TokenRequests.Load() != before {
		t.Error("a denied sign-in called the token endpoint")
	}

	ts2, idp2 := newSSOServer(t)
	idp2.Set(func(b *fakeidp.Behaviour) { b.Issuer = "https://login.example.com" })
	c2 := ts2.newClient()
	c2.get("/setup")
	r := c2.post(OIDCStartPath, url.Values{})
	if r.status != http.StatusBadGateway || !strings.Contains(r.body, "says its issuer is https://login.example.com") {
		t.Errorf("issuer mismatch at discovery: got %d\n%s", r.status, truncate(r.body, 800))
	}
}

// TestSSOKeyRotation: a provider that rotates its signing key is followed —
// an ID token naming a key Airlock has not seen makes it fetch the key set
// again — whether or not the old key stays published.
func TestSSOKeyRotation(t *testing.T) {
	ts, idp := newSSOServer(t)
	if r := ts.newClient().ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
		t.Fatalf("first sign-in: got %d\n%s", r.status, r.body)
	}
	for _, keepOld := range []bool{false, true} {
		fetches := idp.JWKSFetches.Load()
		idp.RotateKey(keepOld)
		c := ts.newClient()
		if r := c.ssoSignIn(t, idp, "bob"); r.status != http.StatusSeeOther {
			t.Fatalf("after a rotation (keep old %v): got %d\n%s", keepOld, r.status, truncate(r.body, 800))
		}
		if idp.JWKSFetches.Load() <= fetches {
			t.Errorf("keep old %v: the key set was not fetched again after the rotation", keepOld)
		}
		fetches = idp.JWKSFetches.Load()
		if r := ts.newClient().ssoSignIn(t, idp, "dave"); r.status != http.StatusSeeOther {
			t.Fatalf("second sign-in with the new key: got %d", r.status)
		}
		if idp.JWKSFetches.Load() != fetches {
			t.Errorf("keep old %v: a known key made Airlock fetch the key set again", keepOld)
		}
	}
}

// TestSSOGroupsFromUserinfoAndNestedClaims: groups missing from the ID token
// are read from userinfo; a dotted claim name reaches into an object, and
// a claim whose own name has dots is found as it is.
func TestSSOGroupsFromUserinfoAndNestedClaims(t *testing.T) {
	cases := []struct {
		name  string
		claim string
		set   func(b *fakeidp.Behaviour)
	}{
		{"userinfo", "groups", func(b *fakeidp.Behaviour) { b.GroupsInUserinfo = true }},
		{"nested", "realm_access.roles", func(b *fakeidp.Behaviour) {
			b.GroupsClaim = "none"
			b.Tamper = func(c map[string]any) { c["realm_access"] = map[string]any{"roles": []string{"airlock-admins"}} }
		}},
		{"namespaced", "https://airlock.example/groups", func(b *fakeidp.Behaviour) { b.GroupsClaim = "https://airlock.example/groups" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, idp := newSSOServer(t, func(d *Deps) { d.Config.OIDC.RoleClaim = tc.claim })
			idp.Set(tc.set)
			if r := ts.newClient().ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
				t.Fatalf("got %d\n%s", r.status, truncate(r.body, 800))
			}
			if u, _ := ts.ssoUser(t, ssoAlice.Subject); u.Role != store.RoleAdmin {
				t.Errorf("role: got %q, want admin", u.Role)
			}
		})
	}
}

// TestSSOStateIsBoundSingleUseAndShortLived: a callback in another browser
// is refused without spending the flow (its owner can still finish), a
// callback works once, and not after 10 minutes.
func TestSSOStateIsBoundSingleUseAndShortLived(t *testing.T) {
	ts, idp := newSSOServer(t)
	owner, thief := ts.newClient(), ts.newClient()
	back, err := idp.Approve(owner.ssoStart(t, "/"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r := thief.callback(t, back); r.status != http.StatusBadRequest || !strings.Contains(r.body, "another browser") {
		t.Errorf("callback in another browser: got %d\n%s", r.status, truncate(r.body, 800))
	}
	if who := thief.signedInAs(t); who != "" {
		t.Errorf("the other browser is signed in as %q", who)
	}
	if r := owner.callback(t, back); r.status != http.StatusSeeOther {
		t.Fatalf("the owner after the refused thief: got %d\n%s", r.status, truncate(r.body, 800))
	}
	if r := owner.callback(t, back); r.status != http.StatusBadRequest {
		t.Errorf("the same callback again: got %d, want 400", r.status)
	}
	// A callback whose exchange failed has spent its state all the same.
	idp.Set(func(b *fakeidp.Behaviour) { b.Audience = "another-client" })
	again := ts.newClient()
	back, _ = idp.Approve(again.ssoStart(t, "/"), "bob")
	if r := again.callback(t, back); r.status != http.StatusUnauthorized {
		t.Fatalf("a refused token: got %d", r.status)
	}
	idp.Set(func(b *fakeidp.Behaviour) { b.Audience = nil })
	if r := again.callback(t, back); r.status != http.StatusBadRequest || !strings.Contains(r.body, "already completed") {
		t.Errorf("the callback of a refused sign-in again: got %d", r.status)
	}
	late := ts.newClient()
	back, _ = idp.Approve(late.ssoStart(t, "/"), "bob")
	ts.clock.Add(oidcFlowTTL + time.Second)
	if r := late.callback(t, back); r.status != http.StatusBadRequest || !strings.Contains(r.body, "more than 10 minutes") {
		t.Errorf("a callback after 10 minutes: got %d", r.status)
	}
	if r := late.get(OIDCCallbackPath + "?code=x"); r.status != http.StatusBadRequest {
		t.Errorf("a callback without state: got %d, want 400", r.status)
	}
}

// TestSSODisabledUserStaysLockedOut: disabling a single sign-on user ends
// their session and refuses their next sign-in, whatever their groups say.
func TestSSODisabledUserStaysLockedOut(t *testing.T) {
	ts, idp := newSSOServer(t)
	c := ts.newClient()
	c.ssoSignIn(t, idp, "bob")
	u, _ := ts.ssoUser(t, ssoBob.Subject)
	admin := ts.signedIn(store.RoleAdmin)
	admin.get("/users")
	if r := admin.post("/users/"+strconvFormat(u.ID), url.Values{"action": {"disable"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: got %d", r.status)
	}
	if who := c.signedInAs(t); who != "" {
		t.Errorf("the disabled user's session goes on as %q", who)
	}
	r := ts.newClient().ssoSignIn(t, idp, "bob")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "disabled") {
		t.Errorf("sign-in of a disabled user: got %d\n%s", r.status, truncate(r.body, 800))
	}
	if got, _ := ts.ssoUser(t, ssoBob.Subject); !got.Disabled() {
		t.Error("the sign-in enabled the user again")
	}
}

// TestSSOUsersHaveNoAirlockPassword: a single sign-on user has no password
// to change or reset, and their role is not changed in the console.
func TestSSOUsersHaveNoAirlockPassword(t *testing.T) {
	ts, idp := newSSOServer(t)
	c := ts.newClient()
	c.ssoSignIn(t, idp, "alice")
	if r := c.get("/account/password"); r.status != http.StatusConflict || !strings.Contains(r.body, "identity provider") {
		t.Errorf("password page: got %d", r.status)
	}
	if r := c.get("/"); strings.Contains(r.body, `href="/account/password"`) {
		t.Error("the header links to the password page")
	}
	u, _ := ts.ssoUser(t, ssoAlice.Subject)
	id := strconvFormat(u.ID)
	admin := ts.signedIn(store.RoleAdmin)
	page := admin.get("/users")
	if !strings.Contains(page.body, "single sign-on") || strings.Contains(page.body, "/users/"+id+"/reset-password") {
		t.Error("users page: want alice shown signing in with single sign-on and no reset button")
	}
	if r := admin.post("/users/"+id, url.Values{"action": {"role"}, "role": {"viewer"}}); r.status != http.StatusConflict {
		t.Errorf("role change of a single sign-on user: got %d, want 409", r.status)
	}
	admin.get("/users")
	admin.post("/users/"+id+"/reset-password", nil)
	if got, _ := ts.store.GetUser(context.Background(), u.ID); got.PasswordHash != "" || got.Role != store.RoleAdmin {
		t.Errorf("after a reset and a role change: got hash %q role %s, want none and admin", got.PasswordHash, got.Role)
	}
}

// TestSSOFirstSignInEndsSetup: before anyone exists, the setup page offers
// single sign-on, and the first user it makes ends first-run setup.
func TestSSOFirstSignInEndsSetup(t *testing.T) {
	ts, idp := newSSOServer(t)
	ts.setupCode()
	c := ts.newClient()
	if r := c.get("/setup"); !strings.Contains(r.body, "Sign in with Example SSO") {
		t.Fatalf("setup page without the single sign-on button:\n%s", truncate(r.body, 800))
	}
	if r := c.ssoSignIn(t, idp, "alice"); r.status != http.StatusSeeOther {
		t.Fatalf("got %d", r.status)
	}
	if r := ts.newClient().get("/setup"); r.status != http.StatusNotFound {
		t.Errorf("setup after the first single sign-on: got %d, want 404", r.status)
	}
	if _, err := ts.store.GetSetting(context.Background(), store.SettingSetupCode); err == nil {
		t.Error("the setup code is still there")
	}
}

// TestSSOCallbackOfStrangersWritesNothing: callbacks with unknown states,
// sent without a cookie, add no row anywhere.
func TestSSOCallbackOfStrangersWritesNothing(t *testing.T) {
	ts, _ := newSSOServer(t)
	ts.addUser("frank@example.com", store.RoleAdmin)
	before := rowCounts(t, ts)
	anonymousGETs(t, ts, 50, []string{OIDCCallbackPath + "?state=" + strings.Repeat("s", 43) + "&code=c", OIDCCallbackPath, "/signin"})
	after := rowCounts(t, ts)
	for tb, b := range before {
		if after[tb] != b {
			t.Errorf("table %s: got %d rows, want %d", tb, after[tb], b)
		}
	}
}
