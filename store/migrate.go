package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Each database has its own numbered files: migrations/ for SQLite,
// migrations/postgres/ for PostgreSQL. A number stands for the same schema
// in both (PostgreSQL's first file, 0014, is SQLite's 0001 to 0014 in one),
// so every schema change is a file in each directory under the same number;
// TestSchemasMatch fails when the two disagree in tables or columns.
const (
	sqliteMigrations   = "migrations"
	postgresMigrations = "migrations/postgres"
)

// migration is one numbered .sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads SQLite's embedded migrations in version order.
func loadMigrations() ([]migration, error) { return loadMigrationsIn(sqliteMigrations) }

// loadMigrationsIn reads the embedded files of dir named NNNN_name.sql in
// version order. A shipped file is never edited: a schema change is a new,
// higher number.
func loadMigrationsIn(dir string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration %q: want NNNN_name.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: bad version number", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("store: migrations %q and %q share version %d", prev, name, v)
		}
		seen[v] = name
		body, err := migrationFiles.ReadFile(dir + "/" + name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %q: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrationsDir is the directory of the store's database's migrations.
func (s *Store) migrationsDir() string {
	if s.Postgres() {
		return postgresMigrations
	}
	return sqliteMigrations
}

// migrationConn is where migrations run: the SQLite write pool, or the one
// PostgreSQL connection that holds the migration lock.
type migrationConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate applies every migration that is not yet recorded, each in its own
// transaction together with its record, so a crash leaves either all of a
// migration or none of it. On PostgreSQL it first takes an advisory lock
// that every replica's migrate takes: of replicas starting together, one
// migrates and the others wait, then find nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	if !s.Postgres() {
		return s.runMigrations(ctx, s.write, s.migrationsDir())
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	// The lock is the session's, so it outlives each migration's
	// transaction; waiting for it has no time limit (lock_timeout 0), since
	// another replica's migration may take long. A replica that dies holding
	// it loses it with its connection.
	for _, q := range []string{"SET lock_timeout = 0", "SELECT pg_advisory_lock(?)", "RESET lock_timeout"} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, lockKey("migrations"))
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: migrate: take the migration lock: %w", err)
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", lockKey("migrations"))
	return s.runMigrations(ctx, conn, s.migrationsDir())
}

// runMigrations applies dir's migrations that db has not recorded, refusing
// a database whose schema is newer than this binary knows.
func (s *Store) runMigrations(ctx context.Context, db migrationConn, dir string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	all, err := loadMigrationsIn(dir)
	if err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return err
	}
	latest := 0
	for v := range applied {
		latest = max(latest, v)
	}
	if len(all) > 0 && latest > all[len(all)-1].version {
		return fmt.Errorf("store: the database is at schema version %d but this binary knows only up to %d: run a newer Airlock", latest, all[len(all)-1].version)
	}
	for _, m := range all {
		if applied[m.version] {
			continue
		}
		if err := s.applyMigration(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, db migrationConn) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (s *Store) applyMigration(ctx context.Context, db migrationConn, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, millis(s.now())); err != nil {
		return fmt.Errorf("store: record migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	return nil
}

// SchemaVersion is the highest applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.read.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}
