package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// bigCookieHeader is a Cookie header of about size bytes made of cookies a
// browser could hold (4 KB each at most).
func bigCookieHeader(size int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "c%d=%s", i, strings.Repeat("v", min(4000, size-sb.Len())))
	}
	return sb.String()
}

// TestLargeCookieHeaderGetsClearingPage goes through the real server (run's
// http.Server, not just the router), where net/http answers 431 itself before
// any handler runs: a Cookie header a browser can really accumulate (up to
// 1 MiB) gets the page that clears the cookies; past the header limit, Go's
// 431 remains.
func TestLargeCookieHeaderGetsClearingPage(t *testing.T) {
	rs := startServer(t, t.TempDir(), nil)
	cases := []struct {
		size   int
		status int
		clear  bool
	}{
		{8 << 10, http.StatusOK, true},
		{64<<10 + 1, http.StatusOK, true},
		{100 << 10, http.StatusOK, true},
		{512 << 10, http.StatusOK, true},
		{1 << 20, http.StatusOK, true},
		{maxHeaderBytes + 8<<10, http.StatusRequestHeaderFieldsTooLarge, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d bytes", tc.size), func(t *testing.T) {
			req, _ := http.NewRequest("GET", rs.URL+"/signin", nil)
			req.Header.Set("Cookie", bigCookieHeader(tc.size))
			resp, err := httpClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Clear-Site-Data") == `"cookies"`; got != tc.clear {
				t.Errorf("Clear-Site-Data: got %v, want %v", got, tc.clear)
			}
			if tc.clear && !strings.Contains(string(body), "Start again") {
				t.Error("the clearing page has no way to start again")
			}
		})
	}
}
