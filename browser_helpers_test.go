package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browserRequiredEnv makes browser tests fail instead of skipping when Chromium
// is missing. .ci/run sets it.
const browserRequiredEnv = "AIRLOCK_BROWSER_TESTS"

// screenshotDirEnv, when set, makes browser tests save PNGs of the pages they
// visit, for people to look at.
const screenshotDirEnv = "AIRLOCK_SCREENSHOTS"

// browser is one headless Chromium with a fresh profile, driven by chromedp.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts Chromium, or skips (fails in CI) when it is not installed.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv(browserRequiredEnv) == "required" {
			t.Fatalf("chromium is not on PATH and %s=required: install it (apt-get install -y chromium)", browserRequiredEnv)
		}
		t.Skipf("chromium is not on PATH: browser test skipped (install chromium, or set %s=required to make this a failure)", browserRequiredEnv)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, without a timeout on this first call
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// do runs steps with a time limit, failing the test on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

func runB[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.shot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return runB(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	return runB(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (b *browser) location() string {
	b.t.Helper()
	return runB(b, "location", chromedp.Location())
}

func (b *browser) cookies() []*network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatalf("get cookies: %v", err)
	}
	return res.Cookies
}

// shot saves a PNG of the page when AIRLOCK_SCREENSHOTS names a directory.
func (b *browser) shot(name string) {
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// sessionCookieOnly checks the browser holds exactly one cookie, the session
// cookie, under 200 bytes.
func (b *browser) sessionCookieOnly() {
	b.t.Helper()
	cs := b.cookies()
	if len(cs) != 1 || cs[0].Name != "airlock_session" {
		names := []string{}
		for _, c := range cs {
			names = append(names, c.Name)
		}
		b.t.Errorf("cookies: got %v, want only airlock_session", names)
		return
	}
	if size := len(cs[0].Name) + 1 + len(cs[0].Value); size >= 200 {
		b.t.Errorf("session cookie: got %d bytes, want < 200", size)
	}
}
