package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	for _, path := range []string{"/setup", "/nowhere", "/healthz", "/static/" + ts.h.assets + "/app.css"} {
		r := c.get(path)
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q, want script-src 'self', frame-ancestors 'none', no unsafe-inline", path, csp)
		}
		if got := r.header.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("%s: Referrer-Policy got %q, want same-origin", path, got)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options got %q, want nosniff", path, got)
		}
	}
}

func TestNoInlineScriptInPages(t *testing.T) {
	ts := newTestServer(t)
	r := ts.newClient().get("/setup")
	for _, bad := range []string{"<script>", "onclick=", "onload=", "style=\""} {
		if strings.Contains(r.body, bad) {
			t.Errorf("setup page contains %q, which the CSP forbids", bad)
		}
	}
	if !strings.Contains(r.body, `"includeIndicatorStyles":false`) && !strings.Contains(r.body, `&#34;includeIndicatorStyles&#34;:false`) {
		t.Error("htmx indicator styles are not turned off in htmx-config")
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name   string
		hdr    []string
		token  bool
		status int
	}{
		{"cross-site with a valid token", []string{"Sec-Fetch-Site", "cross-site"}, true, http.StatusForbidden},
		{"foreign Origin with a valid token", []string{"Origin", "https://evil.example"}, true, http.StatusForbidden},
		{"same-origin without a token", []string{"Sec-Fetch-Site", "same-origin"}, false, http.StatusForbidden},
		{"same-origin with a valid token", []string{"Sec-Fetch-Site", "same-origin"}, true, http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.newClient()
			c.get("/setup")
			form := url.Values{"code": {"wrong"}, "email": {"a@example.com"}, "password": {"short"}}
			if !tc.token {
				form.Set("_csrf", "")
			}
			r := c.post("/setup", form, tc.hdr...)
			if r.status != tc.status {
				t.Errorf("status: got %d, want %d", r.status, tc.status)
			}
		})
	}
}

func TestCSRFHeaderAcceptedForHTMX(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	c.get("/setup")
	r := c.post("/setup", url.Values{"_csrf": {""}, "code": {"x"}}, "X-CSRF-Token", c.csrf, "HX-Request", "true")
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("htmx post with X-CSRF-Token: got %d, want 422 (validation, not CSRF)", r.status)
	}
}

func TestOversizeCookieGetsClearingPage(t *testing.T) {
	ts := newTestServer(t)
	for _, size := range []int{7 * 1024, 16 * 1024} {
		c := ts.newClient()
		req, _ := http.NewRequest("GET", ts.srv.URL+"/integrations", nil)
		var parts []string
		for i := 0; len(strings.Join(parts, "; ")) < size; i++ {
			parts = append(parts, "stale"+strings.Repeat("x", 3)+string(rune('a'+i%26))+strings.Repeat("0", i%7)+"="+strings.Repeat("v", 200))
		}
		req.Header.Set("Cookie", strings.Join(parts, "; "))
		r := c.do(req)
		if r.status != http.StatusOK {
			t.Errorf("%d B cookie: status got %d, want 200", size, r.status)
		}
		if got := r.header.Get("Clear-Site-Data"); got != `"cookies"` {
			t.Errorf("%d B cookie: Clear-Site-Data got %q, want \"cookies\"", size, got)
		}
		if !strings.Contains(r.body, `href="/"`) || !strings.Contains(r.body, "Start again") {
			t.Errorf("%d B cookie: page has no link to start again", size)
		}
		if len(r.header.Values("Set-Cookie")) == 0 {
			t.Errorf("%d B cookie: no cookie expired by name", size)
		}
		// The next, clean request works normally.
		if r2 := ts.newClient().get("/setup"); r2.status != http.StatusOK {
			t.Errorf("clean request after the reset: got %d, want 200", r2.status)
		}
	}
}

func TestOnlyOneSmallCookie(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	r := c.get("/setup")
	cookies := r.header.Values("Set-Cookie")
	if len(cookies) != 1 || !strings.HasPrefix(cookies[0], SessionCookie+"=") {
		t.Fatalf("Set-Cookie: got %q, want exactly the session cookie", cookies)
	}
	nameValue, _, _ := strings.Cut(cookies[0], ";")
	if len(nameValue) >= 200 {
		t.Errorf("session cookie: got %d bytes, want < 200", len(nameValue))
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookies[0], attr) {
			t.Errorf("session cookie %q lacks %s", cookies[0], attr)
		}
	}
}

