package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
