package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
	"airlock/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if replicaBinDir != "" {
		os.RemoveAll(replicaBinDir)
	}
	os.Exit(code)
}

// pgEnv is the environment of commands and servers on one fresh PostgreSQL
// database, with production keys (replicas must share them).
func pgEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"AIRLOCK_DATABASE_URL":   pgtest.Database(t),
		"AIRLOCK_DATA_DIR":       filepath.Join(t.TempDir(), "data"),
		"AIRLOCK_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(randomKey(t)),
		"AIRLOCK_SESSION_KEY":    base64.StdEncoding.EncodeToString(randomKey(t)),
	}
}

func withEnv(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestDatabaseURLSetting(t *testing.T) {
	tests := []struct {
		value   string
		ok      bool
		wantURL string
	}{
		{"", true, ""},
		{"postgres://airlock:s3cret@db.example.com:5432/airlock", true, "postgres://airlock:s3cret@db.example.com:5432/airlock"},
		{"postgresql://db.example.com/airlock?sslmode=require", true, "postgresql://db.example.com/airlock?sslmode=require"},
		{"mysql://airlock:s3cret@db.example.com/airlock", false, ""},
		{"postgres:///airlock", false, ""},
		{"/var/lib/airlock.db", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			cfg, err := parseFlags("serve", nil, envMap(map[string]string{"AIRLOCK_DATABASE_URL": tt.value}), io.Discard, nil)
			if tt.ok != (err == nil) {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "AIRLOCK_DATABASE_URL (--database-url)") || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q: want it to name the setting and never repeat the password", err)
				}
				return
			}
			if cfg.DatabaseURL != tt.wantURL {
				t.Errorf("DatabaseURL: got %q, want %q", cfg.DatabaseURL, tt.wantURL)
			}
		})
	}
}

// TestCommandsOnPostgres: user and apikey create work against PostgreSQL,
// migrating an empty database; backup and restore refuse with a message
// that points at pg_dump and pg_restore and the encryption key.
func TestCommandsOnPostgres(t *testing.T) {
	env := pgEnv(t)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"user", "create", "--email", "ops@example.com", "--role", "admin"}, envMap(env),
		strings.NewReader("a long enough password\n"), &stdout, &stderr); err != nil {
		t.Fatalf("user create: %v (%s)", err, stderr.String())
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"apikey", "create", "--name", "ci"}, envMap(env), nil, &stdout, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	st, err := store.OpenPostgres(context.Background(), env["AIRLOCK_DATABASE_URL"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.GetUserByEmail(context.Background(), "ops@example.com"); err != nil || u.Role != store.RoleAdmin {
		t.Errorf("user: got %+v (%v), want an admin", u, err)
	}
	if keys, err := st.ListAPIKeys(context.Background()); err != nil || len(keys) != 1 || keys[0].Name != "ci" {
		t.Errorf("api keys: got %+v (%v), want the one named ci", keys, err)
	}
	if _, err := os.Stat(env["AIRLOCK_DATA_DIR"]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir: got %v, want none made: on PostgreSQL it holds nothing", err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"backup", "--to", filepath.Join(t.TempDir(), "b.db")}, []string{"pg_dump", "AIRLOCK_ENCRYPTION_KEY"}},
		{[]string{"restore", "--from", filepath.Join(t.TempDir(), "b.db")}, []string{"pg_restore", "encryption key"}},
	} {
		err := run(t.Context(), tc.args, envMap(env), nil, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want a refusal (exit status 2)", tc.args[0], err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %s", tc.args[0], err, w)
			}
		}
	}
}

