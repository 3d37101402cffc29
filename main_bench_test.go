package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// BenchmarkServe builds the binary as `make build` does, seeds a data dir
// (a user, 1,000 integrations, 10,000 accounts, half of them with tokens),
// and measures start-up to a 200 from /readyz on that existing data dir
// (target < 200 ms), idle RSS (target < 40 MB) and the binary's size. The
// baseline, in the same run, is exec to exit of `airlock version`: the
// floor any start of this binary pays.
func BenchmarkServe(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "airlock")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	env := benchServeEnv(b, data)
	b.Run("cold-start", func(b *testing.B) {
		var ready, floor []time.Duration
		for range b.N {
			b.StopTimer()
			t0 := time.Now()
			if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
				b.Fatalf("airlock version: %v %s", err, out)
			}
			floor = append(floor, time.Since(t0))
			b.StartTimer()
			p, took := benchStart(b, bin, env)
			ready = append(ready, took)
			b.StopTimer()
			p.stop(b)
			b.StartTimer()
		}
		b.StopTimer()
		p, _ := benchStart(b, bin, env)
		time.Sleep(2 * time.Second) // idle: nothing but the background tickers
		rss := p.rssKB(b)
		p.stop(b)
		b.ReportMetric(ms(pctDur(ready, 50)), "p50-ms")
		b.ReportMetric(ms(slices.Max(ready)), "max-ms")
		b.ReportMetric(ms(pctDur(floor, 50)), "exec-floor-ms")
		b.ReportMetric(float64(rss)/1024, "idle-rss-MB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	})
}

// benchServeEnv seeds the data dir and returns the binary's environment:
// production settings with keys passed in, nothing inherited from AIRLOCK_*.
func benchServeEnv(b *testing.B, data string) []string {
	ctx := context.Background()
	enc, sess := bytes.Repeat([]byte{4}, store.KeySize), bytes.Repeat([]byte{6}, 32)
	if err := os.MkdirAll(data, 0o700); err != nil {
		b.Fatal(err)
	}
	sealer, err := store.NewSealer(enc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(data, "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateUser(ctx, "admin@example.com", "not-a-real-hash", store.RoleAdmin, false); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 1000 {
		in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: fmt.Sprintf("int%04d", i), Name: fmt.Sprintf("Integration %d", i),
			OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: "https://idp.example/authorize",
				TokenURL: "https://idp.example/token", ClientID: "client", ClientSecret: "seeded-client-secret"}})
		if err != nil {
			b.Fatal(err)
		}
		for j := range 10 {
			r, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: fmt.Sprintf("acct-%d-%d", i, j)})
			if err != nil {
				b.Fatal(err)
			}
			if j%2 == 0 {
				tok := oauthflow.Token{AccessToken: "at-" + r.ID, RefreshToken: "rt-" + r.ID, Expiry: now.Add(time.Hour), ObtainedAt: now}
				if _, err := st.SaveToken(ctx, r.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIRLOCK_") {
			env = append(env, kv)
		}
	}
	return append(env, "AIRLOCK_DATA_DIR="+data, "AIRLOCK_ENV=production", "AIRLOCK_LOG_FORMAT=json",
		"AIRLOCK_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(enc), "AIRLOCK_SESSION_KEY="+base64.StdEncoding.EncodeToString(sess))
}

type benchProcess struct {
	cmd *exec.Cmd
	url string // http://<addr>
}

// benchStart starts `airlock serve` on a free loopback port and returns once
// /readyz answers 200, with the time that took from exec.
func benchStart(b *testing.B, bin string, env []string) (*benchProcess, time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(slices.Clip(env), "AIRLOCK_ADDR="+addr, "AIRLOCK_PUBLIC_URL=http://"+addr)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &benchProcess{cmd: cmd, url: "http://" + addr}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, time.Since(start)
			}
		}
		if time.Since(start) > 20*time.Second {
			p.stop(b)
			b.Fatalf("no 200 from /readyz within 20 s (last error %v)\n%s", err, logs.String())
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// stop ends the server with SIGTERM (a graceful shutdown) and waits.
func (p *benchProcess) stop(b *testing.B) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		b.Fatal("the server did not stop within 20 s of SIGTERM")
	}
}

// rssKB is the process's resident set (VmRSS) in KiB.
func (p *benchProcess) rssKB(b *testing.B) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pctDur is the p-th percentile of ds (nearest rank); it sorts ds.
func pctDur(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return ds[max(0, min(i-1, len(ds)-1))]
}
