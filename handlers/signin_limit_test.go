package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/store"
)

// racePasswords cost enough (a few milliseconds a check) that parallel
// attempts overlap while their passwords are checked, as they do at the
// production cost: with cheapPasswords a check is over before the next
// request arrives, and a race could hide.
var racePasswords = store.PasswordParams{Memory: 2 * 1024, Time: 1, Threads: 1}

// parallel runs n attempts at once, each in a fresh browser that first loads
// the form, and returns how many got each status. All of them load their form
// before any posts, so the posts really race.
func parallel(ts *testServer, n int, page string, attempt func(i int, c *client) response) map[int]int {
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = ts.newClient()
		clients[i].get(page)
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   = map[int]int{}
	)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := attempt(i, c)
			mu.Lock()
			got[r.status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// TestParallelWrongSignInsCheckAtMostTheLimit is the attack of issue 11 §3:
// many wrong passwords at once for one account (or from one address) must
// not each get checked. At most signinLimit passwords are verified (each a
// 401); every other attempt is refused with 429 before any argon2id work.
func TestParallelWrongSignInsCheckAtMostTheLimit(t *testing.T) {
	const n = 50
	cases := []struct {
		name  string
		email func(i int) string
		xff   func(i int) string
	}{
		{"one account, one address", func(int) string { return "erin@example.com" }, func(int) string { return "" }},
		{"one account, many addresses", func(int) string { return "erin@example.com" }, func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }},
		{"many accounts, one address", func(i int) string { return fmt.Sprintf("guess%d@example.com", i) }, func(int) string { return "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(d *Deps) {
				d.Config.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				d.PasswordParams = racePasswords
			})
			hash, err := store.HashPassword(testPassword, racePasswords)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ts.store.CreateUser(context.Background(), "erin@example.com", hash, store.RoleViewer, false); err != nil {
				t.Fatal(err)
			}
			got := parallel(ts, n, "/signin", func(i int, c *client) response {
				form := url.Values{"email": {tc.email(i)}, "password": {"wrong password " + fmt.Sprint(i)}}
				if x := tc.xff(i); x != "" {
					return c.post("/signin", form, "X-Forwarded-For", x)
				}
				return c.post("/signin", form)
			})
			if got[http.StatusUnauthorized] > signinLimit {
				t.Errorf("passwords checked (401): got %d, want at most %d", got[http.StatusUnauthorized], signinLimit)
			}
			if got[http.StatusTooManyRequests] < n-signinLimit {
				t.Errorf("refused (429): got %d, want at least %d (all answers: %v)", got[http.StatusTooManyRequests], n-signinLimit, got)
			}
			if got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != n {
				t.Errorf("answers: got %v, want only 401 and 429", got)
			}
			if checks := ts.h.passwords.checks.Load(); checks > signinLimit {
				t.Errorf("argon2id verifications: got %d, want at most %d", checks, signinLimit)
			}
		})
	}
}

// TestParallelWrongSetupCodesCheckAtMostTheLimit: the first-run setup code
// has the same limit per address, and it must hold under concurrency too.
func TestParallelWrongSetupCodesCheckAtMostTheLimit(t *testing.T) {
	const n = 50
	ts := newTestServer(t)
	ts.setupCode()
	got := parallel(ts, n, "/setup", func(i int, c *client) response {
		r := c.post("/setup", url.Values{"code": {fmt.Sprintf("WRONG-%04d-CODE", i)}, "email": {"ada@example.com"}, "password": {testPassword}})
		if r.status == http.StatusUnprocessableEntity && !strings.Contains(r.body, "not the current setup code") {
			t.Errorf("attempt %d: 422 without the setup-code message", i)
		}
		return r
	})
	if got[http.StatusUnprocessableEntity] > signinLimit {
		t.Errorf("setup codes checked (422): got %d, want at most %d", got[http.StatusUnprocessableEntity], signinLimit)
	}
	if got[http.StatusTooManyRequests] < n-signinLimit {
		t.Errorf("refused (429): got %d, want at least %d (all answers: %v)", got[http.StatusTooManyRequests], n-signinLimit, got)
	}
	if checks := ts.h.codeChecks.Load(); checks > signinLimit {
		t.Errorf("setup codes compared: got %d, want at most %d", checks, signinLimit)
	}
}

// TestRightPasswordGivesBackItsAttempt: a right password releases the
// attempt it reserved, so it does not count against its address; the
// address's earlier failures still do.
func TestRightPasswordGivesBackItsAttempt(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser("jo@example.com", store.RoleViewer)
	for i := range signinLimit - 1 {
		if r := signinFrom(ts, fmt.Sprintf("x%d@example.com", i), "wrong password!", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong attempt %d: got %d, want 401", i+1, r.status)
		}
	}
	for range 3 {
		if r := signinFrom(ts, "jo@example.com", testPassword, ""); r.status != http.StatusSeeOther {
			t.Fatalf("right password: got %d, want 303", r.status)
		}
	}
	if r := signinFrom(ts, "y@example.com", "wrong password!", ""); r.status != http.StatusUnauthorized {
		t.Errorf("the limit's last wrong attempt: got %d, want 401", r.status)
	}
	if r := signinFrom(ts, "jo@example.com", testPassword, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("after %d failures from the address: got %d, want 429", signinLimit, r.status)
	}
}

// TestSignInWhenEveryCheckSlotIsBusy: a sign-in that cannot get a password
// check slot within the wait is answered 503 with Retry-After, checks
// nothing, and does not use up an attempt of the limit.
func TestSignInWhenEveryCheckSlotIsBusy(t *testing.T) {
	ts := newTestServer(t, func(d *Deps) { d.PasswordSlots, d.PasswordWait = 1, 20*time.Millisecond })
	ts.addUser("kim@example.com", store.RoleViewer)
	ts.h.passwords.slots <- struct{}{} // the one slot is taken
	for i := range signinLimit + 2 {
		c := ts.newClient()
		c.get("/signin")
		r := c.do(postForm(ts, "/signin", url.Values{"_csrf": {c.csrf}, "email": {"kim@example.com"}, "password": {testPassword}}))
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "busy") || r.header.Get("Retry-After") == "" {
			t.Fatalf("attempt %d with every slot busy: got %d (Retry-After %q), want 503 saying Airlock is busy", i+1, r.status, r.header.Get("Retry-After"))
		}
	}
	if checks := ts.h.passwords.checks.Load(); checks != 0 {
		t.Errorf("verifications while busy: got %d, want 0", checks)
	}
	<-ts.h.passwords.slots
	if r := signinFrom(ts, "kim@example.com", testPassword, ""); r.status != http.StatusSeeOther {
		t.Errorf("once a slot is free: got %d, want 303 (busy answers used no attempt)", r.status)
	}
}

func postForm(ts *testServer, path string, form url.Values) *http.Request {
	req, _ := http.NewRequest("POST", ts.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
