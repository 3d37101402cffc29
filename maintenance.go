package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"airlock/store"
)

// databasePath is the SQLite file in the data dir.
func databasePath(cfg Config) string { return filepath.Join(cfg.DataDir, "airlock.db") }

// existingDatabase is databasePath, or an error when there is no database
// there: backup and rotate-key must not create an empty one.
func existingDatabase(cfg Config) (string, error) {
	path := databasePath(cfg)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no database at %s: check AIRLOCK_DATA_DIR (--data-dir)", path)
	} else if err != nil {
		return "", fmt.Errorf("database %s: %w", path, err)
	}
	return path, nil
}

// holdDataDir takes the data dir's lock for a command that must not run
// beside a server (restore, rotate-key). Holding it, rather than only looking,
// also keeps a server from starting before the command is done.
func holdDataDir(dir, cmd string) (*dirLock, error) {
	l, err := lockDataDir(dir)
	if errors.Is(err, errLocked) {
		holder := "another Airlock process"
		if b, _ := os.ReadFile(filepath.Join(dir, "airlock.lock")); strings.TrimSpace(string(b)) != "" {
			holder += " (process " + strings.TrimSpace(string(b)) + ")"
		}
		return nil, fmt.Errorf("%s refused: %s, most likely a server, holds the data dir %s (%w): stop it, run %s again, then start the server",
			cmd, holder, dir, errLocked, cmd)
	}
	return l, err
}

// setAuditRetention reads AIRLOCK_AUDIT_RETENTION: a Go duration, or a
// whole number of days ("365d"), since a retention policy is written in days
// and 8760h is a number nobody reads at a glance.
func setAuditRetention(c *Config, v string) error {
	d, err := parseDays(v)
	if err != nil || d < time.Hour {
		return fmt.Errorf("%q is not a duration of at least 1h such as 8760h, or a number of days such as 365d", v)
	}
	c.AuditRetention = d
	return nil
}

// setTraceRetention reads AIRLOCK_TRACE_RETENTION: how long failed traces
// are kept at least, a Go duration or a number of days.
func setTraceRetention(c *Config, v string) error {
	d, err := parseDays(v)
	if err != nil || d < time.Hour {
		return fmt.Errorf("%q is not a duration of at least 1h such as 720h, or a number of days such as 30d", v)
	}
	c.TraceRetention = d
	return nil
}

// pruneTraces keeps each account's last store.TracesKept traces and the
// failed ones younger than retention.
func pruneTraces(ctx context.Context, st *store.Store, retention time.Duration, log *slog.Logger) {
	if n, err := st.PruneTraces(ctx, retention); err != nil && ctx.Err() == nil {
		log.Warn("prune traces", "err", err)
	} else if n > 0 {
		log.Debug("pruned flow traces", "rows", n, "failed_retention", retention)
	}
}

// parseDays is time.ParseDuration that also takes "Nd", N whole days.
func parseDays(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// pruneAudit deletes audit log rows past their retention.
func pruneAudit(ctx context.Context, st *store.Store, retention time.Duration, log *slog.Logger) {
	if n, err := st.PruneAudit(ctx, retention); err != nil && ctx.Err() == nil {
		log.Warn("prune audit log", "err", err)
	} else if n > 0 {
		log.Debug("pruned audit log past its retention", "rows", n, "retention", retention)
	}
}
