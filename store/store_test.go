package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMigrationsAppliedInOrderAndRecorded(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	all, err := loadMigrationsIn(s.migrationsDir())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.read.QueryContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		if want := all[len(got)-1].name; name != want {
			t.Errorf("migration %d name: got %q, want %q", v, name, want)
		}
	}
	if len(got) != len(all) {
		t.Fatalf("applied migrations: got %v, want %d of them", got, len(all))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("versions not increasing: %v", got)
		}
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != all[len(all)-1].version {
		t.Errorf("schema version: got %d (%v), want %d", v, err, all[len(all)-1].version)
	}
}

func TestReopenDoesNotReapplyMigrations(t *testing.T) {
	path := newLocation(t)
	ctx := context.Background()
	s1, err := openAt(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.SetSetting(ctx, "probe", "kept"); err != nil {
		t.Fatal(err)
	}
	s1.Close()
	s2, err := openAt(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got, err := s2.GetSetting(ctx, "probe")
	if err != nil || got != "kept" {
		t.Errorf("setting after reopen: got %q (%v), want %q", got, err, "kept")
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := newLocation(t)
	ctx := context.Background()
	s, err := openAt(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = openAt(ctx, path, Options{})
	if err == nil || !strings.Contains(err.Error(), "run a newer Airlock") {
		t.Fatalf("opening a database from a newer Airlock: got %v, want a refusal that says to run a newer one", err)
	}
}

// TestPragmasOnEveryPooledConnection holds several reader connections open at
// once and checks each has WAL, busy_timeout and foreign keys.
func TestPragmasOnEveryPooledConnection(t *testing.T) {
	sqliteOnly(t, "pragmas")
	s := openTest(t)
	ctx := context.Background()
	const n = 4
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := s.read.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i, c := range append(conns, mustConn(t, s.write)) {
		var mode string
		var busy, fk int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || busy < 1000 || fk != 1 {
			t.Errorf("conn %d: got journal_mode=%s busy_timeout=%d foreign_keys=%d, want wal, >=1000, 1", i, mode, busy, fk)
		}
	}
}

func mustConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNotFoundIsErrNotFound(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.GetSetting(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSetting: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetUser(ctx, 42); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser: got %v, want ErrNotFound", err)
	}
	if _, err := s.APIKeyByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("APIKeyByHash: got %v, want ErrNotFound", err)
	}
}

// TestConcurrentWritersDoNotFail runs writers from many goroutines: with the
// single-connection write pool none may see SQLITE_BUSY.
func TestConcurrentWritersDoNotFail(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := s.ReserveSigninAttempt(ctx, time.Hour, 1000, "ip:test"); err != nil {
					errs <- err
				}
				if _, err := s.GetSetting(ctx, "nothing"); !errors.Is(err, ErrNotFound) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, err := s.ReserveSigninAttempt(ctx, time.Hour, 400, "ip:test")
	var lim *SigninLimitError
	if !errors.As(err, &lim) {
		t.Errorf("after 400 recorded failures, a limit of 400: got %v, want a SigninLimitError", err)
	}
}

// TestReserveSigninAttemptHoldsUnderConcurrency: of many reservations at
// once against one scope, exactly the limit get through; a released
// reservation frees its slot, and a scope at its limit records nothing for
// the other scopes of the attempt either.
func TestReserveSigninAttemptHoldsUnderConcurrency(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const n, limit = 50, 5
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted []SigninReservation
		refused int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ReserveSigninAttempt(ctx, time.Minute, limit, "email:a@example.com", "ip:192.0.2."+string(rune('0'+i%10)))
			mu.Lock()
			defer mu.Unlock()
			var lim *SigninLimitError
			switch {
			case err == nil:
				granted = append(granted, r)
			case errors.As(err, &lim) && lim.Scope == "email:a@example.com" && !lim.Oldest.IsZero():
				refused++
			default:
				t.Errorf("reserve: got %v, want nil or a SigninLimitError for the email", err)
			}
		}()
	}
	wg.Wait()
	if len(granted) != limit || refused != n-limit {
		t.Fatalf("granted %d, refused %d; want %d and %d", len(granted), refused, limit, n-limit)
	}
	if err := s.ReleaseSigninAttempt(ctx, granted[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveSigninAttempt(ctx, time.Minute, limit, "email:a@example.com"); err != nil {
		t.Errorf("after one release: got %v, want a free slot", err)
	}
	if _, err := s.ReserveSigninAttempt(ctx, time.Minute, limit, "email:a@example.com"); err == nil {
		t.Error("after the freed slot was taken again: got nil, want the limit")
	}
	if err := s.ReleaseSigninAttempt(ctx, SigninReservation{}, "email:a@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveSigninAttempt(ctx, time.Minute, limit, "email:a@example.com"); err != nil {
		t.Errorf("after clearing the scope: got %v, want a free slot", err)
	}
}

func TestIntegrityCheck(t *testing.T) {
	sqliteOnly(t, "PRAGMA integrity_check")
	s := openTest(t)
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Errorf("integrity check on a fresh database: %v", err)
	}
}
