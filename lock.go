package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dirLock is an exclusive lock on the data dir, held for the life of a server.
// It locks the directory itself, so deleting or replacing airlock.lock cannot
// let a second server in; airlock.lock is locked too (for versions that lock
// only the file) and names the holder's process id. Both are advisory flocks,
// so the kernel releases them when the process dies, even by kill -9: there
// is never a stale lock to clean up.
type dirLock struct{ dir, file *os.File }

// errLocked means another process holds the data dir.
var errLocked = errors.New("data dir is locked")

// lockDataDir takes the lock or explains who holds it.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, "airlock.lock")
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open data dir to lock it: %w", err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		return nil, lockedError(dir, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		d.Close()
		return nil, lockedError(dir, path)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{dir: d, file: f}, nil
}

// lockedError says who holds the data dir, as far as airlock.lock tells.
func lockedError(dir, path string) error {
	b, _ := os.ReadFile(path)
	holder := strings.TrimSpace(string(b))
	if holder == "" {
		holder = "another process"
	} else {
		holder = "process " + holder
	}
	return fmt.Errorf("%w: %s already runs a server on %s; stop it first, or give this one its own AIRLOCK_DATA_DIR", errLocked, holder, dir)
}

// Release drops the lock.
func (l *dirLock) Release() {
	if l == nil || l.dir == nil {
		return
	}
	syscall.Flock(int(l.file.Fd()), syscall.LOCK_UN)
	l.file.Close()
	syscall.Flock(int(l.dir.Fd()), syscall.LOCK_UN)
	l.dir.Close()
	l.dir, l.file = nil, nil
}
