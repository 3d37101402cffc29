package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/benchload"
	"airlock/store"
)

// BenchmarkProcesses is the headline benchmark: the built binary as its own
// process, the upstream API in a second and a bare httputil.ReverseProxy
// injecting the header in a third (benchproc), driven from this process
// over loopback. Each round calls the upstream directly, through the bare
// proxy, through Airlock's proxy and through its request API, one after the
// other, so drift on a shared machine hits all four. It reports, per number
// of callers, the p50 and p99 each adds over direct, the ratios of Airlock's
// added p50 and throughput to the bare proxy's, and the CPU time per request
// of the Airlock process against the bare proxy process, read from
// /proc — far steadier than wall time on a shared machine.
func BenchmarkProcesses(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc to read the processes' CPU time")
	}
	dir := b.TempDir()
	bin, procBin := filepath.Join(dir, "airlock"), filepath.Join(dir, "benchproc")
	for out, pkg := range map[string]string{bin: ".", procBin: "./oauthflow/benchload/benchproc"} {
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, o)
		}
	}
	up := startBenchProc(b, exec.Command(procBin, "upstream"))
	bare := startBenchProc(b, exec.Command(procBin, "proxy", "-to", up.url, "-header", "Authorization: Bearer at-bench"))
	env, key, id := benchProxyEnv(b, filepath.Join(dir, "data"), up.url)
	air, _ := benchStart(b, bin, env)
	b.Cleanup(func() { air.stop(b) })
	airURL := air.url
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128}}
	get := func(url string, hdr ...string) func() error {
		return func() error { return benchCall(client, "GET", url, "", hdr) }
	}
	apiBody := `{"method":"GET","url":"` + up.url + `/api/users/me"}`
	vs := []benchVariant{
		{name: "direct", call: get(up.url + "/api/users/me")},
		{name: "bare", call: get(bare.url+"/api/users/me", "Authorization", "Bearer x"), pid: bare.cmd.Process.Pid},
		{name: "proxy", call: get(airURL+"/api/v1/accounts/"+id+"/proxy/users/me", "Authorization", "Bearer "+key), pid: air.cmd.Process.Pid},
		{name: "api", call: func() error {
			return benchCall(client, "POST", airURL+"/api/v1/accounts/"+id+"/request", apiBody, []string{"Authorization", "Bearer " + key, "Content-Type", "application/json"})
		}, pid: air.cmd.Process.Pid},
	}
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			perRound := 800
			if callers > 1 {
				perRound = 1500
			}
			runs := benchRounds(b, callers, perRound, 6, vs)
			reportProcesses(b, runs)
		})
	}
}

// benchVariant is one way of making the call; pid, when set, is the process
// whose CPU time the call costs (the bare proxy, Airlock).
type benchVariant struct {
	name string
	call func() error
	pid  int
}

// procRun is a variant's timed calls and its process's CPU time.
type procRun struct {
	benchload.Run
	cpu time.Duration
	n   int
}

// benchRounds makes perRound calls of each variant per round, the variants
// one after the other, after one warm-up round that is not kept.
func benchRounds(b *testing.B, callers, perRound, rounds int, vs []benchVariant) map[string]*procRun {
	runs := map[string]*procRun{}
	for _, v := range vs {
		runs[v.name] = &procRun{}
	}
	for r := range rounds + 1 {
		for _, v := range vs {
			cpu0 := procCPU(b, v.pid)
			run := benchload.Load(b, callers, perRound, v.call)
			if r == 0 {
				continue
			}
			pr := runs[v.name]
			pr.Add(run)
			pr.cpu += procCPU(b, v.pid) - cpu0
			pr.n += perRound
		}
	}
	return runs
}

