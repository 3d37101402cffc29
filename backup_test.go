package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"airlock/store"
)

// whoami asks a running server who an API key is.
func whoami(t *testing.T, rs *runningServer, key string) (int, string) {
	t.Helper()
	req, _ := newRequest(http.MethodGet, rs.URL+"/api/v1/whoami", key)
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestBackupWhileServingThenRestoreOnANewMachine(t *testing.T) {
	dirA := t.TempDir()
	key := fillKey(7)
	id, acc := seedSecrets(t, dirA, key, "alpha")
	envA := envMap(map[string]string{"AIRLOCK_DATA_DIR": dirA})
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--name", "ops"}, envA, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	apiKey := strings.TrimSpace(out.String())
	rsA := startServer(t, dirA, map[string]string{"AIRLOCK_ENCRYPTION_KEY": b64(key)})

	backup := filepath.Join(t.TempDir(), "airlock-backup.db")
	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"backup", "--to", backup}, envA, nil, io.Discard, &stderr); err != nil {
		t.Fatalf("backup beside a running server: %v", err)
	}
	if !strings.Contains(stderr.String(), "keep the encryption key") {
		t.Errorf("backup does not mention the encryption key:\n%s", stderr.String())
	}
	first, _ := os.ReadFile(backup)
	err := run(t.Context(), []string{"backup", "--to", backup}, envA, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second backup to the same file: got %v, want a refusal", err)
	}
	if again, _ := os.ReadFile(backup); !bytes.Equal(first, again) {
		t.Error("the refused backup changed the existing file")
	}
	rsA.stop()

	// The new machine: an empty place, the backup, and the same encryption key.
	dirB := filepath.Join(t.TempDir(), "data")
	stderr.Reset()
	if err := run(t.Context(), []string{"restore", "--from", backup}, envMap(map[string]string{"AIRLOCK_DATA_DIR": dirB}), nil, io.Discard, &stderr); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(stderr.String(), "AIRLOCK_ENCRYPTION_KEY in use when the backup was taken") {
		t.Errorf("restore does not say which key to start with:\n%s", stderr.String())
	}
	rsB := startServer(t, dirB, map[string]string{"AIRLOCK_ENCRYPTION_KEY": b64(key)})
	if code, body := whoami(t, rsB, apiKey); code != http.StatusOK || !strings.Contains(body, `"name":"ops"`) {
		t.Errorf("restored server, API key from before the backup: got %d %s, want 200 ops", code, body)
	}
	if err := rsB.stop(); err != nil {
		t.Fatal(err)
	}
	checkSecrets(t, dirB, key, "alpha", id, acc)
}

func TestRestoreKeepsTheReplacedDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir})
	seedSecrets(t, dir, fillKey(7), "alpha")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := run(t.Context(), []string{"backup", "--to", backup}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	seedSecrets(t, dir, fillKey(7), "after-the-backup")
	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"restore", "--from", backup}, env, nil, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, "airlock.db.replaced-*"))
	if len(aside) != 1 || !strings.Contains(stderr.String(), aside[0]) {
		t.Fatalf("replaced database: got %v, want one, named on stderr:\n%s", aside, stderr.String())
	}
	for path, want := range map[string]int{filepath.Join(dir, "airlock.db"): 1, aside[0]: 2} {
		st, err := store.Open(ctx, path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := st.CountIntegrations(ctx); err != nil || n != want {
			t.Errorf("%s: got %d integrations (%v), want %d", filepath.Base(path), n, err, want)
		}
		st.Close()
	}
}

func TestRestoreRefusesACorruptFileWithoutTouchingTheDatabase(t *testing.T) {
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir})
	seedSecrets(t, dir, fillKey(7), "alpha")
	good := filepath.Join(t.TempDir(), "good.db")
	if err := run(t.Context(), []string{"backup", "--to", good}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)
	live := filepath.Join(dir, "airlock.db")
	before, _ := os.ReadFile(live)
	for name, content := range map[string][]byte{
		"garbage":   bytes.Repeat([]byte("garbage!"), 1024),
		"truncated": goodBytes[:len(goodBytes)/2],
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.db")
			os.WriteFile(bad, content, 0o600)
			err := run(t.Context(), []string{"restore", "--from", bad}, env, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "restore refused") || !strings.Contains(err.Error(), "was not touched") {
				t.Errorf("got %v, want a refusal saying the database was not touched", err)
			}
			if after, _ := os.ReadFile(live); !bytes.Equal(before, after) {
				t.Error("the live database changed")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*replac*")); len(m) > 0 {
				t.Errorf("files set aside: %v", m)
			}
		})
	}
}
