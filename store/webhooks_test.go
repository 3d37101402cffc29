package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fileHolds reports which of the database's files hold s.
func fileHolds(t *testing.T, path, s string) []string {
	t.Helper()
	var in []string
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(path + suffix); err == nil && strings.Contains(string(b), s) {
			in = append(in, filepath.Base(path+suffix))
		}
	}
	return in
}

// TestWebhookURLIsSealed: a URL set now is never written in plaintext, and
// one an older version stored in plaintext is sealed at the next start with
// the key — and is then in neither the database file nor its WAL.
func TestWebhookURLIsSealed(t *testing.T) {
	ctx := context.Background()
	path := newLocation(t)
	key := testKey(1)
	s := openSealed(t, path, key)
	const token = "hook-token-4f1a9e"
	set := "https://hooks.example.com/services/T1/" + token
	if err := s.SetWebhookURL(ctx, set); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetWebhook(ctx); err != nil || got.URL != set {
		t.Fatalf("get: got %q (%v), want %q", got.URL, err, set)
	}
	if s.Postgres() { // no older version ever stored it in plaintext there
		for where, text := range storedText(t, s) {
			if strings.Contains(text, token) {
				t.Errorf("the URL set is in plaintext in %s", where)
			}
		}
		return
	}
	if in := fileHolds(t, path, token); len(in) > 0 {
		t.Errorf("the URL set is in plaintext in %v", in)
	}

	// As an older version left it: plaintext in url, nothing sealed.
	const legacy = "legacy-token-77c3b2"
	plain := "https://hooks.example.com/airlock?token=" + legacy
	if _, err := s.write.Exec("UPDATE webhook_config SET url = ?, url_sealed = NULL WHERE id = 1", plain); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if in := fileHolds(t, path, legacy); len(in) == 0 {
		t.Fatal("the legacy plaintext is not in the files: the test would prove nothing")
	}
	noKey, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := noKey.GetWebhook(ctx); err != nil || got.URL != plain {
		t.Errorf("without a key: got %q (%v), want the plaintext URL still working", got.URL, err)
	}
	noKey.Close()
	s = openSealed(t, path, key)
	if got, err := s.GetWebhook(ctx); err != nil || got.URL != plain {
		t.Fatalf("after the start that sealed it: got %q (%v), want %q", got.URL, err, plain)
	}
	if in := fileHolds(t, path, legacy); len(in) > 0 {
		t.Errorf("the legacy URL is still in plaintext in %v", in)
	}
	if err := s.SetWebhookURL(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetWebhook(ctx); err != nil || got.URL != "" {
		t.Errorf("cleared: got %q (%v), want none", got.URL, err)
	}
}
