package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"airlock/store"
)

// backupCommand: airlock backup --to FILE. It runs beside a live server:
// VACUUM INTO copies one consistent snapshot while writes go on.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var to *string
	cfg, err := parseFlags("backup", args, getenv, stderr, func(fs *flag.FlagSet) {
		to = fs.String("to", "", "file to write the backup to; it must not exist yet (required)")
	})
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return usageError{"backup copies the SQLite database of the data dir; with AIRLOCK_DATABASE_URL the database is PostgreSQL's: " +
			"back it up with pg_dump --format=custom --file=airlock.dump \"$AIRLOCK_DATABASE_URL\", and keep the encryption key " +
			"(AIRLOCK_ENCRYPTION_KEY) for as long as you keep the dump, stored apart from it: without the key its tokens and secrets cannot be read"}
	}
	if *to == "" {
		return usageError{"backup needs --to FILE, a file that does not exist yet (for example --to airlock-$(date -u +%Y%m%dT%H%M%SZ).db)"}
	}
	dbPath, err := existingDatabase(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, dbPath, store.Options{ReadConns: 1})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.BackupTo(ctx, *to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("backup refused: %s already exists; choose another name or delete it first (a backup never overwrites a file)", *to)
		}
		return err
	}
	size := int64(0)
	if fi, err := os.Stat(*to); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stderr, "backup: wrote %s (%d bytes), a consistent copy that passes PRAGMA integrity_check\n", *to, size)
	fmt.Fprintln(stderr, "backup: the tokens and client secrets in it are sealed: keep the encryption key in use now "+
		"(AIRLOCK_ENCRYPTION_KEY; in development data/encryption.key) for as long as you keep this backup, stored apart from it")
	return nil
}

// restoreCommand: airlock restore --from FILE. It refuses while a server
// holds the data dir, checks FILE before touching anything, and keeps the
// database it replaces.
func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var from *string
	cfg, err := parseFlags("restore", args, getenv, stderr, func(fs *flag.FlagSet) {
		from = fs.String("from", "", "backup file to restore, as written by airlock backup (required)")
	})
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return usageError{"restore replaces the SQLite database of the data dir; with AIRLOCK_DATABASE_URL the database is PostgreSQL's: " +
			"stop every replica, restore a pg_dump into an empty database with pg_restore --no-owner --dbname=\"$AIRLOCK_DATABASE_URL\" airlock.dump, " +
			"then start the replicas with the encryption key that was in use when the dump was taken"}
	}
	if *from == "" {
		return usageError{"restore needs --from FILE, a file written by airlock backup"}
	}
	if _, err := os.Stat(*from); err != nil {
		return fmt.Errorf("restore: --from: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	lock, err := holdDataDir(cfg.DataDir, "restore")
	if err != nil {
		return err
	}
	defer lock.Release()
	dbPath := databasePath(cfg)
	r, err := store.RestoreFile(ctx, *from, dbPath, time.Now())
	if errors.Is(err, store.ErrBadBackup) {
		return fmt.Errorf("restore refused, %s was not touched: %w", dbPath, err)
	}
	if err != nil {
		return err
	}
	// Open it as the server will: this applies newer migrations to an older
	// backup now, and a failure shows here rather than at the next start.
	st, err := store.Open(ctx, dbPath, store.Options{ReadConns: 1})
	if err != nil {
		return fmt.Errorf("restore: the backup is at %s but does not open: %w (the replaced database is %s)", dbPath, err, r.Replaced)
	}
	err = st.IntegrityCheck(ctx)
	version, _ := st.SchemaVersion(ctx)
	st.Close()
	if err != nil {
		return fmt.Errorf("restore: %w (the replaced database is %s)", err, r.Replaced)
	}
	fmt.Fprintf(stderr, "restore: restored %s to %s (schema version %d, now %d)\n", *from, dbPath, r.Backup.SchemaVersion, version)
	if r.Replaced != "" {
		fmt.Fprintf(stderr, "restore: the database it replaced is kept at %s; delete it once the restored one is right\n", r.Replaced)
	}
	fmt.Fprintln(stderr, "restore: start the server with the AIRLOCK_ENCRYPTION_KEY in use when the backup was taken "+
		"(if the key was rotated since, list the backup's key in AIRLOCK_PREVIOUS_ENCRYPTION_KEYS): without it, tokens and client secrets cannot be read")
	if cfg.Development() && cfg.raw["AIRLOCK_ENCRYPTION_KEY"] == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "encryption.key")); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "restore: warning: there is no %s: copy it from the data dir the backup came from before starting the server, "+
				"or the server generates a new key that cannot open the restored secrets\n", filepath.Join(cfg.DataDir, "encryption.key"))
		}
	}
	return nil
}
