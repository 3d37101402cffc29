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
// It is an advisory flock, so the kernel releases it when the process dies,
// even by kill -9: there is never a stale lock to clean up.
type dirLock struct{ f *os.File }

// errLocked means another process holds the data dir.
var errLocked = errors.New("data dir is locked")

// lockDataDir takes the lock or explains who holds it.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, "airlock.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "another process"
		} else {
			holder = "process " + holder
		}
		return nil, fmt.Errorf("%w: %s already runs a server on %s; stop it first, or give this one its own AIRLOCK_DATA_DIR", errLocked, holder, dir)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// Release drops the lock.
func (l *dirLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