func reportProcesses(b *testing.B, runs map[string]*procRun) {
	direct, bare := runs["direct"], runs["bare"]
	added := func(r *procRun, p int) time.Duration { return r.Pct(p) - direct.Pct(p) }
	b.ReportMetric(benchload.Micros(direct.Pct(50)), "direct-p50-µs")
	for _, name := range []string{"bare", "proxy", "api"} {
		r := runs[name]
		b.ReportMetric(benchload.Micros(added(r, 50)), name+"-added-p50-µs")
		b.ReportMetric(benchload.Micros(added(r, 99)), name+"-added-p99-µs")
		b.ReportMetric(benchload.Micros(r.cpu/time.Duration(r.n)), name+"-cpu-µs/req")
		if name == "bare" {
			continue
		}
		b.ReportMetric(float64(added(r, 50))/float64(max(added(bare, 50), time.Microsecond)), name+"-added-p50-ratio")
		b.ReportMetric(r.Rate()/bare.Rate(), name+"-throughput-ratio")
		b.ReportMetric(float64(r.cpu)/float64(max(bare.cpu, time.Millisecond)), name+"-cpu-ratio")
	}
}

// procCPU is the CPU time process pid has used (0 for pid 0: the direct
// call costs no middle process): the sum of its threads' run time in
// nanoseconds from /proc/<pid>/task/*/schedstat, where the kernel keeps it;
// else user and system time from /proc/<pid>/stat, in 10 ms ticks — at 1
// caller a round's CPU is a few ticks, so the ticks' rounding alone moved
// the ratio by several percent. (A Go program's threads rarely exit, so
// hardly any takes its time away between two readings.)
func procCPU(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	if d, ok := schedCPU(pid); ok {
		return d
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces; the fields after ")" are fixed.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// schedCPU sums the first field (time on a CPU, ns) of every thread's
// schedstat; ok is false where the kernel does not keep it.
func schedCPU(pid int) (time.Duration, bool) {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that just ended
		}
		ns, err := strconv.ParseInt(strings.Fields(string(raw))[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += ns
	}
	return time.Duration(sum), len(files) > 0 && sum > 0
}

func benchCall(c *http.Client, method, url, body string, hdr []string) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return nil
}

// benchProc is a benchproc process and the URL it listens at.
type benchProc struct {
	cmd *exec.Cmd
	url string
}

// startBenchProc starts cmd and waits for its "listening <addr>" line.
func startBenchProc(b *testing.B, cmd *exec.Cmd) *benchProc {
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		b.Fatalf("%s: no listening line (%q, %v)", cmd.Path, line, err)
	}
	return &benchProc{cmd: cmd, url: "http://" + addr}
}

// benchProxyEnv seeds a data dir with an integration on the upstream, a
// connected account and a builder key, and returns the binary's
// environment (production defaults, the access log on as it is by default).
func benchProxyEnv(b *testing.B, data, upstream string) (env []string, key, id string) {
	ctx := context.Background()
	enc, sess := bytes.Repeat([]byte{5}, store.KeySize), bytes.Repeat([]byte{7}, 32)
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
	in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: "bench", Name: "Bench", APIBaseURLs: []string{upstream + "/api/"},
		OAuth2: oauthflow.OAuth2{GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: upstream + "/authorize",
			TokenURL: upstream + "/token", ClientID: "client", ClientSecret: "secret"}})
	if err != nil {
		b.Fatal(err)
	}
	row, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := oauthflow.Token{AccessToken: "at-bench", RefreshToken: "rt-bench", TokenType: "Bearer", Expiry: now.Add(24 * time.Hour),
		ObtainedAt: now, Endpoints: oauthflow.Endpoints{Token: in.OAuth2.TokenURL}}
	if _, err := st.SaveToken(ctx, row.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect, Status: oauthflow.StatusConnected}); err != nil {
		b.Fatal(err)
	}
	key, hash, last4 := store.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, "bench", store.RoleBuilder, hash, last4, "bench"); err != nil {
		b.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIRLOCK_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AIRLOCK_DATA_DIR="+data, "AIRLOCK_ENV=production", "AIRLOCK_ALLOW_PRIVATE_NETWORKS=true",
		"AIRLOCK_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(enc), "AIRLOCK_SESSION_KEY="+base64.StdEncoding.EncodeToString(sess))
	if pp := os.Getenv("AIRLOCK_BENCH_PPROF_ADDR"); pp != "" { // to profile the server under this load
		env = append(env, "AIRLOCK_PPROF_ADDR="+pp)
	}
	return env, key, row.ID
}
