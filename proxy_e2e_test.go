package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/store"
)

// The proxy through the real server (run serve in-process), against an
// upstream and token endpoint on 127.0.0.1.

func proxyPath(id, rest string) string { return "/api/v1/accounts/" + id + "/proxy" + rest }

func readEcho(t *testing.T, resp *http.Response) echoed {
	t.Helper()
	defer resp.Body.Close()
	var e echoed
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("status %d: the upstream's echo does not decode: %v", resp.StatusCode, err)
	}
	return e
}

func TestProxyEndToEnd(t *testing.T) {
	f := newProxyFixture(t)
	srv := startServer(t, f.dir, f.env)
	ok := f.ids["ok"]
	counted := 0 // requests through "ok" that reach the runner, for the activity row

	t.Run("path and query joined, parameters and token added", func(t *testing.T) {
		counted++
		e := readEcho(t, f.call(t, srv.URL, "GET", proxyPath(ok, "/echo/a%20b/c?x=1&y=two"), nil, nil))
		if e.Path != "/api/echo/a%20b/c" {
			t.Errorf("path: got %q, want /api/echo/a%%20b/c", e.Path)
		}
		for _, want := range []string{"x=1", "y=two", "v=2"} {
			if !strings.Contains("&"+e.Query+"&", "&"+want+"&") {
				t.Errorf("query: got %q, want it to hold %s", e.Query, want)
			}
		}
		if got := e.Header.Get("X-Tenant"); got != "acme" {
			t.Errorf("X-Tenant: got %q, want acme", got)
		}
		if got := e.Header.Get("Authorization"); got != "Bearer at-ok-0" {
			t.Errorf("Authorization upstream: got %q, want the account's token", got)
		}
	})

	t.Run("request headers filtered", func(t *testing.T) {
		counted++
		e := readEcho(t, f.call(t, srv.URL, "POST", proxyPath(ok, "/echo/h"), strings.NewReader("x"), map[string]string{
			"Cookie": "airlock_session=s", "Airlock-Base-URL": f.up.srv.URL + "/api/", "Airlock-Other": "x",
			"Connection": "X-Hop-In", "X-Hop-In": "one hop", "Keep-Alive": "timeout=1", "X-Keep": "kept", "Content-Type": "text/plain"}))
		for _, gone := range []string{"Cookie", "Airlock-Base-Url", "Airlock-Other", "X-Hop-In", "Keep-Alive"} {
			if v := e.Header.Get(gone); v != "" {
				t.Errorf("%s reached the upstream: %q", gone, v)
			}
		}
		if e.Header.Get("X-Keep") != "kept" || e.Header.Get("Content-Type") != "text/plain" || e.Body != "x" {
			t.Errorf("headers or body lost: %v %q", e.Header, e.Body)
		}
		if strings.Contains(e.Header.Get("Authorization"), f.key) {
			t.Error("the Airlock API key reached the upstream")
		}
	})

	t.Run("response headers filtered, status passed", func(t *testing.T) {
		counted++
		resp := f.call(t, srv.URL, "GET", proxyPath(ok, "/echo/s?status=418"), nil, nil)
		resp.Body.Close()
		if resp.StatusCode != 418 || resp.Header.Get("X-Upstream") != "yes" {
			t.Errorf("got %d X-Upstream=%q, want 418 and the upstream's header", resp.StatusCode, resp.Header.Get("X-Upstream"))
		}
		for _, gone := range []string{"X-Hop-Out", "Keep-Alive", "Content-Security-Policy", "Airlock-Error"} {
			if v := resp.Header.Get(gone); v != "" {
				t.Errorf("%s in the answer: %q", gone, v)
			}
		}
	})

	t.Run("redirect passed back, not followed", func(t *testing.T) {
		counted++
		resp := f.call(t, srv.URL, "GET", proxyPath(ok, "/redirect"), nil, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/api/echo/after-redirect" {
			t.Errorf("got %d to %q, want 302 to /api/echo/after-redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n := f.up.hitsOf("/api/echo/after-redirect"); n != 0 {
			t.Errorf("the redirect was followed %d times", n)
		}
	})

	t.Run("server-sent events arrive before the upstream finishes", func(t *testing.T) {
		counted++
		resp := f.call(t, srv.URL, "GET", proxyPath(ok, "/sse"), nil, nil)
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		got := make(chan string, 1)
		go func() { line, _ := rd.ReadString('\n'); got <- line }()
		select {
		case line := <-got:
			if line != "data: one\n" {
				t.Errorf("first event: got %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the first event did not arrive while the upstream held the stream open")
		}
		close(f.up.release)
		rest, _ := io.ReadAll(rd)
		if !strings.Contains(string(rest), "data: two") {
			t.Errorf("second event: got %q", rest)
		}
	})

	t.Run("a body over 1 MiB is not retried", func(t *testing.T) {
		counted++
		f.up.revoke("ok")
		before := f.up.refreshes()
		resp := f.call(t, srv.URL, "POST", proxyPath(ok, "/upload"), bytes.NewReader(make([]byte, 2<<20)), nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Airlock-Refreshed") != "" {
			t.Errorf("got %d Airlock-Refreshed=%q, want the upstream's 401 passed back", resp.StatusCode, resp.Header.Get("Airlock-Refreshed"))
		}
		if n := f.up.hitsOf("/api/upload"); n != 1 || f.up.refreshes() != before {
			t.Errorf("upstream hits %d, refreshes %d → %d: want one attempt and no refresh", n, before, f.up.refreshes())
		}
	})

	t.Run("401 refreshes and retries once with the body replayed", func(t *testing.T) {
		counted++
		before := f.up.refreshes()
		resp := f.call(t, srv.URL, "PUT", proxyPath(ok, "/echo/replay"), strings.NewReader("replay me"), nil)
		if got := resp.Header.Get("Airlock-Refreshed"); got != "rejected" {
			t.Errorf("Airlock-Refreshed: got %q, want rejected", got)
		}
		e := readEcho(t, resp)
		if resp.StatusCode != 200 || e.Body != "replay me" || e.Method != "PUT" {
			t.Errorf("got %d %s %q, want 200 PUT with the body replayed", resp.StatusCode, e.Method, e.Body)
		}
		if n := f.up.hitsOf("/api/echo/replay"); n != 2 || f.up.refreshes() != before+1 {
			t.Errorf("upstream hits %d, refreshes %d → %d: want two attempts and one refresh", n, before, f.up.refreshes())
		}
	})

	t.Run("a token inside its window is refreshed first", func(t *testing.T) {
		resp := f.call(t, srv.URL, "GET", proxyPath(f.ids["expiring"], "/echo/e"), nil, nil)
		e := readEcho(t, resp)
		if resp.Header.Get("Airlock-Refreshed") != "expiring" || !strings.HasPrefix(e.Header.Get("Authorization"), "Bearer at-expiring-") ||
			e.Header.Get("Authorization") == "Bearer at-expiring-0" {
			t.Errorf("got Airlock-Refreshed=%q, token %q: want expiring and a new token", resp.Header.Get("Airlock-Refreshed"), e.Header.Get("Authorization"))
		}
	})

	t.Run("streamed download and upload", func(t *testing.T) {
		counted += 2
		const n = 8 << 20
		resp := f.call(t, srv.URL, "GET", proxyPath(ok, "/bytes?n=8388608"), nil, nil)
		got, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got != n || resp.Header.Get("Content-Length") != "8388608" {
			t.Errorf("download: got %d bytes, Content-Length %q, want %d", got, resp.Header.Get("Content-Length"), n)
		}
		resp = f.call(t, srv.URL, "POST", proxyPath(ok, "/upload"), io.LimitReader(pattern{}, n), nil) // chunked
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"n":8388608,"err":"<nil>"}`; string(b) != want {
			t.Errorf("upload: got %s, want %s", b, want)
		}
	})

	t.Run("a rejected_responses rule refreshes and retries, gzip or not", func(t *testing.T) {
		slack := f.ids["slack"]
		for i, enc := range []string{"", "gzip"} {
			f.up.revoke("slack")
			before, hits := f.up.refreshes(), f.up.hitsOf("/slack/auth.test")
			resp := f.call(t, srv.URL, "POST", proxyPath(slack, "/auth.test"), strings.NewReader("a=b"), map[string]string{"Accept-Encoding": enc})
			var rd io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				rd = zr
			}
			b, _ := io.ReadAll(rd)
			resp.Body.Close()
			if resp.Header.Get("Airlock-Refreshed") != "rejected" || !strings.HasPrefix(string(b), `{"ok":true,"token":"at-slack-`) {
				t.Errorf("%d (%q): got Airlock-Refreshed=%q body %.80s, want rejected and the retry's answer", i, enc, resp.Header.Get("Airlock-Refreshed"), b)
			}
			if got, want := resp.Header.Get("Content-Encoding"), enc; got != want {
				t.Errorf("%d: Content-Encoding: got %q, want %q", i, got, want)
			}
			if n := f.up.hitsOf("/slack/auth.test") - hits; n != 2 || f.up.refreshes() != before+1 {
				t.Errorf("%d: upstream hits %d, refreshes %d → %d: want two attempts and one refresh", i, n, before, f.up.refreshes())
			}
		}
	})

	t.Run("Airlock's own errors carry Airlock-Error", func(t *testing.T) {
		proxyErrors(t, f, srv.URL)
		counted++ // the timeout through "ok" was sent, so it is counted (as failed)
	})

	if err := srv.stop(); err != nil { // flushes the activity
		t.Fatal(err)
	}
	rows := proxyActivity(t, f, ok)
	total := 0
	for _, r := range rows {
		if r.Kind == "requests" {
			total += r.Count
		}
	}
	if total != counted {
		t.Errorf("activity: the account's minute rows count %d requests, want %d (%+v)", total, counted, rows)
	}
}

