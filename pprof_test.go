package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofListener: with AIRLOCK_PPROF_ADDR the profiler answers there and
// nowhere else; without it, the main listener has no /debug/pprof/.
func TestPprofListener(t *testing.T) {
	addr := freeAddr(t)
	srv := startServer(t, t.TempDir(), map[string]string{"AIRLOCK_PPROF_ADDR": addr})
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := httpClient().Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + addr + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("profiler: got %d %.80q, want 200 and a goroutine profile", code, body)
	}
	if code, _ := get(srv.URL + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("main listener /debug/pprof/: got %d, want 404", code)
	}
	if !strings.Contains(srv.logs.String(), "profiler listening") {
		t.Errorf("no log line says the profiler listens:\n%s", srv.logs.String())
	}
	off := startServer(t, t.TempDir(), nil)
	if strings.Contains(off.logs.String(), "profiler listening") {
		t.Error("the profiler listens although AIRLOCK_PPROF_ADDR is empty")
	}
}
