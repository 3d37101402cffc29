package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
)

// proxyStreamSize is what TestProxyStreamsInFlatMemory sends each way: the
// issue's 50 MB under AIRLOCK_STRESS=1, 16 MB in `make test` (the binary's
// build is most of the test's time either way).
func proxyStreamSize() int64 {
	if os.Getenv("AIRLOCK_STRESS") != "" {
		return 50 << 20
	}
	return 16 << 20
}

// TestProxyStreamsInFlatMemory runs the built binary as its own process and
// streams a download and an upload through the proxy: every byte arrives,
// and the process's peak resident set (VmHWM, read from /proc) stays under
// 60 MB — a proxy that buffered the body would hold it whole.
func TestProxyStreamsInFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc to read the resident set from")
	}
	f := newProxyFixture(t)
	bin := buildBinary(t)
	addr := freeAddr(t)
	env := []string{"AIRLOCK_ADDR=" + addr, "AIRLOCK_PUBLIC_URL=http://" + addr, "AIRLOCK_ENV=production"}
	for k, v := range f.env {
		env = append(env, k+"="+v)
	}
	p := startProc(t, bin, env)
	n := proxyStreamSize()
	id := f.ids["ok"]

	resp := f.call(t, p.URL, "GET", proxyPath(id, "/bytes?n="+strconv.FormatInt(n, 10)), nil, nil)
	got, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || got != n {
		t.Fatalf("download: got %d bytes (%v), want %d", got, err, n)
	}
	resp = f.call(t, p.URL, "POST", proxyPath(id, "/upload"), io.LimitReader(pattern{}, n), nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`{"n":%d,"err":"<nil>"}`, n); string(b) != want {
		t.Fatalf("upload: got %s, want %s", b, want)
	}
	peak := procStatusKB(t, p.cmd.Process.Pid, "VmHWM")
	t.Logf("streamed %d MB each way; peak RSS %d MB", n>>20, peak>>10)
	if peak >= 60<<10 {
		t.Errorf("peak RSS: got %d MB, want under 60 MB", peak>>10)
	}
	p.stop(t)
}
