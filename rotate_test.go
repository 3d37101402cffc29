package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"airlock/oauthflow"
	"airlock/store"
)

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func fillKey(b byte) []byte { return bytes.Repeat([]byte{b}, store.KeySize) }

// seedSecrets opens the data dir's database with a Sealer writing with key
// and stores an integration with a client secret and an account with tokens.
// It returns the integration's id and the account's id.
func seedSecrets(t *testing.T, dir string, key []byte, name string) (int64, string) {
	t.Helper()
	ctx := context.Background()
	sealer, err := store.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, err := st.CreateIntegration(ctx, oauthflow.Integration{Key: name, Name: name, OAuth2: oauthflow.OAuth2{ClientSecret: "secret-of-" + name}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: name + "-account"})
	if err != nil {
		t.Fatal(err)
	}
	tok := oauthflow.Token{AccessToken: "AT-" + name, RefreshToken: "RT-" + name}
	if _, err := st.SaveToken(ctx, a.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect}); err != nil {
		t.Fatal(err)
	}
	return in.ID, a.ID
}

// checkSecrets reads what seedSecrets stored with a Sealer holding only key.
func checkSecrets(t *testing.T, dir string, key []byte, name string, integration int64, account string) {
	t.Helper()
	ctx := context.Background()
	sealer, _ := store.NewSealer(key)
	st, err := store.Open(ctx, filepath.Join(dir, "airlock.db"), store.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.IntegrationSecret(ctx, integration); err != nil || got != "secret-of-"+name {
		t.Errorf("client secret of %s with key %s only: got %q (%v)", name, store.KeyID(key), got, err)
	}
	if got, err := st.LoadToken(ctx, account); err != nil || got.AccessToken != "AT-"+name || got.RefreshToken != "RT-"+name {
		t.Errorf("tokens of %s with key %s only: got %q/%q (%v)", name, store.KeyID(key), got.AccessToken, got.RefreshToken, err)
	}
}

// writeKeyFile writes a --new-key-file.
func writeKeyFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// settingLines are stdout's lines that are not comments.
func settingLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestRotateKeyReSealsAndPrintsTheNewSettings(t *testing.T) {
	dir := t.TempDir()
	older, old, next := fillKey(1), fillKey(2), fillKey(3)
	idA, accA := seedSecrets(t, dir, older, "alpha") // from before an earlier rotation
	idB, accB := seedSecrets(t, dir, old, "beta")
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENCRYPTION_KEY": b64(old),
		"AIRLOCK_PREVIOUS_ENCRYPTION_KEYS": b64(older), "AIRLOCK_SESSION_KEY": goodKey()})
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"rotate-key", "--new-key-file", writeKeyFile(t, b64(next)+"\n")}, env, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, stderr.String())
	}
	want := []string{"AIRLOCK_ENCRYPTION_KEY=" + b64(next), "AIRLOCK_PREVIOUS_ENCRYPTION_KEYS=" + b64(old) + "," + b64(older)}
	if got := settingLines(stdout.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout settings: got %q, want %q", got, want)
	}
	if !strings.Contains(stdout.String(), "No value in the database uses the previous keys any more") {
		t.Errorf("stdout does not say the previous keys are unused:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "6 of 6 values use the new key") || !strings.Contains(stderr.String(), "done: 6 values re-sealed") {
		t.Errorf("stderr has no progress:\n%s", stderr.String())
	}
	checkSecrets(t, dir, next, "alpha", idA, accA)
	checkSecrets(t, dir, next, "beta", idB, accB)
}

func TestRotateKeyUnknownKeyNamesTheFix(t *testing.T) {
	dir := t.TempDir()
	older, old, next := fillKey(1), fillKey(2), fillKey(3)
	idA, accA := seedSecrets(t, dir, old, "alpha")
	idB, accB := seedSecrets(t, dir, older, "beta")
	keyFile := writeKeyFile(t, b64(next))
	settings := map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENCRYPTION_KEY": b64(old), "AIRLOCK_SESSION_KEY": goodKey()}
	err := run(t.Context(), []string{"rotate-key", "--new-key-file", keyFile}, envMap(settings), nil, io.Discard, io.Discard)
	for _, w := range []string{"integrations.client_secret of row id=2", store.KeyID(older), "add the key it was sealed with to AIRLOCK_PREVIOUS_ENCRYPTION_KEYS", "the same command again to finish"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("without the older key: got %v, want an error saying %q", err, w)
		}
	}
	settings["AIRLOCK_PREVIOUS_ENCRYPTION_KEYS"] = b64(older)
	if err := run(t.Context(), []string{"rotate-key", "--new-key-file", keyFile}, envMap(settings), nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("with the older key added: %v", err)
	}
	checkSecrets(t, dir, next, "alpha", idA, accA)
	checkSecrets(t, dir, next, "beta", idB, accB)
}

