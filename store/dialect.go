package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The differences between SQLite and PostgreSQL live in this file (and the
// driver and migration code of postgres.go and migrate.go). Every query is
// written once, with ? placeholders and the SQL both databases speak (ON
// CONFLICT upserts, RETURNING); what does differ is:
//
//   - placeholders: PostgreSQL numbers them ($1, $2 …); the driver rebinds
//     each query once (rebind, below), so store code never sees it;
//   - locking: SQLite has one writer at a time (BEGIN IMMEDIATE takes the
//     database's write lock), so a transaction that reads and then writes can
//     never race another one. PostgreSQL lets writers interleave: such a
//     transaction locks the rows it read (forUpdate), or an advisory lock per
//     name when what it counts has no row to lock (lockNames), and background
//     work is claimed with SKIP LOCKED or a try-lock (tryLock), so that
//     several replicas never do it twice;
//   - error classification: SQLite's extended result codes, PostgreSQL's
//     SQLSTATE (unavailable.go and postgres.go);
//   - the schema: numbered migrations per database (migrations/ and
//     migrations/postgres/), which a test keeps identical in tables and columns.

// dialect is the database a Store speaks.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// String names the database, as logs and errors do.
func (d dialect) String() string {
	if d == postgresDialect {
		return "postgres"
	}
	return "sqlite"
}

// Postgres reports whether the store is on PostgreSQL (several replicas may
// share it) rather than a SQLite file (one process, holding the data dir).
func (s *Store) Postgres() bool { return s.dialect == postgresDialect }

// forUpdate is the clause that locks the rows a transaction read until it
// ends: nothing on SQLite, whose transactions already hold the one write
// lock; on PostgreSQL FOR NO KEY UPDATE (the lock an UPDATE takes, which
// lets other transactions insert rows referencing the locked one), OF the
// given tables for a query whose outer joins PostgreSQL cannot lock.
//
// Transactions that lock an account and its token take the account's row
// first (SaveToken, DisconnectAccount, ReplaceAccountParameters): the same
// order everywhere, so two of them never deadlock.
func (s *Store) forUpdate(of ...string) string {
	if !s.Postgres() {
		return ""
	}
	if len(of) == 0 {
		return " FOR NO KEY UPDATE"
	}
	return " FOR NO KEY UPDATE OF " + strings.Join(of, ", ")
}

// skipLocked is forUpdate for work queues: rows another replica has claimed
// are skipped rather than waited for.
func (s *Store) skipLocked() string {
	if !s.Postgres() {
		return ""
	}
	return " FOR UPDATE SKIP LOCKED"
}

// lockNames serializes the transactions that take the same names until they
// end, for checks that no row lock covers ("fewer than five failures of this
// scope", "another enabled admin remains", "no user yet"). SQLite needs
// nothing (one writer at a time); PostgreSQL takes a transaction-scoped
// advisory lock per name, in sorted order so two transactions never wait on
// each other crosswise.
func (s *Store) lockNames(ctx context.Context, tx *sql.Tx, names ...string) error {
	if !s.Postgres() {
		return nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	for _, n := range slices.Compact(sorted) {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", lockKey(n)); err != nil {
			return fmt.Errorf("store: lock %q: %w", n, err)
		}
	}
	return nil
}

// tryLock takes name for the rest of tx unless another transaction holds it,
// and reports whether it did: a background job that another replica is
// running right now is skipped, not run twice. SQLite always gets it (one
// process holds the data dir).
func (s *Store) tryLock(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	if !s.Postgres() {
		return true, nil
	}
	var ok bool
	if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock(?)", lockKey(name)).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: lock %q: %w", name, err)
	}
	return ok, nil
}

// exclusive runs a background job's statement and returns the rows it
// changed. On PostgreSQL it runs in a transaction that first takes the
// job's try-lock: while another replica runs the same job, this one skips
// it (0 rows) rather than doing the same work beside it.
func (s *Store) exclusive(ctx context.Context, job, query string, args ...any) (int64, error) {
	if !s.Postgres() {
		res, err := s.write.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if ok, err := s.tryLock(ctx, tx, "job:"+job); err != nil || !ok {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

// lockKey is the 64-bit advisory lock key of a name, in Airlock's own
// namespace so it does not collide with another application's locks on a
// shared server.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("airlock:" + name))
	return int64(h.Sum64())
}

// rebind turns ? placeholders into PostgreSQL's $1, $2 … It skips quoted
// strings, quoted identifiers and comments, so a ? inside them stays. The
// statements are the package's constants (and a few built from them), so
// each is rebound once and remembered.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'' || c == '"': // a string or a quoted identifier, copied whole
			j := i + 1
			for j < len(query) && query[j] != c {
				j++
			}
			j = min(j, len(query)-1)
			b.WriteString(query[i : j+1])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-': // a comment, to the end of its line
			j := i
			for j < len(query) && query[j] != '\n' {
				j++
			}
			b.WriteString(query[i:j])
			i = j - 1
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	q := b.String()
	if reboundCount.Add(1) <= reboundMax {
		rebound.Store(query, q)
	}
	return q
}

var (
	rebound      sync.Map // query → rebound query
	reboundCount atomic.Int64
)

// reboundMax bounds the memo: queries are constants, but a bug that built
// them from values must not grow it without end.
const reboundMax = 10000
