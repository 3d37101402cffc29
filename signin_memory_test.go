package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procStatusKB reads a field (VmRSS, VmHWM) of /proc/<pid>/status in KiB.
func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

var formTokenRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signinForm is one browser that has loaded the sign-in form.
type signinForm struct {
	client *http.Client
	token  string
}

func loadSigninForm(t *testing.T, base string) signinForm {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formTokenRE.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET /signin: got %d without a form token", resp.StatusCode)
	}
	return signinForm{client: c, token: string(m[1])}
}

// TestParallelSignInsStayUnderMemoryBound is the memory half of issue 11 §3,
// against the real binary with the production argon2id cost (19 MiB a
// check): 150 sign-ins at once, each for its own email from its own address
// (behind a trusted proxy), so no rate limit stops them and only the bound on
// concurrent password checks keeps the process small. Unbounded, the 150
// checks held about 150 × 19 MiB at once.
func TestParallelSignInsStayUnderMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	const n, limitMB = 150, 150
	dir := t.TempDir()
	if err := run(t.Context(), []string{"user", "create", "--email", "owner@example.com", "--role", "admin"},
		envMap(map[string]string{"AIRLOCK_DATA_DIR": dir}), strings.NewReader("correct horse battery\n"), io.Discard, io.Discard); err != nil {
		t.Fatalf("user create: %v", err)
	}
	addr := freeAddr(t)
	p := startProc(t, buildBinary(t), []string{"AIRLOCK_DATA_DIR=" + dir, "AIRLOCK_ADDR=" + addr, "AIRLOCK_PUBLIC_URL=http://" + addr,
		"AIRLOCK_ENV=development", "AIRLOCK_TRUSTED_PROXIES=127.0.0.0/8", "GOMAXPROCS=2"})
	pid := p.cmd.Process.Pid
	forms := make([]signinForm, n)
	for i := range forms {
		forms[i] = loadSigninForm(t, p.URL)
	}
	before := procStatusKB(t, pid, "VmHWM")

	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		start  = make(chan struct{})
		status = map[int]int{}
	)
	for i, f := range forms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("nobody%d@example.com", i)
			if i == 0 {
				email = "owner@example.com"
			}
			form := url.Values{"_csrf": {f.token}, "email": {email}, "password": {fmt.Sprintf("wrong password %d", i)}}
			req, _ := http.NewRequest("POST", p.URL+"/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", 100+i/250, 1+i%250))
			<-start
			resp, err := f.client.Do(req)
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			status[code]++
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(t0)
	peak, rss := procStatusKB(t, pid, "VmHWM"), procStatusKB(t, pid, "VmRSS")
	t.Logf("%d parallel sign-ins in %v: answers %v; VmHWM %d MB before, %d MB after (VmRSS %d MB)",
		n, took.Round(time.Millisecond), status, before/1024, peak/1024, rss/1024)
	if peak > limitMB*1024 {
		t.Errorf("peak RSS: got %d MB, want under %d MB", peak/1024, limitMB)
	}
	if status[http.StatusUnauthorized]+status[http.StatusServiceUnavailable] != n {
		t.Errorf("answers: got %v, want only 401 (checked, wrong) and 503 (busy, try again)", status)
	}
	if status[http.StatusUnauthorized] == 0 {
		t.Errorf("no password was checked at all: %v", status)
	}
}

// TestParallelHugeCookieHeadersMemory measures what 1 MiB Cookie headers
// cost the real binary when many arrive at once (the header limit's price).
func TestParallelHugeCookieHeadersMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	const n, limitMB = 50, 150
	dir, addr := t.TempDir(), freeAddr(t)
	p := startProc(t, buildBinary(t), []string{"AIRLOCK_DATA_DIR=" + dir, "AIRLOCK_ADDR=" + addr, "AIRLOCK_PUBLIC_URL=http://" + addr,
		"AIRLOCK_ENV=development", "GOMAXPROCS=2"})
	pid := p.cmd.Process.Pid
	before := procStatusKB(t, pid, "VmHWM")
	cookie := bigCookieHeader(1 << 20)
	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[int]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", p.URL+"/signin", nil)
			req.Header.Set("Cookie", cookie)
			resp, err := httpClient().Do(req)
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			status[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	peak := procStatusKB(t, pid, "VmHWM")
	t.Logf("%d parallel 1 MiB Cookie headers: answers %v; VmHWM %d MB before, %d MB after", n, status, before/1024, peak/1024)
	if status[http.StatusOK] != n {
		t.Errorf("answers: got %v, want %d × 200 (the clearing page)", status, n)
	}
	if peak > limitMB*1024 {
		t.Errorf("peak RSS: got %d MB, want under %d MB", peak/1024, limitMB)
	}
}