// TestReplicasShareADataDirAndTheDatabase: on PostgreSQL no server takes
// the data dir's lock — two start on one data dir — and both are ready.
func TestReplicasShareADataDirAndTheDatabase(t *testing.T) {
	env := pgEnv(t)
	a := startServer(t, env["AIRLOCK_DATA_DIR"], withEnv(env, "AIRLOCK_ENV", "production"))
	b := startServer(t, env["AIRLOCK_DATA_DIR"], withEnv(env, "AIRLOCK_ENV", "production"))
	for _, rs := range []*runningServer{a, b} {
		if got := getStatus(t, rs.URL+"/readyz"); got != http.StatusOK {
			t.Errorf("%s/readyz: got %d, want 200\n%s", rs.URL, got, rs.logs.String())
		}
	}
	if _, err := os.Stat(filepath.Join(env["AIRLOCK_DATA_DIR"], "airlock.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("airlock.lock: got %v, want no lock file on PostgreSQL", err)
	}
}

// TestRotateKeyOnPostgres: rotate-key refuses while a replica runs (each
// holds the database's maintenance lock), re-seals everything once they are
// stopped, and a replica started with the settings it printed reads the
// secrets; a replica does not start while rotate-key holds the lock.
func TestRotateKeyOnPostgres(t *testing.T) {
	env := pgEnv(t)
	rs := startServer(t, env["AIRLOCK_DATA_DIR"], withEnv(env, "AIRLOCK_ENV", "production"))
	seedSecret(t, env)
	keyFile := filepath.Join(t.TempDir(), "new.key")
	newKey := randomKey(t)
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(newKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"rotate-key", "--new-key-file", keyFile}, envMap(env), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "stop every replica") {
		t.Fatalf("rotate-key beside a running replica: got %v, want a refusal saying to stop every replica", err)
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenPostgres(context.Background(), env["AIRLOCK_DATABASE_URL"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	release, err := st.HoldMaintenance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = run(t.Context(), []string{"serve"}, envMap(withEnv(env, "AIRLOCK_ADDR", freeAddr(t))), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rotate-key is running") {
		t.Errorf("a replica starting during rotate-key: got %v, want a refusal", err)
	}
	release()
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"rotate-key", "--new-key-file", keyFile}, envMap(env), nil, &stdout, io.Discard); err != nil {
		t.Fatalf("rotate-key with the replicas stopped: %v", err)
	}
	if !strings.Contains(stdout.String(), "AIRLOCK_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(newKey)) {
		t.Errorf("rotate-key printed %q, want the new key's setting", stdout.String())
	}
	sealer, _ := store.NewSealer(newKey)
	after, err := store.OpenPostgres(context.Background(), env["AIRLOCK_DATABASE_URL"], store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if got, err := after.IntegrationSecret(context.Background(), 1); err != nil || got != "the-client-secret-1234" {
		t.Errorf("client secret with only the new key: got %q (%v)", got, err)
	}
}

// seedSecret stores an integration with a client secret under env's key.
func seedSecret(t *testing.T, env map[string]string) {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(env["AIRLOCK_ENCRYPTION_KEY"])
	sealer, _ := store.NewSealer(key)
	st, err := store.OpenPostgres(context.Background(), env["AIRLOCK_DATABASE_URL"], store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := oauthflow.Integration{Key: "acme", Name: "Acme", OAuth2: oauthflow.OAuth2{ClientSecret: "the-client-secret-1234"}}
	if _, err := st.CreateIntegration(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestReadyzWhileThePostgresServerIsAway: /readyz answers 503 within
// seconds of the database becoming unreachable, and 200 again by itself
// once it is back — the replica is not restarted.
func TestReadyzWhileThePostgresServerIsAway(t *testing.T) {
	env := pgEnv(t)
	proxy := newTCPProxy(t, env["AIRLOCK_DATABASE_URL"])
	env["AIRLOCK_DATABASE_URL"] = proxy.url
	rs := startServer(t, env["AIRLOCK_DATA_DIR"], withEnv(env, "AIRLOCK_ENV", "production"))
	if got := getStatus(t, rs.URL+"/readyz"); got != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200", got)
	}
	proxy.cut(true)
	if !eventually(10*time.Second, func() bool { return getStatus(t, rs.URL+"/readyz") == http.StatusServiceUnavailable }) {
		t.Fatal("readyz with the database unreachable: still 200 after 10 s, want 503")
	}
	proxy.cut(false)
	if !eventually(15*time.Second, func() bool { return getStatus(t, rs.URL+"/readyz") == http.StatusOK }) {
		t.Fatalf("readyz once the database is back: still not 200 after 15 s\n%s", rs.logs.String())
	}
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func eventually(within time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// tcpProxy forwards connections to a PostgreSQL server until cut, which
// closes every connection and refuses new ones: the database "goes away"
// for one replica without stopping the cluster the other tests use.
type tcpProxy struct {
	url    string
	target string
	ln     net.Listener
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, dbURL string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := dbURL[strings.Index(dbURL, "@")+1:]
	host = host[:strings.Index(host, "/")]
	p := &tcpProxy{target: host, ln: ln, conns: map[net.Conn]bool{}, url: strings.Replace(dbURL, host, ln.Addr().String(), 1)}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go p.serve()
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *tcpProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
