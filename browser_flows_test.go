package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"airlock/oauthflow/fakeprovider"
)

// The shape of the many-flows test: flowAccounts connect flows spread over
// flowTabs tabs of one browser (one cookie jar, one Airlock session).
const (
	flowTabs     = 5
	flowAccounts = 50
	// maxCookieBytes is the largest Cookie header Airlock may cause: one
	// session cookie is under 200 bytes, so 1 KB means nothing accumulates.
	maxCookieBytes = 1024
	// staleCookieBytes is the Cookie header the stale-cookie check sends.
	staleCookieBytes = 16 * 1024
)

// netStats is what a netWatch saw since its last take.
type netStats struct {
	cookies   []string    // the Cookie header of each request to Airlock, in order
	perTab    map[int]int // requests to Airlock, by tab
	maxCookie int         // bytes of the largest Cookie header sent to Airlock
	staleSent int         // requests to Airlock that carried a stale… cookie
	status431 []string    // responses with 431, from any origin
	clearSite []string    // Clear-Site-Data headers received, from any origin
}

// netWatch listens to the network events of every tab: the raw request
// headers (Network.requestWillBeSentExtraInfo, which carry the Cookie header
// the browser really sent) and the response statuses. chromedp enables the
// Network domain on every target it attaches, so no command is needed.
type netWatch struct {
	host string // host:port of Airlock, as in the Host header
	mu   sync.Mutex
	st   netStats
}

func newNetWatch(base string) *netWatch {
	u, _ := url.Parse(base)
	return &netWatch{host: u.Host, st: netStats{perTab: map[int]int{}}}
}

// listener returns the func for tab i. It runs in the tab's read loop, so it
// only records.
func (w *netWatch) listener(tab int) func(ev any) {
	return func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSentExtraInfo:
			if headerValue(ev.Headers, "Host") != w.host {
				return
			}
			w.st.perTab[tab]++
			cookie := headerValue(ev.Headers, "Cookie")
			w.st.cookies = append(w.st.cookies, cookie)
			w.st.maxCookie = max(w.st.maxCookie, len(cookie))
			for pair := range strings.SplitSeq(cookie, "; ") {
				if strings.HasPrefix(pair, "stale") {
					w.st.staleSent++
					break
				}
			}
		case *network.EventResponseReceived:
			if ev.Response.Status == http.StatusRequestHeaderFieldsTooLarge {
				w.st.status431 = append(w.st.status431, ev.Response.URL)
			}
		case *network.EventResponseReceivedExtraInfo:
			if ev.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
				w.st.status431 = append(w.st.status431, "request "+string(ev.RequestID))
			}
			if v := headerValue(ev.Headers, "Clear-Site-Data"); v != "" {
				w.st.clearSite = append(w.st.clearSite, v)
			}
		}
	}
}

// take returns what was seen since the last take and starts afresh.
func (w *netWatch) take() netStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	w.st = netStats{perTab: map[int]int{}}
	return st
}

func (st netStats) no431(t *testing.T) {
	t.Helper()
	if len(st.status431) > 0 {
		t.Errorf("responses with 431: %v", st.status431)
	}
}

// headerValue finds a header in a CDP header map whatever its case.
func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// TestBrowserManyFlows starts 50 connect flows in 5 tabs of one browser
// before any completes, then completes them all: every account ends up
// connected, the Cookie header sent to Airlock stays under 1 KB and nothing
// answers 431. Then a 16 KB Cookie header of stale cookies gets the clearing
// page, and the next request is clean.
func TestBrowserManyFlows(t *testing.T) {
	p := fakeprovider.New(fakeprovider.Options{AccessTTL: time.Hour, RotateRefreshTokens: true})
	defer p.Close()
	dir := t.TempDir()
	rs := startServer(t, dir, map[string]string{"AIRLOCK_ALLOW_PRIVATE_NETWORKS": "true"})
	b := newBrowser(t)
	watch := newNetWatch(rs.URL)
	if err := chromedp.Listen(b.ctx, watch.listener(0)); err != nil {
		t.Fatal(err)
	}
	setupAdmin(t, b, rs)
	key := adminKey(t, dir)
	ids := createFlowAccounts(t, rs.URL, key, p)
	tabs := openTabs(t, b, watch)

	start := time.Now()
	consent := startFlows(t, tabs, rs.URL, p, ids)
	t.Logf("started %d flows in %d tabs in %v", flowAccounts, flowTabs, time.Since(start).Round(time.Millisecond))
	if got := pendingFlows(t, rs.URL); got != flowAccounts {
		t.Errorf("pending flows after every Connect: got %d, want %d", got, flowAccounts)
	}
	wantStatus(t, rs.URL, key, ids, "pending")

	start = time.Now()
	shown := approveFlows(t, tabs, rs.URL, consent, ids)
	t.Logf("approved %d flows in %v", flowAccounts, time.Since(start).Round(time.Millisecond))
	eachFlashOnce(t, shown)
	wantStatus(t, rs.URL, key, ids, "connected")
	if got := pendingFlows(t, rs.URL); got != 0 {
		t.Errorf("pending flows after every approval: got %d, want 0", got)
	}
	b.sessionCookieOnly()

	flowTraffic(t, watch.take())
	staleCookiesCleared(t, b, rs.URL, watch)
}

