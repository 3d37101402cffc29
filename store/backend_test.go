package store

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/store/pgtest"
)

// The store's tests run twice, on each database: once on SQLite files, then
// on PostgreSQL (a throwaway cluster, a fresh database per test; see
// pgtest). backend says which run this is; every test opens its store
// through openTest, openWith, openClocked or openAt, which follow it. A
// failing test's log names the backend it failed on.
var backend = "sqlite"

func TestMain(m *testing.M) {
	code := m.Run()
	err := pgtest.Available()
	switch {
	case err == nil:
		fmt.Println("store: the same tests on PostgreSQL")
		backend = "postgres"
		// Benchmarks ran in the first run (those of PostgreSQL open their
		// own database): the second runs the tests only.
		flag.Set("test.bench", "")
		// Each test's database is a copy of one migrated here, once.
		if err := pgtest.SetTemplate(func(url string) error {
			s, err := OpenPostgres(context.Background(), url, Options{})
			if err == nil {
				s.Close()
			}
			return err
		}); err != nil {
			fmt.Fprintf(os.Stderr, "store: migrate the template database: %v\n", err)
			code = 1
			break
		}
		code = max(code, m.Run())
	case pgtest.Required():
		fmt.Fprintf(os.Stderr, "store: PostgreSQL is required (AIRLOCK_POSTGRES_TESTS=required) but cannot start: %v\n", err)
		code = 1
	default:
		fmt.Fprintf(os.Stderr, "store: PostgreSQL tests skipped: %v\n", err)
	}
	pgtest.Stop()
	os.Exit(code)
}

// newLocation is where a test's database lives: a file in its temp dir, or
// a fresh PostgreSQL database's URL.
func newLocation(t *testing.T) string {
	t.Helper()
	t.Logf("backend: %s", backend)
	if backend == "postgres" {
		return pgtest.Database(t)
	}
	path := filepath.Join(t.TempDir(), "airlock.db")
	if err := os.WriteFile(path, sqliteTemplate(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// liteTemplate is a SQLite file migrated once per test process, as
// PostgreSQL's databases are copies of one template: migrating every test's
// file was most of this package's CPU under the race detector.
var liteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "airlock-store-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "airlock.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// sqliteTemplate returns the bytes of the migrated template file.
func sqliteTemplate(t *testing.T) []byte {
	t.Helper()
	data, err := liteTemplate()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	return data
}

// openAt opens the database at loc (a path or a postgres:// URL) as the
// server would.
func openAt(ctx context.Context, loc string, opts Options) (*Store, error) {
	if strings.HasPrefix(loc, "postgres://") {
		return OpenPostgres(ctx, loc, opts)
	}
	return Open(ctx, loc, opts)
}

// openWith opens a store on a fresh database of the run's backend with opts.
func openWith(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := openAt(context.Background(), newLocation(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a store with a sealer on a fresh database.
func openTest(t *testing.T) *Store {
	t.Helper()
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	sealer, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return openWith(t, Options{Sealer: sealer})
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openClocked opens a store (without a sealer) whose clock the test moves.
func openClocked(t *testing.T) (*Store, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	return openWith(t, Options{Now: clk.Now}), clk
}

// sqliteOnly skips a test of something only SQLite has (a file, a pragma,
// VACUUM INTO) on the PostgreSQL run.
func sqliteOnly(t *testing.T, what string) {
	t.Helper()
	if backend != "sqlite" {
		t.Skipf("SQLite only: %s", what)
	}
}

// postgresOnly skips a test of something only PostgreSQL has (several
// writers at once, advisory locks, notifications) on the SQLite run.
func postgresOnly(t *testing.T, what string) {
	t.Helper()
	if backend != "postgres" {
		t.Skipf("PostgreSQL only: %s", what)
	}
}
