package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// runningServer is the real binary's run() serving on a loopback port.
type runningServer struct {
	URL  string
	logs *lockedBuffer
	stop func() error
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs `airlock serve` in-process on a free loopback port and
// waits until it listens.
func startServer(t *testing.T, dataDir string, extraEnv map[string]string) *runningServer {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{
		"AIRLOCK_DATA_DIR":   dataDir,
		"AIRLOCK_ADDR":       addr,
		"AIRLOCK_PUBLIC_URL": "http://" + addr,
		"AIRLOCK_ENV":        "development",
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &lockedBuffer{}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case listening <- m[1]:
				default:
				}
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve"}, envMap(env), strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- err
	}()
	rs := &runningServer{logs: logs}
	var once sync.Once
	var stopErr error
	rs.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = errors.New("server did not stop within 20 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { rs.stop() })
	select {
	case a := <-listening:
		rs.URL = "http://" + a
		return rs
	case err := <-done:
		t.Fatalf("server exited before listening: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen within 30 s\n%s", logs.String())
	}
	return nil
}

// freeAddr finds a free loopback port, so the public URL (and with it the
// OAuth redirect URI) can name the port the server will listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServeHealthReadyAndGracefulShutdown(t *testing.T) {
	rs := startServer(t, t.TempDir(), nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(rs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: got %d, want 200", p, resp.StatusCode)
		}
	}
	if !regexp.MustCompile(`setup_code=[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}`).MatchString(rs.logs.String()) {
		t.Errorf("no setup code in the start-up log:\n%s", rs.logs.String())
	}
	if err := rs.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !strings.Contains(rs.logs.String(), "msg=stopped") {
		t.Error("no clean shutdown in the log")
	}
}

func TestSecondServerOnSameDataDirRefuses(t *testing.T) {
	dir := t.TempDir()
	startServer(t, dir, nil)
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"serve"}, envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ADDR": "127.0.0.1:0", "AIRLOCK_ENV": "development"}),
		nil, io.Discard, &stderr)
	if !errors.Is(err, errLocked) || !strings.Contains(err.Error(), "already runs a server") {
		t.Errorf("second server: got %v, want a clear lock refusal", err)
	}
}

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, envMap(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "airlock ") {
		t.Errorf("version: got %q", out.String())
	}
}

func newRequest(method, url, key string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, nil)
	if err == nil && key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req, err
}

func httpClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }
