package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
	"airlock/store"
)

// Helpers of the crash tests: a real airlock binary built with -tags
// faultinject, run as a subprocess on a data dir, driven through its JSON
// API and a browser-like client, killed and inspected.

// buildFaultBinary builds airlock with the fault points compiled in.
func buildFaultBinary(t *testing.T) string {
	t.Helper()
	return buildBinary(t, "-tags", "faultinject")
}

// builtBinaries holds the binaries built for this test process, one per set of
// go build flags: each is compiled and linked once, not once per test
// (TestMain removes binDir).
var (
	binMu         sync.Mutex
	binDir        string
	builtBinaries = map[string]string{}
)

// buildBinary returns airlock built with extra go build flags, building it on
// the first call for those flags.
func buildBinary(t *testing.T, flags ...string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	key := strings.Join(flags, " ")
	if bin, ok := builtBinaries[key]; ok {
		return bin
	}
	if binDir == "" {
		dir, err := os.MkdirTemp("", "airlock-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
	}
	bin := filepath.Join(binDir, fmt.Sprintf("airlock-%d", len(builtBinaries)))
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, out)
	}
	builtBinaries[key] = bin
	return bin
}

// airlockProc is one airlock serve subprocess.
type airlockProc struct {
	cmd    *exec.Cmd
	URL    string
	stderr *lockedBuffer
	marker chan string // fault points reached
	exited chan struct{}
}

// crashEnv is the environment every process of one crash test shares.
type crashEnv struct {
	bin, dir string
	addr     string
	encKey   []byte
	sessKey  []byte
	adminKey string
	provider *fakeprovider.Provider
	http     *http.Client
}

func newCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	ce := &crashEnv{bin: buildFaultBinary(t), dir: t.TempDir(), addr: freeAddr(t),
		encKey: randomKey(t), sessKey: randomKey(t), http: &http.Client{Timeout: 20 * time.Second}}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "crash"}, envMap(map[string]string{"AIRLOCK_DATA_DIR": ce.dir}), nil, &out, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	ce.adminKey = strings.TrimSpace(out.String())
	ce.provider = fakeprovider.New(fakeprovider.Options{RotateRefreshTokens: true, AccessTTL: time.Hour})
	t.Cleanup(ce.provider.Close)
	return ce
}

func randomKey(t *testing.T) []byte {
	b := make([]byte, store.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs airlock serve with AIRLOCK_FAULT=fault ("" for none) and waits
// until it listens. The process is killed at the end of the test whatever
// happens.
func (ce *crashEnv) start(t *testing.T, fault string) *airlockProc {
	t.Helper()
	return startProc(t, ce.bin, []string{
		"AIRLOCK_DATA_DIR=" + ce.dir,
		"AIRLOCK_ADDR=" + ce.addr,
		"AIRLOCK_PUBLIC_URL=http://" + ce.addr,
		"AIRLOCK_ENV=development",
		"AIRLOCK_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(ce.encKey),
		"AIRLOCK_SESSION_KEY=" + base64.StdEncoding.EncodeToString(ce.sessKey),
		"AIRLOCK_ALLOW_PRIVATE_NETWORKS=true", // the fake provider is on 127.0.0.1
		"AIRLOCK_FAULT=" + fault,
	})
}

// startProc runs `bin serve` with exactly env and waits until it listens.
// The process is killed at the end of the test whatever happens.
func startProc(t *testing.T, bin string, env []string) *airlockProc {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &airlockProc{cmd: cmd, stderr: &lockedBuffer{}, marker: make(chan string, 4), exited: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case listening <- m[1]:
				default:
				}
			}
			if point, ok := strings.CutPrefix(line, "AIRLOCK_FAULT_REACHED "); ok {
				p.marker <- point
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case a := <-listening:
		p.URL = "http://" + a
		return p
	case <-p.exited:
		t.Fatalf("airlock exited before listening\n%s", p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("airlock did not listen within 30 s\n%s", p.stderr.String())
	}
	return nil
}

// kill sends SIGKILL and waits until the process is gone.
func (p *airlockProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// stop shuts the process down gracefully.
func (p *airlockProc) stop(t *testing.T) {
	t.Helper()
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Errorf("airlock did not stop within 20 s of SIGTERM\n%s", p.stderr.String())
		p.kill()
	}
}

// api calls the JSON API with the admin key; out, if not nil, receives the
// decoded answer.
func (ce *crashEnv) api(t *testing.T, p *airlockProc, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ce.adminKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ce.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, p.stderr.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// crashAccount is the API's account shape, as much as the test reads.
type crashAccount struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	ConnectURL *string `json:"connect_url"`
	LastError  *string `json:"last_error"`
}

// setup creates the integration and its account and returns the account's
// id and connect link.
func (ce *crashEnv) setup(t *testing.T, p *airlockProc) (string, string) {
	t.Helper()
	in := oauthflow.Integration{Key: "crash", Name: "Crash", OAuth2: oauthflow.OAuth2{
		GrantType: oauthflow.GrantAuthorizationCode, AuthorizationURL: ce.provider.AuthorizeURL(), TokenURL: ce.provider.TokenURL(),
		TokenMethod: "POST", RevokeURL: ce.provider.RevokeURL(), Scope: "read", ClientID: fakeprovider.DefaultClientID,
		ClientSecret: fakeprovider.DefaultClientSecret, ClientAuth: oauthflow.ClientAuthBasic, PKCE: true,
	}, Token: oauthflow.TokenPlacement{Name: "Authorization", Template: "Bearer {token}", In: oauthflow.InHeader},
		APIBaseURLs: []string{ce.provider.APIURL()}}
	body, _ := json.Marshal(in)
	if got := ce.api(t, p, "POST", "/api/v1/integrations", string(body), nil); got != http.StatusCreated {
		t.Fatalf("create integration: got %d, want 201", got)
	}
	var a crashAccount
	if got := ce.api(t, p, "POST", "/api/v1/integrations/crash/accounts", `{"name": "prod"}`, &a); got != http.StatusCreated || a.ConnectURL == nil {
		t.Fatalf("create account: got %d %+v, want 201 with a connect_url", got, a)
	}
	return a.ID, *a.ConnectURL
}

// connect opens a connect link in a fresh browser-like client, approves at
// the provider and follows the callback.
func (ce *crashEnv) connect(t *testing.T, p *airlockProc, accountID, link string) {
	t.Helper()
	if link == "" {
		var out struct {
			ConnectURL string `json:"connect_url"`
		}
		if got := ce.api(t, p, "POST", "/api/v1/accounts/"+accountID+"/connect-link", "", &out); got != http.StatusCreated {
			t.Fatalf("connect link: got %d, want 201", got)
		}
		link = out.ConnectURL
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := ce.provider.Approve(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("approve %q (connect link answered %d): %v", resp.Header.Get("Location"), resp.StatusCode, err)
	}
	if resp, err = browser.Get(cb); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/connect/done" {
		t.Fatalf("callback: got %d to %q, want 303 to /connect/done", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func (ce *crashEnv) account(t *testing.T, p *airlockProc, id string) crashAccount {
	t.Helper()
	var a crashAccount
	if got := ce.api(t, p, "GET", "/api/v1/accounts/"+id, "", &a); got != http.StatusOK {
		t.Fatalf("get account: got %d", got)
	}
	return a
}

// stored opens the database while no process runs: PRAGMA integrity_check
// must pass and the account's token must open with the key.
func (ce *crashEnv) stored(t *testing.T, accountID string) oauthflow.Token {
	t.Helper()
	sealer, err := store.NewSealer(ce.encKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(ce.dir, "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		t.Fatalf("open the database after the kill: %v", err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(context.Background()); err != nil {
		t.Fatalf("integrity check after the kill: %v", err)
	}
	tok, err := st.LoadToken(context.Background(), accountID)
	if err != nil {
		t.Fatalf("the committed token does not open after the kill: %v", err)
	}
	return tok
}

// request sends n requests through the account and returns their statuses
// (Airlock's, and the upstream's when Airlock answered 200).
func (ce *crashEnv) request(t *testing.T, p *airlockProc, accountID string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		var out struct {
			Status int `json:"status"`
		}
		status := ce.api(t, p, "POST", "/api/v1/accounts/"+accountID+"/request", `{"url": "`+ce.provider.APIURL()+`me"}`, &out)
		got = append(got, fmt.Sprintf("%d/%d", status, out.Status))
	}
	return got
}

func allEqual(ss []string, want string) bool {
	for _, s := range ss {
		if s != want {
			return false
		}
	}
	return len(ss) > 0
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
