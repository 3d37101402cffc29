package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"airlock/oauthflow/fakeprovider"
)

// TestBrowserTrace fails a connect on purpose (a wrong client secret, which
// the fake provider answers 401 invalid_client), follows the link on the
// failure page to the trace, expands the code exchange, and finds the masked
// Basic header, no plaintext secret, the invalid_client hint, and a curl
// command that keeps the mask. Screenshots of the trace page in light and
// dark mode, at 1280 px and 390 px, go to AIRLOCK_SCREENSHOTS (or the
// test's temp dir), named in the log.
func TestBrowserTrace(t *testing.T) {
	const secret = "wrong-secret-0123456789"
	p := fakeprovider.New(fakeprovider.Options{AccessTTL: time.Hour})
	defer p.Close()
	dir := t.TempDir()
	rs := startServer(t, dir, map[string]string{"AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true"})
	b := newBrowser(t)
	setupAdmin(t, b, rs)
	key := adminKey(t, dir)
	status, in := apiCall(t, "POST", rs.URL+"/api/v1/integrations", key, map[string]any{
		"key": "fake", "name": "Fake CRM",
		"oauth2": map[string]any{"grant_type": "authorization_code", "authorization_url": p.AuthorizeURL(), "token_url": p.TokenURL(),
			"scope": "read", "client_id": fakeprovider.DefaultClientID, "client_secret": secret, "client_auth": "basic", "pkce": true},
		"token":         map[string]any{"name": "Authorization", "template": "Bearer {token}", "in": "header"},
		"api_base_urls": []string{p.APIURL()},
	})
	if status != 201 {
		t.Fatalf("create integration: %d %v", status, in)
	}
	status, acct := apiCall(t, "POST", rs.URL+"/api/v1/integrations/fake/accounts", key, map[string]any{"name": "prod"})
	if status != 201 {
		t.Fatalf("create account: %d %v", status, acct)
	}
	id := acct["id"].(string)

	b.do("connect with the wrong secret",
		chromedp.Navigate(rs.URL+"/accounts/"+id),
		chromedp.WaitVisible(chromedp.ID("no-traces")),
		chromedp.Click(chromedp.ID("connect")),
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("trace-link")),
	)
	b.do("follow the link to the trace", chromedp.Click(chromedp.ID("trace-link")), chromedp.WaitVisible(chromedp.ID("diagnosis")))
	if loc := b.location(); !strings.HasPrefix(loc, rs.URL+"/accounts/"+id+"/traces/") {
		t.Errorf("trace page at %s", loc)
	}
	if got := b.text("#diagnosis-hint"); !strings.Contains(got, "client") {
		t.Errorf("hint: got %q, want one naming the client id and secret", got)
	}
	code := runB(b, "diagnosis code", chromedp.Evaluate[string](`document.getElementById("diagnosis").dataset.code`))
	if code != "invalid_client" {
		t.Errorf("diagnosis code: got %q, want invalid_client", code)
	}

	// The code exchange step: expand it, read its Authorization header.
	step := runB(b, "find the code exchange", chromedp.Evaluate[string](
		`[...document.querySelectorAll(".timeline .step")].find(s => s.querySelector(".step-name").textContent === "code exchange")?.id || ""`))
	if step == "" {
		t.Fatal("no code exchange step on the trace page")
	}
	b.do("expand the code exchange", chromedp.Click(chromedp.CSS("#"+step+" summary")), chromedp.WaitVisible(chromedp.CSS("#"+step+"-req")))
	auth := b.text("#" + step + "-req")
	if !strings.Contains(auth, "Basic ••••") {
		t.Errorf("request headers: got %q, want Authorization Basic ••••…", auth)
	}
	b.do("copy as curl", chromedp.Click(chromedp.CSS("#"+step+" [data-curl-out]")), chromedp.WaitVisible(chromedp.ID(step+"-curl")))
	curl := b.value("#" + step + "-curl")
	if !strings.HasPrefix(curl, "curl -X POST '"+p.TokenURL()) || !strings.Contains(curl, "Authorization: Basic ••••") {
		t.Errorf("curl: got %q, want a POST to the token URL with the masked Basic header", curl)
	}
	html := runB(b, "page html", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	basic := base64.StdEncoding.EncodeToString([]byte(fakeprovider.DefaultClientID + ":" + secret))
	for _, s := range []string{secret, basic} {
		if strings.Contains(html, s) || strings.Contains(curl, s) {
			t.Errorf("the trace page holds the plaintext %q", s)
		}
	}
	noCSPViolations(b, "the trace page")
	traceShots(t, b)
}

// traceShots saves the trace page in light and dark mode, wide and at
// 390 px, and logs where.
func traceShots(t *testing.T, b *browser) {
	t.Helper()
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	for _, mode := range []string{"light", "dark"} {
		for _, width := range []int64{1280, 390} {
			_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: mode}}})
			if err != nil {
				t.Fatalf("%s mode: %v", mode, err)
			}
			b.do("viewport", chromedp.EmulateViewport(width, 900), chromedp.Sleep(200*time.Millisecond))
			runB(b, "scroll to top", chromedp.Evaluate[int](`window.scrollTo(0, 0), 0`))
			png := runB(b, "screenshot", chromedp.FullScreenshot(100))
			file := filepath.Join(dir, "trace-"+mode+"-"+map[int64]string{1280: "wide", 390: "390"}[width]+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", file)
		}
	}
}