func TestRotateKeyInDevelopmentReplacesTheKeyFile(t *testing.T) {
	dir := t.TempDir()
	old, next := fillKey(2), fillKey(3)
	if err := os.WriteFile(filepath.Join(dir, "encryption.key"), []byte(b64(old)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, acc := seedSecrets(t, dir, old, "alpha")
	var stdout bytes.Buffer
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENV": "development"})
	if err := run(t.Context(), []string{"rotate-key", "--new-key-file", writeKeyFile(t, b64(next))}, env, nil, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "encryption.key")
	b, err := os.ReadFile(path)
	if got := strings.TrimSpace(string(b)); err != nil || got != b64(next) {
		t.Errorf("encryption.key: got %q (%v), want the new key", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("encryption.key mode: got %04o, want 0600", fi.Mode().Perm())
	}
	olds, _ := filepath.Glob(path + ".old-*")
	if len(olds) != 1 {
		t.Fatalf("old key copies: got %v, want one", olds)
	}
	if b, _ := os.ReadFile(olds[0]); strings.TrimSpace(string(b)) != b64(old) {
		t.Errorf("%s: got %q, want the old key", olds[0], b)
	}
	if !strings.Contains(stdout.String(), "nothing to set") {
		t.Errorf("stdout does not say the key file was replaced:\n%s", stdout.String())
	}
	checkSecrets(t, dir, next, "alpha", id, acc)
	// The development server's own key loading now finds the new key.
	cfg, err := parseFlags("serve", nil, env, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := cfg.loadKeys(newLogger("text", slog.LevelInfo, io.Discard)); err != nil || !bytes.Equal(keys.Encryption, next) {
		t.Errorf("loadKeys after rotation: got key %s (%v), want %s", store.KeyID(keys.Encryption), err, store.KeyID(next))
	}
}

func TestRotateKeyNeedsAGoodNewKeyFile(t *testing.T) {
	dir := t.TempDir()
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENCRYPTION_KEY": b64(fillKey(2)), "AIRLOCK_SESSION_KEY": goodKey()})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no flag", nil, "rotate-key needs --new-key-file"},
		{"missing file", []string{"--new-key-file", filepath.Join(dir, "nope.key")}, "no such file"},
		{"not base64", []string{"--new-key-file", writeKeyFile(t, "not base64 at all!")}, "is not valid base64"},
		{"too short", []string{"--new-key-file", writeKeyFile(t, b64(make([]byte, 16)))}, "decodes to 16 bytes, want 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), append([]string{"rotate-key"}, tc.args...), env, nil, io.Discard, io.Discard)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a usage error (exit 2) saying %q", err, tc.want)
			}
		})
	}
}

func TestMaintenanceCommandsRefusedWhileAServerHoldsTheLock(t *testing.T) {
	dir := t.TempDir()
	old := fillKey(2)
	id, acc := seedSecrets(t, dir, old, "alpha")
	backup := filepath.Join(t.TempDir(), "backup.db")
	env := envMap(map[string]string{"AIRLOCK_DATA_DIR": dir, "AIRLOCK_ENCRYPTION_KEY": b64(old), "AIRLOCK_SESSION_KEY": goodKey()})
	if err := run(t.Context(), []string{"backup", "--to", backup}, env, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "airlock.db"))
	lock, err := lockDataDir(dir) // what a running server holds
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	for _, args := range [][]string{
		{"rotate-key", "--new-key-file", writeKeyFile(t, b64(fillKey(3)))},
		{"restore", "--from", backup},
	} {
		t.Run(args[0], func(t *testing.T) {
			err := run(t.Context(), args, env, nil, io.Discard, io.Discard)
			if !errors.Is(err, errLocked) || !strings.Contains(err.Error(), args[0]+" refused") || !strings.Contains(err.Error(), "stop it") {
				t.Errorf("got %v, want a refusal naming the lock", err)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, "airlock.db")); !bytes.Equal(before, after) {
				t.Error("the database changed")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*.replaced-*")); len(m) > 0 {
				t.Errorf("files set aside: %v", m)
			}
		})
	}
	checkSecrets(t, dir, old, "alpha", id, acc)
}
