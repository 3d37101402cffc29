package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"airlock/store"
)

// openStore opens the database for the server, clears the leases a stopped
// predecessor left, and makes sure the database takes writes: a server that
// cannot save a rotated token must not start. A database refused for an
// outside reason (a full disk, a read-only file) stops start-up with a
// message that says so and what to fix.
func openStore(ctx context.Context, cfg Config, opts store.Options, log *slog.Logger) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		return openPostgres(ctx, cfg, opts)
	}
	path := filepath.Join(cfg.DataDir, "airlock.db")
	st, err := store.Open(ctx, path, opts)
	if err != nil {
		return nil, startupStorageError(path, err)
	}
	// The data dir's lock proves no other server runs: a refresh lease still
	// in the database is a crashed predecessor's and would block refreshes.
	n, err := st.ClearLeases(ctx)
	if err == nil {
		err = st.WritesOK(ctx)
	}
	if err != nil {
		st.Close()
		return nil, startupStorageError(path, err)
	}
	if n > 0 {
		log.Info("released refresh leases left by a stopped process", "accounts", n)
	}
	return st, nil
}

// startupStorageError names the condition, the file and the setting to
// change; other errors pass as they are.
func startupStorageError(path string, err error) error {
	reason, fix := store.UnavailableReason(err)
	if reason == "" {
		return err
	}
	return fmt.Errorf("cannot write the database %s: %s. Fix: %s, or set AIRLOCK_DATA_DIR (--data-dir) to a directory on a volume with room (%w)",
		path, reason, fix, err)
}

// openPostgres opens the database replicas share, migrating it if this
// replica is the first of a newer version, and makes sure it takes writes.
// Refresh leases stay: other replicas may hold them, and those of a dead
// replica expire by themselves (in 30 s).
func openPostgres(ctx context.Context, cfg Config, opts store.Options) (*store.Store, error) {
	st, err := store.OpenPostgres(ctx, cfg.DatabaseURL, opts)
	if err == nil {
		if err = st.WritesOK(ctx); err != nil {
			st.Close()
		}
	}
	if err != nil {
		if reason, fix := store.UnavailableReason(err); reason != "" {
			return nil, fmt.Errorf("cannot use the database of AIRLOCK_DATABASE_URL (--database-url): %s. Fix: %s (%w)", reason, fix, err)
		}
		return nil, err
	}
	return st, nil
}
