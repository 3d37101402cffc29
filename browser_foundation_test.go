package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserFirstPage starts the real server on an empty data dir, loads the
// first page in Chromium, and checks the layout renders with its CSS and htmx,
// that the CSP reports no violation, and that the only cookie is the session
// cookie, under 200 bytes.
func TestBrowserFirstPage(t *testing.T) {
	rs := startServer(t, t.TempDir(), nil)
	b := newBrowser(t)

	// Record CSP violations from inside the page, and console messages.
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var console []string
	cctx, stop := context.WithCancel(b.ctx)
	defer stop()
	messages := chromedp.Console(cctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, string(m.Type)+": "+m.Text)
			mu.Unlock()
		}
	}()

	b.do("open the first page", chromedp.Navigate(rs.URL), chromedp.WaitVisible(chromedp.CSS("#setup-title")))
	if loc := b.location(); !strings.HasSuffix(loc, "/setup") {
		t.Errorf("first page: got %s, want the setup page", loc)
	}
	if got := b.text("#setup-title"); got != "Set up Airlock" {
		t.Errorf("heading: got %q", got)
	}
	radius := runB(b, "css", chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".card")).borderRadius`))
	if radius != "8px" {
		t.Errorf("stylesheet not applied: .card border-radius got %q, want 8px", radius)
	}
	version := runB(b, "htmx", chromedp.Evaluate[string](`window.htmx ? htmx.version : ""`))
	if !strings.HasPrefix(version, "2.0.") {
		t.Errorf("htmx: got version %q, want 2.0.x loaded", version)
	}
	// The label of every input is tied to it (keyboard and screen readers).
	unlabelled := runB(b, "labels", chromedp.Evaluate[int](
		`[...document.querySelectorAll("input:not([type=hidden]), select, textarea")].filter(i => !document.querySelector("label[for='" + i.id + "']")).length`))
	if unlabelled != 0 {
		t.Errorf("inputs without a label: %d", unlabelled)
	}
	b.shot("setup")

	time.Sleep(300 * time.Millisecond) // let late console messages arrive
	csp := runB(b, "csp", chromedp.Evaluate[[]string](`window.__csp`))
	if len(csp) != 0 {
		t.Errorf("CSP violations: %v", csp)
	}
	mu.Lock()
	for _, m := range console {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "error") || strings.HasPrefix(m, "exception") {
			t.Errorf("console: %s", m)
		}
	}
	mu.Unlock()
	b.sessionCookieOnly()
}
