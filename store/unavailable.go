package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Unavailable reports whether err is the database refusing work for a reason
// outside the request — its write lock held past the busy timeout, the disk
// full, the file read-only, an I/O error, a file it cannot open, a
// PostgreSQL server that cannot be reached — rather than a fault of the
// request or of Airlock. It reads SQLite's result code or PostgreSQL's
// SQLSTATE, never the message. Such errors answer 503 storage_unavailable.
func Unavailable(err error) bool {
	_, _, ok := unavailable(err)
	return ok
}

// UnavailableReason words an Unavailable error's cause and its fix, for
// people: "the disk holding the database is full (SQLITE_FULL)", "free space
// on that disk". Both are empty for other errors.
func UnavailableReason(err error) (reason, fix string) {
	reason, fix, _ = unavailable(err)
	return reason, fix
}

func unavailable(err error) (reason, fix string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return pgUnavailable(err)
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL:
		return "another connection holds the database's write lock (SQLITE_BUSY)", "find what else writes to it (a long backup or a second program) and stop it", true
	case sqlite3.SQLITE_FULL:
		return "the disk holding the database is full (SQLITE_FULL)", "free space on that disk", true
	case sqlite3.SQLITE_READONLY:
		return "the database is read-only (SQLITE_READONLY)", "make the data dir and its files writable by this user, on a volume mounted read-write", true
	case sqlite3.SQLITE_IOERR:
		return "the disk reported an I/O error (SQLITE_IOERR)", "check the disk and the file system holding the data dir", true
	case sqlite3.SQLITE_CANTOPEN:
		return "the database file cannot be opened (SQLITE_CANTOPEN)", "check that the data dir exists and is writable by this user", true
	}
	return "", "", false
}

// writeHealth is what the store knows of whether it can write: the last
// write that failed for an Unavailable reason, and the last probe.
type writeHealth struct {
	mu       sync.Mutex
	failAt   time.Time
	failErr  error
	probeAt  time.Time
	probeErr error
}

// Readiness bounds: a probe at most once a second, and a refused write
// keeps the store unready for 2 s even when the probe gets through.
const (
	probeEvery    = time.Second
	failureWindow = 2 * time.Second
)

// NoteUnavailable records a write that failed for an Unavailable reason (any
// other error, or nil, is ignored), so readiness reflects it at once. The
// store's busiest writers (activity, tokens, refresh failures, leases) call
// it themselves; the HTTP error handler calls it for every other write.
func (s *Store) NoteUnavailable(err error) {
	if !Unavailable(err) {
		return
	}
	s.health.mu.Lock()
	s.health.failAt, s.health.failErr = time.Now(), err
	s.health.mu.Unlock()
}

// WritesOK reports whether the database takes writes: a cheap write (one row
// rewritten, at most once a second; other calls reuse its answer) must get
// through, and no write may have been refused for an Unavailable reason in
// the last 2 s. /readyz uses it, so readiness comes back by itself.
func (s *Store) WritesOK(ctx context.Context) error {
	now := time.Now()
	s.health.mu.Lock()
	due := now.Sub(s.health.probeAt) >= probeEvery
	if due {
		s.health.probeAt = now // one probe at a time; others reuse the last answer
	}
	s.health.mu.Unlock()
	if due {
		err := s.probe(ctx)
		s.NoteUnavailable(err)
		s.health.mu.Lock()
		s.health.probeErr = err
		s.health.mu.Unlock()
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.probeErr != nil {
		return s.health.probeErr
	}
	if !s.health.failAt.IsZero() && time.Since(s.health.failAt) < failureWindow {
		return s.health.failErr
	}
	return nil
}

func (s *Store) probe(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `INSERT INTO write_probe (id, at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at`, millis(time.Now())); err != nil {
		return fmt.Errorf("store: write probe: %w", err)
	}
	return nil
}

// isForeignKeyViolation reports whether err is the database refusing a row
// whose parent is missing (SQLITE_CONSTRAINT_FOREIGNKEY, SQLSTATE 23503), by
// its code rather than its text.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return pgConstraint(err, "23503")
}

// isUniqueViolation reports whether err is the database refusing a duplicate
// (SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY, SQLSTATE 23505), by its code.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return pgConstraint(err, "23505")
}
