package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func goodKey() string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) }

func TestConfigErrorsExit2WithAClearMessage(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantMsg string
	}{
		{"unknown realm", map[string]string{"AIRLOCK_REALM": "mars"}, nil, `unknown realm "mars": use us, eu or ap`},
		{"bad public URL", map[string]string{"AIRLOCK_PUBLIC_URL": "not a url"}, nil, "AIRLOCK_PUBLIC_URL"},
		{"public URL with a path", nil, []string{"--public-url", "https://a.example.com/airlock"}, "root of its host"},
		{"http for a public host", map[string]string{"AIRLOCK_PUBLIC_URL": "http://airlock.example.com"}, nil, "use https"},
		{"bad address", map[string]string{"AIRLOCK_ADDR": "nonsense"}, nil, "AIRLOCK_ADDR"},
		{"bad port", nil, []string{"--addr", "127.0.0.1:99999"}, "port"},
		{"unknown env", map[string]string{"AIRLOCK_ENV": "staging"}, nil, "production or development"},
		{"unknown log format", map[string]string{"AIRLOCK_LOG_FORMAT": "xml"}, nil, "text or json"},
		{"bad trusted proxy", map[string]string{"AIRLOCK_TRUSTED_PROXIES": "10.0.0.0/8, nope"}, nil, "CIDR"},
		{"bad duration", map[string]string{"AIRLOCK_OUTBOUND_TIMEOUT": "soon"}, nil, "AIRLOCK_OUTBOUND_TIMEOUT"},
		{"unknown log level", map[string]string{"AIRLOCK_LOG_LEVEL": "loud"}, nil, `unknown log level "loud": use debug, info, warn or error`},
		{"bad access log", map[string]string{"AIRLOCK_ACCESS_LOG": "sometimes"}, nil, `AIRLOCK_ACCESS_LOG (--access-log): "sometimes" is not true or false`},
		{"too few activity rows", nil, []string{"--activity-max-rows", "10"}, "AIRLOCK_ACTIVITY_MAX_ROWS"},
		{"profiler on a public address", map[string]string{"AIRLOCK_PPROF_ADDR": "0.0.0.0:6060"}, nil, "AIRLOCK_PPROF_ADDR (--pprof-addr): \"0.0.0.0:6060\": the profiler listens on loopback only"},
		{"profiler on a host name", nil, []string{"--pprof-addr", "example.com:6060"}, "loopback only"},
		{"profiler without a port", map[string]string{"AIRLOCK_PPROF_ADDR": "127.0.0.1"}, nil, "is not host:port"},
		{"bad token timeout", map[string]string{"AIRLOCK_TOKEN_TIMEOUT": "0s"}, nil, "AIRLOCK_TOKEN_TIMEOUT"},
		{"missing encryption key in production", map[string]string{"AIRLOCK_SESSION_KEY": goodKey()}, nil, "AIRLOCK_ENCRYPTION_KEY is not set: make one with `openssl rand -base64 32`"},
		{"missing session key in production", map[string]string{"AIRLOCK_ENCRYPTION_KEY": goodKey()}, nil, "AIRLOCK_SESSION_KEY is not set"},
		{"malformed key", map[string]string{"AIRLOCK_ENCRYPTION_KEY": "!!not base64!!", "AIRLOCK_SESSION_KEY": goodKey()}, nil, "AIRLOCK_ENCRYPTION_KEY is not valid base64"},
		{"short key", map[string]string{"AIRLOCK_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString([]byte("short")), "AIRLOCK_SESSION_KEY": goodKey()}, nil, "decodes to 5 bytes, want 32"},
		{"bad previous key", map[string]string{"AIRLOCK_ENCRYPTION_KEY": goodKey(), "AIRLOCK_SESSION_KEY": goodKey(), "AIRLOCK_PREVIOUS_ENCRYPTION_KEYS": goodKey() + ",zz"}, nil, "AIRLOCK_PREVIOUS_ENCRYPTION_KEYS: key 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"AIRLOCK_DATA_DIR": t.TempDir(), "AIRLOCK_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			var stderr bytes.Buffer
			err := run(t.Context(), append([]string{"serve"}, tc.args...), envMap(env), strings.NewReader(""), io.Discard, &stderr)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

func TestBadFlagPrintsUsage(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"serve", "--no-such-flag"}, envMap(nil), nil, io.Discard, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "-public-url") {
		t.Errorf("got %v and usage %q, want errUsage and the flag list", err, stderr.String())
	}
	err = run(t.Context(), []string{"frobnicate"}, envMap(nil), nil, io.Discard, &stderr)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Errorf("unknown command: got %v, want a usage error", err)
	}
}

func TestFlagOverridesEnv(t *testing.T) {
	fs, vals := newFlagSet("serve", io.Discard)
	if err := fs.Parse([]string{"--realm", "ap", "--public-url", "https://airlock.example.com/"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := resolveConfig(fs, vals, envMap(map[string]string{"AIRLOCK_REALM": "eu", "AIRLOCK_ORG": "Acme"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Realm != "ap" || cfg.Org != "Acme" || cfg.PublicURL.String() != "https://airlock.example.com" {
		t.Errorf("got realm=%s org=%s url=%s, want ap, Acme, https://airlock.example.com", cfg.Realm, cfg.Org, cfg.PublicURL)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.DataDir != "./data" || cfg.Env != "production" {
		t.Errorf("defaults: got %s %s %s", cfg.Addr, cfg.DataDir, cfg.Env)
	}
}

func TestDevelopmentKeysGeneratedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	fs, vals := newFlagSet("serve", io.Discard)
	cfg, err := resolveConfig(fs, vals, envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENV": "development"}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	k1, err := cfg.loadKeys(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "generated a development key") {
		t.Error("no warning logged for the generated key")
	}
	for _, f := range []string{"encryption.key", "session.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: got %v (%v), want mode 0600", f, st.Mode().Perm(), err)
		}
	}
	k2, err := cfg.loadKeys(log)
	if err != nil || !bytes.Equal(k1.Encryption, k2.Encryption) || !bytes.Equal(k1.Session, k2.Session) {
		t.Error("keys changed on the second load: they must be generated once")
	}
	if bytes.Equal(k1.Encryption, k1.Session) {
		t.Error("the encryption and session keys are the same")
	}
}

// TestReadmeConfigTableMatchesCode checks every setting is in the README's
// table with its flag and default, and the table lists nothing else.
func TestReadmeConfigTableMatchesCode(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(AIRLOCK_[A-Z_]+)` \\| `--([a-z-]+)` \\| (.*?) \\|")
	rows := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		rows[m[1]] = [2]string{m[2], strings.Trim(m[3], "` ")}
	}
	for _, s := range settings {
		r, ok := rows[s.env]
		if !ok {
			t.Errorf("README has no row for %s", s.env)
			continue
		}
		if r[0] != s.flagName() {
			t.Errorf("%s flag: README %q, code %q", s.env, r[0], s.flagName())
		}
		wantDef := s.def
		if wantDef == "" {
			wantDef = "(none)"
		}
		if r[1] != wantDef {
			t.Errorf("%s default: README %q, code %q", s.env, r[1], wantDef)
		}
		delete(rows, s.env)
	}
	for env := range rows {
		t.Errorf("README lists %s, which the code does not have", env)
	}
}

// TestPublicURLFollowsListenAddress: with AIRLOCK_PUBLIC_URL unset, the setup
// link and the redirect URI point at the port the server listens on.
func TestPublicURLFollowsListenAddress(t *testing.T) {
	cases := []struct {
		env     map[string]string
		want    string
		follows bool
		wantErr string
	}{
		{env: map[string]string{}, want: "http://127.0.0.1:8080", follows: true},
		{env: map[string]string{"AIRLOCK_ADDR": "127.0.0.1:9123"}, want: "http://127.0.0.1:9123", follows: true},
		{env: map[string]string{"AIRLOCK_ADDR": ":9000"}, want: "http://127.0.0.1:9000", follows: true},
		{env: map[string]string{"AIRLOCK_ADDR": "0.0.0.0:9001"}, want: "http://127.0.0.1:9001", follows: true},
		{env: map[string]string{"AIRLOCK_ADDR": "localhost:9002"}, want: "http://localhost:9002", follows: true},
		{env: map[string]string{"AIRLOCK_ADDR": "127.0.0.1:9003", "AIRLOCK_PUBLIC_URL": "https://airlock.example.com"}, want: "https://airlock.example.com"},
		{env: map[string]string{"AIRLOCK_ADDR": "10.1.2.3:8080"}, wantErr: "set AIRLOCK_PUBLIC_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.env["AIRLOCK_ADDR"]+" "+tc.env["AIRLOCK_PUBLIC_URL"], func(t *testing.T) {
			fs, vals := newFlagSet("serve", io.Discard)
			cfg, err := resolveConfig(fs, vals, envMap(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "AIRLOCK_ADDR") {
					t.Fatalf("got err %v, want one containing %q and AIRLOCK_ADDR", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.PublicURL.String(); got != tc.want || cfg.PublicURLFromAddr != tc.follows {
				t.Errorf("got %s (follows %v), want %s (follows %v)", got, cfg.PublicURLFromAddr, tc.want, tc.follows)
			}
		})
	}
	t.Run("port 0 takes the socket's port", func(t *testing.T) {
		fs, vals := newFlagSet("serve", io.Discard)
		cfg, err := resolveConfig(fs, vals, envMap(map[string]string{"AIRLOCK_ADDR": "127.0.0.1:0"}))
		if err != nil {
			t.Fatal(err)
		}
		lns, err := listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer lns.close()
		cfg.followListener(lns.main.Addr())
		if want := "http://" + lns.main.Addr().String(); cfg.PublicURL.String() != want {
			t.Errorf("got %s, want %s", cfg.PublicURL, want)
		}
	})
}

// TestAddressInUseNamesBothSettings: the start-up error for a taken port says
// which settings to change.
func TestAddressInUseNamesBothSettings(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, env := range []map[string]string{
		{"AIRLOCK_ADDR": taken.Addr().String()},
		{"AIRLOCK_ADDR": taken.Addr().String(), "AIRLOCK_PUBLIC_URL": "http://" + taken.Addr().String()},
	} {
		fs, vals := newFlagSet("serve", io.Discard)
		cfg, err := resolveConfig(fs, vals, envMap(env))
		if err != nil {
			t.Fatal(err)
		}
		_, err = listen(cfg)
		if err == nil {
			t.Fatal("listen on a taken port succeeded")
		}
		for _, want := range []string{"AIRLOCK_ADDR", "AIRLOCK_PUBLIC_URL", "another process listens there"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %q does not name %s", env, err, want)
			}
		}
	}
}