func TestStaticAssetsAreVersionedAndCached(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	for _, f := range []string{"app.css", "app.js", "htmx.min.js"} {
		r := c.get("/static/" + ts.h.assets + "/" + f)
		if r.status != http.StatusOK || !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: got %d %q, want 200 with an immutable cache", f, r.status, r.header.Get("Cache-Control"))
		}
	}
	if r := c.get("/static/" + ts.h.assets + "/htmx.min.js"); !strings.Contains(r.body, `version:"2.0.`) {
		t.Error("vendored htmx is not a 2.0.x build")
	}
	if r := c.get("/static/old/app.css"); r.status != http.StatusFound || !strings.Contains(r.header.Get("Location"), ts.h.assets) {
		t.Errorf("old version: got %d to %q, want 302 to the current version", r.status, r.header.Get("Location"))
	}
	if r := c.get("/static/" + ts.h.assets + "/nope.js"); r.status != http.StatusNotFound {
		t.Errorf("unknown asset: got %d, want 404", r.status)
	}
}

func TestErrorPagesFullPartialAndJSON(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	full := c.get("/no/such/page")
	if full.status != 404 || !strings.Contains(full.body, "<html") || !strings.Contains(full.body, "Page not found") {
		t.Errorf("full 404: got %d, body without the layout or title", full.status)
	}
	if strings.Contains(full.body, `aria-label="Main"`) {
		t.Error("full 404 for a stranger shows the console navigation")
	}
	// A signed-in user who mistypes a link keeps the navigation (and whom
	// they are signed in as) around the 404.
	signed := ts.signedIn("viewer").get("/no/such/page")
	if signed.status != 404 || !strings.Contains(signed.body, `aria-label="Main"`) || !strings.Contains(signed.body, `href="/integrations"`) {
		t.Errorf("signed-in 404: got %d, body without the navigation", signed.status)
	}
	part := c.get("/no/such/page", "HX-Request", "true")
	if part.status != 404 || strings.Contains(part.body, "<html") || !strings.Contains(part.body, `role="alert"`) {
		t.Errorf("htmx 404: got %d %q, want a partial alert", part.status, part.body)
	}
	if got := part.header.Get("HX-Retarget"); got != "#flash" {
		t.Errorf("htmx 404 HX-Retarget: got %q, want #flash", got)
	}
	api := ts.api("GET", "/api/v1/nothing", "", "")
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(api.body), &body); err != nil || api.status != 404 || body.Error.Code != "not_found" {
		t.Errorf("API 404: got %d %q, want JSON error not_found", api.status, api.body)
	}
}

func TestHealthAndReady(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	if r := c.get("/healthz"); r.status != 200 {
		t.Errorf("/healthz: got %d, want 200", r.status)
	}
	if r := c.get("/readyz"); r.status != 200 {
		t.Errorf("/readyz: got %d, want 200", r.status)
	}
	ts.store.Close()
	if r := c.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed: got %d, want 503", r.status)
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient()
	c.get("/setup")
	c.get("/internal/sessions/v1/auth/callback?code=SECRETCODE123&state=SECRETSTATE456")
	c.get("/connect/SECRETLINKTOKEN789")
	req, _ := http.NewRequest("GET", ts.srv.URL+"/setup", nil)
	req.Header.Set("Authorization", "Bearer SECRETBEARER789")
	c.do(req)
	logs := ts.logs.String()
	for _, s := range []string{"SECRETCODE123", "SECRETSTATE456", "SECRETBEARER789", "SECRETLINKTOKEN789", SessionCookie + "="} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains %q", s)
		}
	}
	if !strings.Contains(logs, "path=/internal/sessions/v1/auth/callback") {
		t.Error("the callback request was not logged at all")
	}
}

func TestUnknownRoutesAre404WithoutASession(t *testing.T) {
	ts := newTestServer(t)
	key := ts.apiKey("admin")
	for _, tc := range []struct{ method, path string }{{"POST", "/api/v1/nope"}, {"GET", "/api/v1/nope"}, {"PATCH", "/api/v1/integrations/x"}} {
		r := ts.api(tc.method, tc.path, key, "")
		if r.status != 404 && r.status != 405 || !strings.Contains(r.body, `"code"`) {
			t.Errorf("%s %s: got %d %s, want 404/405 in the API's error shape", tc.method, tc.path, r.status, r.body)
		}
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s %s set a cookie", tc.method, tc.path)
		}
	}
}