// flowTraffic checks what the tabs sent to Airlock during the flows. Each
// flow makes 4 requests to it: account page, Connect, callback, account page.
func flowTraffic(t *testing.T, st netStats) {
	t.Helper()
	t.Logf("%d flows: %d requests to Airlock, largest Cookie header %d bytes", flowAccounts, len(st.cookies), st.maxCookie)
	for i := range flowTabs {
		if want := 4 * flowAccounts / flowTabs; st.perTab[i] < want {
			t.Errorf("requests to Airlock seen from tab %d: got %d, want at least %d (is the network watch working?)", i, st.perTab[i], want)
		}
	}
	if st.maxCookie == 0 || st.maxCookie >= maxCookieBytes {
		t.Errorf("largest Cookie header sent to Airlock: got %d bytes, want 1 to %d", st.maxCookie, maxCookieBytes-1)
	}
	st.no431(t)
}

// createFlowAccounts creates the integration and flowAccounts accounts
// through the JSON API and returns the accounts' ids.
func createFlowAccounts(t *testing.T, base, key string, p *fakeprovider.Provider) []string {
	t.Helper()
	status, in := apiCall(t, "POST", base+"/api/v1/integrations", key, map[string]any{
		"key": "fake", "name": "Fake CRM",
		"oauth2": map[string]any{"grant_type": "authorization_code", "authorization_url": p.AuthorizeURL(), "token_url": p.TokenURL(),
			"revoke_url": p.RevokeURL(), "scope": "read", "client_id": fakeprovider.DefaultClientID, "client_secret": fakeprovider.DefaultClientSecret,
			"client_auth": "basic", "pkce": true},
		"token":         map[string]any{"name": "Authorization", "template": "Bearer {token}", "in": "header"},
		"api_base_urls": []string{p.APIURL()},
	})
	if status != 201 {
		t.Fatalf("create integration: %d %v", status, in)
	}
	ids := make([]string, flowAccounts)
	for i := range ids {
		status, acct := apiCall(t, "POST", base+"/api/v1/integrations/fake/accounts", key, map[string]any{"name": fmt.Sprintf("acct-%02d", i)})
		if status != 201 {
			t.Fatalf("create account %d: %d %v", i, status, acct)
		}
		ids[i] = acct["id"].(string)
	}
	return ids
}

// openTabs returns flowTabs tabs of b's browser, b's own tab first. A context
// made from b.ctx opens a tab in the same browser context, so all tabs share
// one cookie jar and therefore one Airlock session.
func openTabs(t *testing.T, b *browser, watch *netWatch) []*browser {
	t.Helper()
	tabs := []*browser{b}
	for i := 1; i < flowTabs; i++ {
		ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(watch.listener(i)))
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("open tab %d: %v", i, err)
		}
		tabs = append(tabs, &browser{t: t, ctx: ctx})
	}
	return tabs
}

