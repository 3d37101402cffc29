package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"airlock/store"
)

// rotateBatch is how many values one short transaction of rotate-key re-seals.
const rotateBatch = 500

// rotateKeyCommand: airlock rotate-key --new-key-file F. It re-seals every
// sealed value under the new key, then prints the settings to use from now
// on. It holds the data dir's lock throughout (on PostgreSQL the database's
// maintenance lock, which every running replica holds shared), so no server
// runs meanwhile.
func rotateKeyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var keyFile *string
	cfg, err := parseFlags("rotate-key", args, getenv, stderr, func(fs *flag.FlagSet) {
		keyFile = fs.String("new-key-file", "", "file holding the new encryption key, base64 of 32 random bytes (required; make it with: openssl rand -base64 32 > F)")
	})
	if err != nil {
		return err
	}
	if *keyFile == "" {
		return usageError{"rotate-key needs --new-key-file F: make the new key with `openssl rand -base64 32 > F` and chmod 600 F"}
	}
	newKey, err := readNewKey(*keyFile, stderr)
	if err != nil {
		return err
	}
	var dbPath string
	if cfg.DatabaseURL == "" {
		if dbPath, err = existingDatabase(cfg); err != nil {
			return err
		}
		lock, err := holdDataDir(cfg.DataDir, "rotate-key")
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	keys, err := cfg.loadEncryptionKeys(newLogger(cfg.LogFormat, cfg.LogLevel, stderr))
	if err != nil {
		return err
	}
	oldSealer, err := store.NewSealer(keys.Encryption, keys.Previous...)
	if err != nil {
		return usageError{err.Error()}
	}
	newSealer, err := store.NewSealer(newKey)
	if err != nil {
		return usageError{err.Error()}
	}
	st, err := openForRotation(ctx, cfg, dbPath, oldSealer)
	if err != nil {
		return err
	}
	defer st.Close()
	release, err := st.HoldMaintenance(ctx)
	if errors.Is(err, store.ErrReplicasRunning) {
		return fmt.Errorf("rotate-key refused: %w (each running replica holds the database's maintenance lock): "+
			"stop every replica, run rotate-key again, then start them", err)
	}
	if err != nil {
		return err
	}
	defer release()

	fmt.Fprintf(stderr, "rotate-key: re-sealing every secret with the new key %s (the current key is %s); if this stops, run the same command again to finish\n",
		newSealer.CurrentKeyID(), oldSealer.CurrentKeyID())
	r, err := st.ResealAll(ctx, newSealer, rotateBatch, func(done, total int) {
		fmt.Fprintf(stderr, "rotate-key: %d of %d values use the new key\n", done, total)
	})
	if err != nil {
		return fmt.Errorf("rotate-key stopped: %w\nRun the same command again to finish (values already re-sealed are skipped); "+
			"until it has finished, a server started with the old settings cannot read the values already under the new key", err)
	}
	fmt.Fprintf(stderr, "rotate-key: done: %d values re-sealed, %d already used the new key\n", r.Resealed, r.Skipped)

	devNote, err := updateDevKeyFile(cfg, keys.Encryption, newKey, *keyFile)
	if err != nil {
		return err
	}
	printNewSettings(stdout, newKey, previousAfterRotation(newKey, keys), devNote)
	return nil
}

// openForRotation opens the SQLite file at dbPath, or the PostgreSQL
// database of AIRLOCK_DATABASE_URL, with the keys in use now.
func openForRotation(ctx context.Context, cfg Config, dbPath string, sealer *store.Sealer) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		return store.OpenPostgres(ctx, cfg.DatabaseURL, store.Options{Sealer: sealer, ReadConns: 1})
	}
	return store.Open(ctx, dbPath, store.Options{Sealer: sealer, ReadConns: 1})
}

