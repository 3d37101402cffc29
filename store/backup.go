package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrBadBackup is wrapped by every reason CheckBackup refuses a file.
var ErrBadBackup = errors.New("not a usable backup")

// BackupInfo describes a backup that CheckBackup accepted.
type BackupInfo struct {
	SchemaVersion int   // the highest migration applied in the backup
	Size          int64 // bytes
}

// BackupTo writes a consistent copy of the database to path (VACUUM INTO, a
// read transaction: writers go on meanwhile and the copy holds every
// transaction committed before it started). It refuses a path that exists
// (an error wrapping fs.ErrExist). The copy is written under a hidden temporary
// name beside path, checked, synced and only then given its name, so a file
// at path is always a complete backup.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("store: backup to %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	// CreateTemp reserves a unique name with mode 0600 (a backup holds sealed
	// secrets and password hashes); VACUUM INTO accepts an empty file.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // after the link below, only the temporary name goes
	if _, err := s.read.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	if _, err := CheckBackup(ctx, tmpName); err != nil {
		return fmt.Errorf("store: backup to %s: the copy does not check: %w", path, err)
	}
	// A hard link never replaces an existing file, unlike a rename: a file
	// created at path meanwhile is kept and this backup fails.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("store: backup to %s: %w", path, fs.ErrExist)
		}
		// Some file systems have no hard links: check, then rename.
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("store: backup to %s: %w", path, fs.ErrExist)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("store: backup to %s: %w", path, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}

// CheckBackup opens the file at path read-only, without touching it or
// creating files beside it, and accepts it when PRAGMA integrity_check answers
// "ok", it is an Airlock database this binary can open (its schema is not
// newer than this binary's migrations), and no -wal beside it holds
// transactions the file lacks. A refusal wraps ErrBadBackup.
func CheckBackup(ctx context.Context, path string) (BackupInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: check %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return BackupInfo{}, fmt.Errorf("store: check %s: %w: it is not a regular file", path, ErrBadBackup)
	}
	info := BackupInfo{Size: st.Size()}
	// A -wal (or hot -journal) beside the file holds transactions that are not
	// in the file itself; checking and copying the file alone would lose them.
	for _, suffix := range []string{"-wal", "-journal"} {
		if j, err := os.Stat(path + suffix); err == nil && j.Size() > 0 {
			return info, fmt.Errorf("store: check %s: %w: %s%s beside it holds transactions that are not in the file itself; "+
				"to restore it, put both in an empty directory as airlock.db and airlock.db%s, run `airlock backup --data-dir` "+
				"that directory `--to` a new file, and restore that file", path, ErrBadBackup, filepath.Base(path), suffix, suffix)
		}
	}
	// immutable=1: no locks, no -wal or -shm read or created. A backup is a
	// single file; what is checked here is exactly what restore copies.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return info, fmt.Errorf("store: check %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := integrityCheck(ctx, db); err != nil {
		return info, fmt.Errorf("store: check %s: %w: %v", path, ErrBadBackup, err)
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil || !v.Valid {
		return info, fmt.Errorf("store: check %s: %w: it is a SQLite file but not an Airlock database (no schema_migrations)", path, ErrBadBackup)
	}
	info.SchemaVersion = int(v.Int64)
	all, err := loadMigrations()
	if err != nil {
		return info, err
	}
	if latest := all[len(all)-1].version; info.SchemaVersion > latest {
		return info, fmt.Errorf("store: check %s: %w: it has schema version %d but this binary knows only up to %d: restore it with a newer Airlock",
			path, ErrBadBackup, info.SchemaVersion, latest)
	}
	return info, nil
}

// integrityCheck runs PRAGMA integrity_check and returns nil when SQLite
// answers "ok"; a file that is not a database fails here too.
func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Restored says what RestoreFile did.
type Restored struct {
	Backup BackupInfo
	// Replaced is where the database that was at dbPath now is, with its -wal
	// (and -journal) beside it under the same name; "" when there was none.
	Replaced string
}

// RestoreFile puts a copy of the backup at dbPath. The backup is checked
// first (CheckBackup); a refusal wraps ErrBadBackup and nothing in dbPath's
// directory has changed. The database it replaces is kept aside as
// dbPath.replaced-<UTC time>.
//
// SQLite applies a file's -wal (and a hot -journal) when it opens it, so an old
// database's -wal left beside the new file would write old pages into it. The
// old -wal and -journal therefore move aside with the old database (first, so
// that no crash can leave them next to a new file), its -shm, an index that
// SQLite rebuilds, is deleted, and only then does the new file take the name.
// No process may have dbPath open: the caller holds the data dir's lock.
func RestoreFile(ctx context.Context, backup, dbPath string, now time.Time) (Restored, error) {
	var r Restored
	info, err := CheckBackup(ctx, backup)
	if err != nil {
		return r, err
	}
	r.Backup = info
	if a, err := os.Stat(backup); err == nil {
		if b, err := os.Stat(dbPath); err == nil && os.SameFile(a, b) {
			return r, fmt.Errorf("store: restore: %s is the live database itself: %w", backup, ErrBadBackup)
		}
	}
	dir := filepath.Dir(dbPath)
	tmpName, err := copyToTemp(backup, dir, "."+filepath.Base(dbPath)+".restoring-*")
	if err != nil {
		return r, fmt.Errorf("store: restore %s: %w", backup, err)
	}
	defer os.Remove(tmpName) // a no-op once renamed

	if _, err := os.Lstat(dbPath); err == nil {
		r.Replaced = asideName(dbPath, now)
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		var err error
		if r.Replaced != "" {
			err = os.Rename(dbPath+suffix, r.Replaced+suffix)
		} else {
			err = os.Remove(dbPath + suffix) // no database to go with: a stray file
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("store: restore: move aside %s%s: %w", dbPath, suffix, err)
		}
	}
	if err := os.Remove(dbPath + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("store: restore: remove %s-shm: %w", dbPath, err)
	}
	if r.Replaced != "" {
		if err := os.Rename(dbPath, r.Replaced); err != nil {
			return r, fmt.Errorf("store: restore: move aside %s: %w", dbPath, err)
		}
	}
	if err := os.Rename(tmpName, dbPath); err != nil {
		return r, fmt.Errorf("store: restore: put the backup at %s: %w (the old database is at %s)", dbPath, err, r.Replaced)
	}
	if err := syncDir(dir); err != nil {
		return r, fmt.Errorf("store: restore: %w", err)
	}
	return r, nil
}

// asideName is dbPath.replaced-<UTC time>, with a counter if that is taken.
func asideName(dbPath string, now time.Time) string {
	base := dbPath + ".replaced-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// copyToTemp copies src to a new 0600 file in dir and syncs it.
func copyToTemp(src, dir, pattern string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