// inTabs runs fn in every tab at once, tab i taking the accounts j with
// j%len(tabs) == i (in reverse when reverse is set), and fails the test with
// every error. fn must not call t.Fatal: it runs on another goroutine.
func inTabs(t *testing.T, tabs []*browser, reverse bool, fn func(tab int, b *browser, j int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(tabs))
	for i, tb := range tabs {
		var mine []int
		for j := i; j < flowAccounts; j += len(tabs) {
			mine = append(mine, j)
		}
		if reverse {
			slices.Reverse(mine)
		}
		wg.Go(func() {
			for _, j := range mine {
				if err := fn(i, tb, j); err != nil {
					tb.shot(fmt.Sprintf("failed-tab%d-account%02d", i, j))
					errs[i] = fmt.Errorf("tab %d, account %d: %w", i, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// tabRun is runB for a goroutine: it returns the error.
func tabRun[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// clickThrough clicks the element with the id and waits for the navigation
// it causes (a form POST, its redirects, the page they end on), returning the
// last response.
func clickThrough(b *browser, id string) (*network.Response, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
}

// startFlows presses Connect on every account page, spread over the tabs,
// and returns the provider consent page each one reached. No flow is
// approved yet, so all of them are pending at once in one session.
func startFlows(t *testing.T, tabs []*browser, base string, p *fakeprovider.Provider, ids []string) []string {
	t.Helper()
	consent := make([]string, len(ids))
	inTabs(t, tabs, false, func(tab int, b *browser, j int) error {
		if _, err := tabRun(b, chromedp.Navigate(base+"/accounts/"+ids[j])); err != nil {
			return fmt.Errorf("account page: %w", err)
		}
		resp, err := clickThrough(b, "connect")
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		if resp.Status != http.StatusOK || !strings.HasPrefix(resp.URL, p.AuthorizeURL()+"?") {
			return fmt.Errorf("after Connect: %d at %s, want 200 at the consent page %s", resp.Status, resp.URL, p.AuthorizeURL())
		}
		if tab == 0 && j == 0 {
			b.shot("consent")
		}
		consent[j] = resp.URL
		return nil
	})
	states := map[string]bool{}
	for _, loc := range consent {
		u, _ := url.Parse(loc)
		states[u.Query().Get("state")] = true
	}
	if delete(states, ""); len(states) != len(ids) {
		t.Errorf("distinct non-empty states on the consent pages: got %d, want %d", len(states), len(ids))
	}
	return consent
}

// approveFlows approves every pending flow on its consent page, each tab
// going through its accounts last-started first, checks each lands on its own
// account page, connected, and returns the flash messages each page showed.
func approveFlows(t *testing.T, tabs []*browser, base string, consent, ids []string) [][]string {
	t.Helper()
	shown := make([][]string, len(ids))
	inTabs(t, tabs, true, func(tab int, b *browser, j int) error {
		if _, err := tabRun(b, chromedp.Navigate(consent[j])); err != nil {
			return fmt.Errorf("consent page: %w", err)
		}
		resp, err := clickThrough(b, "approve")
		if err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if want := base + "/accounts/" + ids[j]; resp.Status != http.StatusOK || resp.URL != want {
			heading, _ := tabRun(b, chromedp.Text(chromedp.CSS("h1")))
			at, _, _ := strings.Cut(resp.URL, "?") // leave code and state out
			return fmt.Errorf("after approving: %d at %s (heading %q), want 200 at %s", resp.Status, at, heading, want)
		}
		status, err := tabRun(b, chromedp.Text(chromedp.ID("status-title")))
		if err != nil {
			return err
		}
		if !strings.Contains(status, "connected") {
			return fmt.Errorf("status after approving: got %q, want connected", status)
		}
		shown[j], err = tabRun(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".flash")].map(e => e.textContent.trim())`))
		if err != nil {
			return err
		}
		if j == flowAccounts-1 {
			b.shot("connected")
		}
		return nil
	})
	return shown
}

// eachFlashOnce checks every "Connected acct-NN." message was shown exactly
// once on the pages the callbacks led to. Flash messages belong to the
// browser session, so with tabs racing one can show in the tab next door,
// but none may be lost or shown twice.
func eachFlashOnce(t *testing.T, shown [][]string) {
	t.Helper()
	count := map[string]int{}
	own := 0
	for j, msgs := range shown {
		for _, m := range msgs {
			count[m]++
			if m == fmt.Sprintf("Connected acct-%02d.", j) {
				own++
			}
		}
	}
	for j := range shown {
		m := fmt.Sprintf("Connected acct-%02d.", j)
		if count[m] != 1 {
			t.Errorf("flash %q: shown %d times, want once", m, count[m])
		}
		delete(count, m)
	}
	if len(count) > 0 {
		t.Errorf("other flash messages shown: %v", count)
	}
	t.Logf("%d of %d connect messages were shown in the tab that made the connection", own, len(shown))
}

// wantStatus checks every account's status through the JSON API.
func wantStatus(t *testing.T, base, key string, ids []string, want string) {
	t.Helper()
	for i, id := range ids {
		if status, acct := apiCall(t, "GET", base+"/api/v1/accounts/"+id, key, nil); status != 200 || acct["status"] != want {
			t.Errorf("account %d: got %d, status %v, want 200, status %q", i, status, acct["status"], want)
		}
	}
}

// pendingFlows reads airlock_pending_flows from /metrics (served to loopback).
func pendingFlows(t *testing.T, base string) int {
	t.Helper()
	resp, err := httpClient().Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "airlock_pending_flows "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("airlock_pending_flows %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatalf("/metrics (%d) has no airlock_pending_flows", resp.StatusCode)
	return 0
}

// setStaleCookies puts at least staleCookieBytes of cookies for Airlock's
// origin in the jar, as a site that once set many would leave them, and
// returns how many. The server expires each cookie it is sent by name with
// Path=/; the one with another path only Clear-Site-Data removes.
func setStaleCookies(t *testing.T, b *browser, base string) int {
	t.Helper()
	value := strings.Repeat("v", 200)
	set := func(name, path string) {
		p := network.SetCookieParams{Name: name, Value: value, URL: base + "/", Path: path}
		if _, err := chromedp.Call(b.ctx, network.SetCookie, p); err != nil {
			t.Fatalf("set cookie %s: %v", name, err)
		}
	}
	n := 0
	for size := 0; size < staleCookieBytes; n++ {
		name := "stale" + strconv.Itoa(n)
		size += len(name) + 1 + len(value) + 2
		set(name, "/")
	}
	set("stalepath", "/integrations")
	return n + 1
}

// staleCookiesCleared checks that a console page asked for with stale
// cookies answers with the clearing page, and that the request after it
// carries none of them.
func staleCookiesCleared(t *testing.T, b *browser, base string, watch *netWatch) {
	t.Helper()
	n := setStaleCookies(t, b, base)
	watch.take()
	resp := runB(b, "console page with stale cookies", chromedp.NavigateResponse(base+"/integrations"))
	if resp.Status != http.StatusOK {
		t.Errorf("console page with %d stale cookies: got %d, want 200", n, resp.Status)
	}
	if got := b.text("#reset-title"); got != "Your browser sent too many cookies" {
		t.Errorf("clearing page heading: got %q", got)
	}
	link := `section[aria-labelledby="reset-title"] a.btn`
	if got := b.text(link); got != "Start again" {
		t.Errorf("clearing page link: got %q, want Start again", got)
	}
	b.shot("cookies-cleared")
	st := watch.take()
	// Chromium leaves Clear-Site-Data out of Response.headers; the raw
	// headers of responseReceivedExtraInfo have it.
	if !slices.Equal(st.clearSite, []string{`"cookies"`}) {
		t.Errorf("Clear-Site-Data headers received: got %q, want one %q", st.clearSite, `"cookies"`)
	}
	if st.maxCookie < staleCookieBytes || st.staleSent == 0 {
		t.Errorf("with stale cookies: largest Cookie header %d bytes, %d requests carried them; want at least %d bytes",
			st.maxCookie, st.staleSent, staleCookieBytes)
	}
	st.no431(t)

	b.do("start again", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.ID("signin-title")))
	st = watch.take()
	t.Logf("after the clearing page: %d requests to Airlock, largest Cookie header %d bytes", len(st.cookies), st.maxCookie)
	if len(st.cookies) == 0 || st.cookies[0] != "" {
		t.Errorf("Cookie headers after the clearing page: got %q, want none on the first request", st.cookies)
	}
	if st.staleSent > 0 || st.maxCookie >= maxCookieBytes {
		t.Errorf("after the clearing page: %d requests carried stale cookies, largest Cookie header %d bytes; want none, under %d",
			st.staleSent, st.maxCookie, maxCookieBytes)
	}
	st.no431(t)
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/", base + "/integrations"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name != "airlock_session" {
			t.Errorf("cookie %s is still in the jar after the clearing page", c.Name)
		}
	}
}
