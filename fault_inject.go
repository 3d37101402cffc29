//go:build faultinject

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// faultHook, in binaries built with -tags faultinject, blocks forever at the
// refresh point named by AIRLOCK_FAULT after printing a marker, so the crash
// tests can kill -9 the process exactly there.
func faultHook(getenv func(string) string, stderr io.Writer) func(string) {
	point := getenv("AIRLOCK_FAULT")
	if point == "" {
		return nil
	}
	return func(p string) {
		if p != point {
			return
		}
		fmt.Fprintf(stderr, "AIRLOCK_FAULT_REACHED %s\n", p)
		select {}
	}
}

// testHooks, in binaries built with -tags faultinject, let the replica
// tests drive several processes as one deployment:
//
//   - AIRLOCK_TEST_CLOCK=1 moves the process's clock (the store's, the token
//     manager's, the handlers') by the offset last POSTed to
//     /_test/clock?offset=<duration> on the main listener, so a simulated
//     day passes in seconds on every replica at once; and POST /_test/settle
//     answers once the refreshes under way have finished, so the clock
//     never jumps during one (real time does not jump by minutes);
//   - AIRLOCK_TEST_LEASE_TTL sets the refresh lease's lifetime (30 s
//     otherwise), so a test of a dead replica's lease need not wait 30 s.
func testHooks(getenv func(string) string) hooks {
	var h hooks
	if getenv("AIRLOCK_TEST_CLOCK") != "" {
		var offset atomic.Int64
		h.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		h.wrap = func(next http.Handler, settle func(context.Context) error) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/_test/settle" && r.Method == http.MethodPost {
					ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
					defer cancel()
					if err := settle(ctx); err != nil {
						http.Error(w, err.Error(), http.StatusServiceUnavailable)
						return
					}
					w.WriteHeader(http.StatusNoContent)
					return
				}
				if r.URL.Path != "/_test/clock" {
					next.ServeHTTP(w, r)
					return
				}
				d, err := time.ParseDuration(r.URL.Query().Get("offset"))
				if r.Method != http.MethodPost || err != nil {
					http.Error(w, "POST /_test/clock?offset=<duration>", http.StatusBadRequest)
					return
				}
				offset.Store(int64(d))
				w.WriteHeader(http.StatusNoContent)
			})
		}
	}
	if v := getenv("AIRLOCK_TEST_LEASE_TTL"); v != "" {
		h.leaseTTL, _ = time.ParseDuration(v)
	}
	return h
}
