// Package store keeps all of Airlock's state in SQLite (the default: one file in
// the data dir) or PostgreSQL (several replicas on one database): the schema
// and its migrations, sealed secret columns, browser sessions, users,
// integrations, accounts, tokens, pending flows and activity. It holds SQL and
// nothing else; what differs between the two databases is in dialect.go.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)

	"airlock/oauthflow"
)

// ErrNotFound is returned when the row a method looks for does not exist. It
// is oauthflow's, so the accounts service recognises it without this package.
var ErrNotFound = oauthflow.ErrNotFound

// ErrConflict is returned when a write would break a uniqueness rule or a
// compare-and-swap found a different value than the caller expected.
var ErrConflict = oauthflow.ErrConflict

// Store is the database. Its methods are safe for concurrent use.
//
// SQLite allows one writer at a time; rather than letting many pooled connections
// race for the write lock (and sleep in the busy handler), writes go through a
// pool of one connection and reads through a pool of several. Both pools point
// at the same file in WAL mode, so readers never wait for the writer. On
// PostgreSQL, read and write are one pool.
type Store struct {
	read    *sql.DB
	write   *sql.DB
	dialect dialect
	// pgConfig is the PostgreSQL connection's configuration (nil on SQLite),
	// for the connections a listener and a lock keep to themselves.
	pgConfig *pgx.ConnConfig
	// sender tells this store's change notifications from other replicas'.
	sender string
	sealer *Sealer
	path   string
	now    func() time.Time
	// failureAlert is how many temporary refresh failures in a row raise an alert.
	failureAlert int
	// health tracks whether writes get through, for readiness.
	health writeHealth
}

// Options configure Open.
type Options struct {
	// Sealer seals and opens secret columns. It may be nil for commands that
	// never touch a secret (user and API key administration, backups).
	Sealer *Sealer
	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time
	// ReadConns caps the reader pool; 0 means a default based on GOMAXPROCS.
	ReadConns int
	// RefreshFailureAlert is how many temporary refresh failures in a row
	// raise an alert (AIRLOCK_REFRESH_FAILURE_ALERT); 0 means 3.
	RefreshFailureAlert int
	// BusyTimeout is how long a statement waits for another connection's
	// write lock before it fails with SQLITE_BUSY; 0 means 10 s. Tests
	// shorten it to hold the lock "longer than the busy timeout" quickly.
	BusyTimeout time.Duration
	// MaxPageCount, when set, caps the database at that many pages (PRAGMA
	// max_page_count): a write that needs more fails with SQLITE_FULL, as on
	// a full disk. Tests use it to simulate one without filling a disk.
	// SQLite only.
	MaxPageCount int
}

// Open opens (creating if needed) the SQLite database at path and applies any
// migrations that have not run yet.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	write, err := openPool(path, 1, busy, opts.MaxPageCount)
	if err != nil {
		return nil, err
	}
	s := &Store{write: write, sealer: opts.Sealer, path: path, now: now, failureAlert: opts.RefreshFailureAlert, sender: newSenderID()}
	if s.failureAlert <= 0 {
		s.failureAlert = 3
	}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	if err := s.sealPlainWebhookURL(ctx); err != nil {
		write.Close()
		return nil, err
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = max(4, 2*runtime.GOMAXPROCS(0))
	}
	s.read, err = openPool(path, readConns, busy, 0)
	if err != nil {
		write.Close()
		return nil, err
	}
	return s, nil
}

// openPool opens a connection pool whose every connection gets the same pragmas:
// they are part of the DSN, so a connection the pool opens later has them too.
func openPool(path string, conns int, busy time.Duration, maxPages int) (*sql.DB, error) {
	q := url.Values{}
	if maxPages > 0 {
		q.Add("_pragma", fmt.Sprintf("max_page_count(%d)", maxPages))
	}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction, so two
	// writers never deadlock upgrading a read lock.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.read != nil && s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// Path is the database file ("" on PostgreSQL).
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers a query; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when SQLite
// answers "ok". PostgreSQL checks its own pages: there it is an error.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.Postgres() {
		return errors.New("store: the integrity check is SQLite's; PostgreSQL has amcheck and pg_checksums")
	}
	if err := integrityCheck(ctx, s.read); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// millis converts a time to the INTEGER unix milliseconds the schema uses;
// the zero time is stored as 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// newSenderID is a random id naming this store in the change notifications
// it sends, so it can ignore its own.
func newSenderID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
