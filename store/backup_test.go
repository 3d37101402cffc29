package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
)

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// bulkActivity adds n activity rows of 100 random characters in one statement.
func bulkActivity(t *testing.T, s *Store, n int) {
	t.Helper()
	if _, err := s.write.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO activity (at, kind, detail) SELECT ?, 'request', hex(randomblob(50)) FROM seq`, n, millis(time.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestBackupDuringConcurrentWritesRestoresEveryEarlierAccount(t *testing.T) {
	sqliteOnly(t, "backup and restore copy SQLite files (PostgreSQL has pg_dump)")
	ctx := context.Background()
	s := openTest(t)
	in, err := s.CreateIntegration(ctx, sampleIntegration("acme"))
	if err != nil {
		t.Fatal(err)
	}
	// Some bulk, so that the copy takes long enough for writes to land during it.
	const bulk = 2000
	bulkActivity(t, s, bulk)

	var mu sync.Mutex
	var committed []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				committed = append(committed, a.ID)
				mu.Unlock()
				if err := s.AddActivity(ctx, Activity{At: time.Now(), AccountID: a.ID, Kind: "connected"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	waitFor := func(n int) []string {
		for {
			mu.Lock()
			if len(committed) >= n {
				ids := append([]string(nil), committed...)
				mu.Unlock()
				return ids
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}
	before := waitFor(50)
	path := filepath.Join(t.TempDir(), "backup.db")
	err = s.BackupTo(ctx, path)
	during := len(waitFor(0)) - len(before)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("%d accounts committed before the backup, %d while it ran", len(before), during)

	dir := t.TempDir()
	if _, err := RestoreFile(ctx, path, filepath.Join(dir, "airlock.db"), time.Now()); err != nil {
		t.Fatalf("restore: %v", err)
	}
	r := openSealed(t, filepath.Join(dir, "airlock.db"), testKey(9))
	if err := r.IntegrityCheck(ctx); err != nil {
		t.Fatalf("restored database: %v", err)
	}
	for _, id := range before {
		if _, err := r.GetAccount(ctx, id); err != nil {
			t.Fatalf("account %s committed before the backup started: got %v, want it in the backup", id, err)
		}
	}
	var activity int
	r.read.QueryRow("SELECT COUNT(*) FROM activity").Scan(&activity)
	if activity < bulk {
		t.Errorf("activity rows in the backup: got %d, want at least %d", activity, bulk)
	}
}

func TestBackupToWritesOnlyCompleteFiles(t *testing.T) {
	sqliteOnly(t, "backup and restore copy SQLite files (PostgreSQL has pg_dump)")
	ctx := context.Background()
	s := openTest(t)
	if err := s.SetSetting(ctx, "probe", "in the backup"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "airlock-backup.db")
	if err := s.BackupTo(ctx, path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("backup file: got %v (%v), want mode 0600", st, err)
	}
	if got := dirNames(t, dir); len(got) != 1 {
		t.Errorf("files beside the backup: got %v, want only airlock-backup.db", got)
	}
	info, err := CheckBackup(ctx, path)
	if err != nil || info.SchemaVersion == 0 {
		t.Errorf("check: got %+v (%v)", info, err)
	}
	if got := dirNames(t, dir); len(got) != 1 {
		t.Errorf("CheckBackup left files beside the backup: %v", got)
	}

	// An existing file is never replaced, and no partial file is left.
	before, _ := os.ReadFile(path)
	if err := s.BackupTo(ctx, path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("backup over an existing file: got %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the existing file changed")
	}
	if got := dirNames(t, dir); len(got) != 1 {
		t.Errorf("files after the refused backup: got %v, want only airlock-backup.db", got)
	}
}

func TestCheckBackupRefusesWhatIsNotAGoodBackup(t *testing.T) {
	sqliteOnly(t, "backup and restore copy SQLite files (PostgreSQL has pg_dump)")
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	s := openTest(t)
	bulkActivity(t, s, 1000)
	if err := s.BackupTo(ctx, good); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)

	newer := filepath.Join(dir, "newer.db")
	if err := s.BackupTo(ctx, newer); err != nil {
		t.Fatal(err)
	}
	n, err := Open(ctx, newer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.write.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)")
	n.Close()

	foreign := filepath.Join(dir, "foreign.db")
	f, err := openPool(foreign, 1, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Exec("CREATE TABLE notes (body TEXT)")
	f.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	f.Close()

	withWAL := liveWithWAL(t, t.TempDir())

	cases := []struct {
		name    string
		content []byte // written to the file unless nil
		path    string
		want    string
	}{
		{name: "a -wal beside it", path: withWAL, want: "airlock.db-wal beside it holds transactions"},
		{name: "garbage", content: bytes.Repeat([]byte("not a database "), 500), want: "not a database"},
		{name: "truncated", content: goodBytes[:len(goodBytes)/2], want: "malformed"},
		{name: "empty file", content: []byte{}, want: "not an Airlock database"},
		{name: "another application's database", path: foreign, want: "not an Airlock database"},
		{name: "newer schema", path: newer, want: "newer Airlock"},
		{name: "a directory", path: dir, want: "not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "backup.db")
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := CheckBackup(ctx, path)
			if !errors.Is(err, ErrBadBackup) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrBadBackup saying %q", err, tc.want)
			}
		})
	}
}

// liveWithWAL makes dir/airlock.db as a server killed mid-flight leaves it:
// "in-main" checkpointed into the file, "in-wal" committed only in its -wal.
func liveWithWAL(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "airlock.db")
	s1, err := Open(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s1.SetSetting(ctx, "in-main", "yes")
	s1.Close() // the last close checkpoints and removes the -wal
	s2, err := Open(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SetSetting(ctx, "in-wal", "yes")
	live := filepath.Join(dir, "airlock.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatalf("copy the live files: %v", err)
		}
		if err := os.WriteFile(live+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return live
}

func TestRestoreFileMovesTheOldDatabaseAsideWithItsWAL(t *testing.T) {
	sqliteOnly(t, "backup and restore copy SQLite files (PostgreSQL has pg_dump)")
	ctx := context.Background()
	dir := t.TempDir()
	live := liveWithWAL(t, dir)
	b := openTest(t)
	b.SetSetting(ctx, "from-backup", "yes")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := b.BackupTo(ctx, backup); err != nil {
		t.Fatal(err)
	}

	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	r, err := RestoreFile(ctx, backup, live, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := live + ".replaced-20250102T020405Z"; r.Replaced != want {
		t.Errorf("replaced: got %q, want %q", r.Replaced, want)
	}
	for _, p := range []string{live + "-wal", live + "-shm"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after restore: got %v, want it gone (an old -wal must never meet the new file)", filepath.Base(p), err)
		}
	}
	restored := openSealed(t, live, testKey(1))
	for name, want := range map[string]bool{"from-backup": true, "in-main": false, "in-wal": false} {
		if _, err := restored.GetSetting(ctx, name); (err == nil) != want {
			t.Errorf("restored database, setting %q: got %v, want present=%v", name, err, want)
		}
	}
	// The database kept aside is whole: its -wal went with it.
	old := openSealed(t, r.Replaced, testKey(1))
	for _, name := range []string{"in-main", "in-wal"} {
		if v, err := old.GetSetting(ctx, name); err != nil || v != "yes" {
			t.Errorf("replaced database, setting %q: got %q (%v), want yes", name, v, err)
		}
	}

	// A second restore in the same second keeps both replaced databases.
	r2, err := RestoreFile(ctx, backup, live, at)
	if err != nil || r2.Replaced == r.Replaced {
		t.Errorf("second restore: replaced got %q (%v), want a name other than %q", r2.Replaced, err, r.Replaced)
	}
}

func TestRestoreFileRefusesACorruptBackupBeforeTouchingTheLiveDatabase(t *testing.T) {
	sqliteOnly(t, "backup and restore copy SQLite files (PostgreSQL has pg_dump)")
	ctx := context.Background()
	dir := t.TempDir()
	live := liveWithWAL(t, dir)
	snapshot := map[string][]byte{}
	for _, name := range dirNames(t, dir) {
		snapshot[name], _ = os.ReadFile(filepath.Join(dir, name))
	}
	good := filepath.Join(t.TempDir(), "good.db")
	b := openTest(t)
	if err := b.BackupTo(ctx, good); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)
	for name, content := range map[string][]byte{
		"garbage":   bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096),
		"truncated": goodBytes[:len(goodBytes)/3],
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.db")
			os.WriteFile(bad, content, 0o600)
			if _, err := RestoreFile(ctx, bad, live, time.Now()); !errors.Is(err, ErrBadBackup) {
				t.Fatalf("got %v, want ErrBadBackup", err)
			}
			got := dirNames(t, dir)
			if len(got) != len(snapshot) {
				t.Errorf("data dir after the refusal: got %v, want exactly the files before", got)
			}
			for name, want := range snapshot {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s changed (%v)", name, err)
				}
			}
		})
	}
}