// updateDevKeyFile replaces the data dir's encryption.key with the new key
// when that file is where the key comes from (development without
// AIRLOCK_ENCRYPTION_KEY), and returns the note saying so.
func updateDevKeyFile(cfg Config, oldKey, newKey []byte, keyFile string) (string, error) {
	if !cfg.Development() || cfg.raw["AIRLOCK_ENCRYPTION_KEY"] != "" || bytes.Equal(newKey, oldKey) {
		return "", nil
	}
	path := filepath.Join(cfg.DataDir, "encryption.key")
	old, err := replaceDevKey(cfg.DataDir, newKey, time.Now())
	if err != nil {
		return "", fmt.Errorf("rotate-key: every value uses the new key, but %s could not be replaced: %w; copy %s there yourself (mode 0600)",
			path, err, keyFile)
	}
	return fmt.Sprintf("# Development: %s now holds the new key (the old one is kept in %s),\n"+
		"# and a server started without AIRLOCK_ENCRYPTION_KEY reads it from there: there is nothing to set.\n"+
		"# With the environment instead, it would be:\n", path, old), nil
}

// printNewSettings writes what to set after a rotation, as an env file whose
// comments say why.
func printNewSettings(w io.Writer, newKey []byte, previous []string, devNote string) {
	fmt.Fprintf(w, "# Every sealed value now uses the new key %s.\n", store.KeyID(newKey))
	if devNote != "" {
		fmt.Fprint(w, devNote)
	} else {
		fmt.Fprint(w, "# Set these two in the server's environment, replacing their old values, then start the server:\n")
	}
	fmt.Fprintf(w, "AIRLOCK_ENCRYPTION_KEY=%s\n", base64.StdEncoding.EncodeToString(newKey))
	fmt.Fprintf(w, "AIRLOCK_PREVIOUS_ENCRYPTION_KEYS=%s\n", strings.Join(previous, ","))
	if len(previous) > 0 {
		fmt.Fprint(w, "# No value in the database uses the previous keys any more: once the server has started and reads its\n"+
			"# tokens, AIRLOCK_PREVIOUS_ENCRYPTION_KEYS can be emptied. Keep the old keys as long as you keep backups\n"+
			"# taken before this rotation: those backups can only be read with them.\n")
	}
}

// readNewKey reads and decodes the file given to --new-key-file.
func readNewKey(path string, stderr io.Writer) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--new-key-file: %v", err)}
	}
	key, err := decodeKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, usageError{fmt.Sprintf("--new-key-file %s: the key %v; make one with `openssl rand -base64 32 > %s`", path, err, path)}
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "rotate-key: warning: %s can be read by other users (mode %04o): chmod 600 it, and delete it once the key is stored where the server's settings come from\n",
			path, st.Mode().Perm())
	}
	return key, nil
}

// previousAfterRotation is the old current key, then the old previous keys,
// in base64, without the new key and without repeats.
func previousAfterRotation(newKey []byte, old Keys) []string {
	var out []string
	seen := map[string]bool{string(newKey): true}
	for _, k := range append([][]byte{old.Encryption}, old.Previous...) {
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		out = append(out, base64.StdEncoding.EncodeToString(k))
	}
	return out
}

// replaceDevKey puts the new key in the data dir's encryption.key, the file a
// development server reads when AIRLOCK_ENCRYPTION_KEY is not set. The old
// file is first copied to encryption.key.old-<UTC time>, and the new content
// replaces the file by a rename: at every moment one of them holds each key.
func replaceDevKey(dir string, key []byte, now time.Time) (oldCopy string, err error) {
	path := filepath.Join(dir, "encryption.key")
	old, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	base := path + ".old-" + now.UTC().Format("20060102T150405Z")
	oldCopy = base
	for i := 2; ; i++ {
		err = writeFileSync(oldCopy, old)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		oldCopy = fmt.Sprintf("%s-%d", base, i)
	}
	if err != nil {
		return "", err
	}
	tmp := path + ".new"
	os.Remove(tmp) // left by an earlier run that stopped here
	if err := writeFileSync(tmp, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return oldCopy, nil
}

// writeFileSync creates path (mode 0600, never over an existing file) and syncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
