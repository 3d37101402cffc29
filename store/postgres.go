package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres opens the PostgreSQL database at databaseURL (postgres://…)
// and applies any migrations that have not run yet, under an advisory lock so
// that replicas starting together never both migrate. Several processes may
// open one database at once: that is what it is for.
func OpenPostgres(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: AIRLOCK_DATABASE_URL: %w", err)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	// A row lock another replica holds is waited for as long as SQLite waits
	// for its write lock, then refused (55P03, Unavailable), never forever;
	// a transaction its replica left open (stopped, not dead) ends after a
	// minute rather than holding its locks.
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(busy.Milliseconds(), 10)
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "airlock"
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	conns := max(opts.ReadConns, 2)
	if opts.ReadConns <= 0 {
		conns = 10
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{read: db, write: db, dialect: postgresDialect, pgConfig: cfg, sealer: opts.Sealer, now: now,
		failureAlert: opts.RefreshFailureAlert, sender: newSenderID()}
	if s.failureAlert <= 0 {
		s.failureAlert = 3
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot reach PostgreSQL at %s: %w", describeConfig(cfg), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// describeConfig names a database without its password, for messages.
func describeConfig(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("host=%s port=%d database=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
}

// rebindConnector hands out pgx connections whose queries are rebound from
// ? to $n placeholders: the store's SQL is written once for both databases.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is a pgx connection whose query-taking methods rebind; the
// rest (transactions, pings, session resets) are pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(query)) }

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// pgUnavailable words a PostgreSQL error that is the database refusing work
// for a reason outside the request: the server cannot be reached or went
// away, is shutting down or starting, is out of disk or connections, is a
// read-only standby, or another connection held a lock past lock_timeout.
// It reads the SQLSTATE or the kind of network error, never the message.
func pgUnavailable(err error) (reason, fix string, ok bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100":
			return "the disk of the PostgreSQL server is full (SQLSTATE 53100)", "free space on the database server's disk", true
		case pe.Code == "53300":
			return "PostgreSQL refuses more connections (SQLSTATE 53300)", "raise max_connections on the server or run fewer replicas", true
		case strings.HasPrefix(pe.Code, "53"):
			return "the PostgreSQL server is out of resources (SQLSTATE " + pe.Code + ")", "check the database server's memory and disk", true
		case pe.Code == "25006":
			return "the database is read-only (SQLSTATE 25006: a standby, or default_transaction_read_only)", "point AIRLOCK_DATABASE_URL at the primary", true
		case pe.Code == "55P03":
			return "another connection held a lock on the rows past lock_timeout (SQLSTATE 55P03)", "find the long transaction (pg_stat_activity) and end it", true
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "58"):
			return "the PostgreSQL server is unavailable (SQLSTATE " + pe.Code + ")", "check that PostgreSQL runs and accepts connections", true
		}
		return "", "", false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the PostgreSQL server cannot be reached", "check that PostgreSQL runs and that AIRLOCK_DATABASE_URL points at it", true
	}
	return "", "", false
}

// pgConstraint reports whether err is PostgreSQL refusing a row for the
// constraint class of SQLSTATE code (23505 unique, 23503 foreign key).
func pgConstraint(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// Listener connections and the advisory locks of the whole database live on
// pgx connections of their own: a LISTEN, or a session lock, must outlive
// any one statement of the pool.
func (s *Store) dedicatedConn(ctx context.Context) (*pgx.Conn, error) {
	if s.pgConfig == nil {
		return nil, errors.New("store: not a PostgreSQL store")
	}
	conn, err := pgx.ConnectConfig(ctx, s.pgConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s: %w", describeConfig(s.pgConfig), err)
	}
	return conn, nil
}
