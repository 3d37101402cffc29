package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"airlock/store"
)

func TestUserCreateReadsPasswordFromStdin(t *testing.T) {
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir})
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"user", "create", "--email", "Ops@Example.com", "--role", "builder"}, env,
		strings.NewReader("a long enough password\n"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("user create: %v (%s)", err, stderr.String())
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "airlock.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmail(context.Background(), "ops@example.com")
	if err != nil || u.Role != store.RoleBuilder {
		t.Fatalf("user: got %+v (%v), want a builder", u, err)
	}
	if ok, _ := store.VerifyPassword("a long enough password", u.PasswordHash); !ok {
		t.Error("the stored hash does not verify the password from stdin")
	}
	// Too short, and a duplicate, are refused.
	err = run(t.Context(), []string{"user", "create", "--email", "x@example.com", "--role", "viewer"}, env, strings.NewReader("short\n"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: got %v", err)
	}
	err = run(t.Context(), []string{"user", "create", "--email", "ops@example.com", "--role", "viewer"}, env, strings.NewReader("a long enough password\n"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: got %v", err)
	}
}

func TestAPIKeyCreatePrintsOnlyTheKey(t *testing.T) {
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir})
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "billing"}, env, nil, &stdout, &stderr); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	if !regexp.MustCompile(`^alk_[A-Za-z0-9_-]{43}\n$`).MatchString(stdout.String()) {
		t.Fatalf("stdout: got %q, want the key alone on one line", stdout.String())
	}
	key := strings.TrimSpace(stdout.String())
	st, err := store.Open(context.Background(), filepath.Join(dir, "airlock.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.APIKeyByHash(context.Background(), store.HashAPIKey(key))
	if err != nil || k.Role != store.RoleAdmin || k.Name != "billing" {
		t.Errorf("stored key: got %+v (%v), want admin 'billing'", k, err)
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"apikey", "create", "--name", "ro", "--role", "viewer"}, env, nil, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.APIKeyByHash(context.Background(), store.HashAPIKey(strings.TrimSpace(stdout.String()))); k.Role != store.RoleViewer {
		t.Errorf("--role viewer: got %q", k.Role)
	}
	if err := run(t.Context(), []string{"apikey", "create", "--name", "x", "--role", "root"}, env, nil, io.Discard, io.Discard); err == nil {
		t.Error("unknown role: got nil error")
	}
}

func TestCLIWorksWhileServerRuns(t *testing.T) {
	dir := t.TempDir()
	rs := startServer(t, dir, nil)
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "live"}, envMap(map[string]string{"AIRLOCK_DATA_DIR": dir}), nil, &stdout, io.Discard); err != nil {
		t.Fatalf("apikey create beside a running server: %v", err)
	}
	req, _ := newRequest("GET", rs.URL+"/api/v1/whoami", strings.TrimSpace(stdout.String()))
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"live"`) {
		t.Errorf("server with the CLI's key: got %d %s", resp.StatusCode, body)
	}
}
