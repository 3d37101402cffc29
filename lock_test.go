package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeletedLockFileDoesNotLetASecondServerIn runs two real server
// processes on one data dir: with airlock.lock deleted (or replaced) after
// the first has started, the second still refuses, and the first still
// serves.
func TestDeletedLockFileDoesNotLetASecondServerIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the airlock binary")
	}
	ce := &crashEnv{bin: buildFaultBinary(t), dir: t.TempDir(), addr: freeAddr(t), encKey: randomKey(t), sessKey: randomKey(t), http: &http.Client{Timeout: 10 * time.Second}}
	first := ce.start(t, "")
	for _, how := range []string{"deleted", "replaced"} {
		path := filepath.Join(ce.dir, "airlock.lock")
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if how == "replaced" {
			if err := os.WriteFile(path, []byte("12345\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		second := exec.Command(ce.bin, "serve")
		second.Env = []string{"AIRLOCK_DATA_DIR=" + ce.dir, "AIRLOCK_ADDR=" + freeAddr(t), "AIRLOCK_ENV=development"}
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = second.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			second.Process.Kill()
			<-done
			t.Fatalf("lock file %s: a second server started on the same data dir\n%s", how, out)
		}
		if err == nil || !strings.Contains(string(out), "already runs a server") {
			t.Errorf("lock file %s: second server: got %v\n%s\nwant it to refuse: another server runs", how, err, out)
		}
	}
	resp, err := ce.http.Get(first.URL + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the first server after the second was refused: %v", err)
	}
	resp.Body.Close()
}