// proxyErrors checks every error Airlock makes itself: its status, the
// API's JSON shape, and Airlock-Error naming the same code.
func proxyErrors(t *testing.T, f *proxyFixture, base string) {
	ok := f.ids["ok"]
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		code               string
	}{
		{"unknown account", "GET", proxyPath("nosuchaccount", "/echo/x"), nil, 404, "not_found"},
		{"never connected", "GET", proxyPath(f.ids["pending"], "/echo/x"), nil, 409, "needs_reconnect"},
		{"dot segment", "GET", proxyPath(ok, "/echo/../x"), nil, 422, "invalid_fields"},
		{"escaped dot segment", "GET", proxyPath(ok, "/echo/%2e%2e/x"), nil, 422, "invalid_fields"},
		{"escaped slash", "GET", proxyPath(ok, "/echo%2fx"), nil, 422, "invalid_fields"},
		{"escaped backslash", "GET", proxyPath(ok, "/echo%5Cx"), nil, 422, "invalid_fields"},
		{"base URL not the integration's", "GET", proxyPath(ok, "/echo/x"), map[string]string{"Airlock-Base-URL": "https://elsewhere.example/"}, 422, "invalid_fields"},
		{"upstream unreachable", "GET", proxyPath(f.ids["dead"], "/x"), nil, 502, "upstream_unreachable"},
		{"upstream timed out", "GET", proxyPath(ok, "/hang"), nil, 504, "upstream_timeout"},
		{"no API key", "GET", proxyPath(ok, "/echo/x"), map[string]string{"Authorization": "Basic eDp5"}, 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.call(t, base, tc.method, tc.path, nil, tc.hdr)
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.Error.Code != tc.code || resp.Header.Get("Airlock-Error") != tc.code || body.Error.Message == "" {
				t.Errorf("got %d code %q Airlock-Error %q message %q, want %d %s", resp.StatusCode, body.Error.Code,
					resp.Header.Get("Airlock-Error"), body.Error.Message, tc.status, tc.code)
			}
		})
	}
}

// proxyActivity opens the stopped server's database and lists the
// account's activity.
func proxyActivity(t *testing.T, f *proxyFixture, id string) []store.Activity {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(f.dir, "airlock.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, _, err := st.ListActivity(ctx, store.ActivityFilter{AccountID: id}, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
