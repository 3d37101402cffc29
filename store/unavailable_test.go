package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// lockWrites holds writes off from a second connection until release: on
// SQLite the database's write lock, on PostgreSQL exclusive locks on the
// tables the readiness probe and the activity log write (which the store
// waits for lock_timeout, its BusyTimeout, then gives up on).
func lockWrites(t *testing.T, s *Store) (release func()) {
	t.Helper()
	driver, dsn := "sqlite", s.Path()
	lock := []string{"INSERT INTO write_probe (id, at) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET at = write_probe.at + 1"}
	if s.Postgres() {
		driver, dsn = "pgx", s.pgConfig.ConnString()
		lock = []string{"LOCK TABLE write_probe IN EXCLUSIVE MODE", "LOCK TABLE activity IN EXCLUSIVE MODE"}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	for _, q := range lock {
		if err == nil {
			_, err = tx.Exec(q)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback(); db.Close() }
}

// fill writes rows until the database (capped by MaxPageCount) is full.
func fill(t *testing.T, s *Store) error {
	t.Helper()
	for i := range 100000 {
		if err := s.AddActivity(context.Background(), Activity{Kind: "request", Detail: strings.Repeat("x", 2000) + fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	t.Fatal("the capped database never filled up")
	return nil
}

// TestUnavailableByTheResultCode: errors that are the database refusing
// work are told by SQLite's result code or PostgreSQL's SQLSTATE (and a
// connection the server dropped), never by their text.
func TestUnavailableByTheResultCode(t *testing.T) {
	busy := openWith(t, Options{BusyTimeout: 50 * time.Millisecond})
	release := lockWrites(t, busy)
	busyErr := busy.AddActivity(context.Background(), Activity{Kind: "request"})
	release()
	plain := openTest(t)
	_, notFound := plain.GetAccount(context.Background(), "acc_missing")
	_, syntax := plain.write.Exec("SELEKT 1")
	type tcase struct {
		name       string
		err        error
		want       bool
		wantReason string
	}
	var cases []tcase
	if plain.Postgres() {
		_, gone := plain.write.Exec("SELECT pg_terminate_backend(pg_backend_pid())")
		cases = append(cases, tcase{"lock held past lock_timeout", busyErr, true, "55P03"},
			tcase{"connection ended by the server", gone, true, "PostgreSQL"})
	} else {
		full := openWith(t, Options{MaxPageCount: 100})
		cases = append(cases, tcase{"write lock held", busyErr, true, "SQLITE_BUSY"},
			tcase{"disk full", fill(t, full), true, "SQLITE_FULL"})
	}
	cases = append(cases, []tcase{
		{"not found", notFound, false, ""},
		{"SQL error", syntax, false, ""},
		{"a message that merely says full", errors.New("database or disk is full"), false, ""},
		{"nil", nil, false, ""},
	}...)
	for _, tc := range cases {
		reason, fix := UnavailableReason(tc.err)
		if got := Unavailable(tc.err); got != tc.want || !strings.Contains(reason, tc.wantReason) || (tc.want && fix == "") {
			t.Errorf("%s (%v): got %v %q %q, want %v with a reason naming %q and a fix", tc.name, tc.err, got, reason, fix, tc.want, tc.wantReason)
		}
	}
}

func TestWritesOKFailsWhileWritesFailAndRecoversByItself(t *testing.T) {
	s := openWith(t, Options{BusyTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	if err := s.WritesOK(ctx); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	release := lockWrites(t, s)
	s.health.mu.Lock()
	s.health.probeAt = time.Time{} // the next check probes at once
	s.health.mu.Unlock()
	if err := s.WritesOK(ctx); !Unavailable(err) {
		t.Errorf("while locked: got %v, want an Unavailable error", err)
	}
	release()
	deadline := time.Now().Add(5 * time.Second)
	for s.WritesOK(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still failing 5 s after the lock went: %v", s.WritesOK(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestActivityLogCountsRowsTheDatabaseRefuses(t *testing.T) {
	s := openWith(t, Options{BusyTimeout: 50 * time.Millisecond})
	l := s.NewActivityLog(time.Hour, nil)
	defer l.Close(context.Background())
	release := lockWrites(t, s)
	for range 7 {
		l.Add(Activity{Kind: "request"})
	}
	if err := l.Flush(context.Background()); !Unavailable(err) {
		t.Errorf("flush while locked: got %v, want an Unavailable error", err)
	}
	release()
	if got := l.Dropped(); got != 7 {
		t.Errorf("dropped: got %d, want 7", got)
	}
}

func TestCapActivityPrunesTheOldestFirst(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	rows := make([]Activity, 25000)
	for i := range rows {
		rows[i] = Activity{Kind: "request", Detail: fmt.Sprint(i)}
	}
	if err := s.AddActivity(ctx, rows...); err != nil {
		t.Fatal(err)
	}
	n, err := s.CapActivity(ctx, 1000)
	if err != nil || n != 24000 {
		t.Fatalf("pruned: got %d (%v), want 24000", n, err)
	}
	left, _, err := s.ListActivity(ctx, ActivityFilter{}, 2000, "")
	if err != nil || len(left) != 1000 || left[0].Detail != "24999" || left[999].Detail != "24000" {
		t.Errorf("left: %d rows, newest %q, oldest %q; want 1000, 24999 … 24000", len(left), left[0].Detail, left[len(left)-1].Detail)
	}
	if n, _ := s.CapActivity(ctx, 1000); n != 0 {
		t.Errorf("a second cap pruned %d rows, want 0", n)
	}
}
