package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store/pgtest"
)

// Several stores on one database are several replicas (or, on SQLite,
// several processes on one file): the single-process guarantees must hold
// across them. On PostgreSQL these tests fail without the row locks,
// advisory locks and SKIP LOCKED of dialect.go.

// openPeers opens n stores on one fresh database, sharing s's clock.
func openPeers(t *testing.T, n int, opts Options) []*Store {
	t.Helper()
	loc := newLocation(t)
	var out []*Store
	for range n {
		s, err := openAt(context.Background(), loc, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func sealedOptions(t *testing.T) Options {
	t.Helper()
	sealer, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Sealer: sealer}
}

// together runs fn(i) for i in [0, n) at once and waits for them all.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// TestSaveTokenFromOneVersionOnceAcrossPeers: of saves from one version at
// once, on several stores, exactly one lands; the others are told the token
// changed (compare-and-swap), and the stored version is the one winner's.
func TestSaveTokenFromOneVersionOnceAcrossPeers(t *testing.T) {
	peers := openPeers(t, 4, sealedOptions(t))
	ctx := context.Background()
	a := newAccount(t, peers[0])
	first, err := peers[0].SaveToken(ctx, a.ID, -1, oauthflow.Token{AccessToken: "AT-0", RefreshToken: "RT-0"},
		oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
	if err != nil {
		t.Fatal(err)
	}
	var won, conflicts atomic.Int64
	var winner atomic.Value
	together(16, func(i int) {
		tok := oauthflow.Token{AccessToken: fmt.Sprintf("AT-%d", i+1), RefreshToken: fmt.Sprintf("RT-%d", i+1)}
		saved, err := peers[i%len(peers)].SaveToken(ctx, a.ID, first.Version, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring})
		switch {
		case err == nil:
			won.Add(1)
			winner.Store(saved.AccessToken)
		case errors.Is(err, oauthflow.ErrTokenConflict):
			conflicts.Add(1)
		default:
			t.Errorf("save %d: %v", i, err)
		}
	})
	if won.Load() != 1 || conflicts.Load() != 15 {
		t.Fatalf("saves from version %d: got %d landed and %d conflicts, want 1 and 15", first.Version, won.Load(), conflicts.Load())
	}
	got, err := peers[1].LoadToken(ctx, a.ID)
	if err != nil || got.AccessToken != winner.Load() || got.Version != first.Version+1 {
		t.Errorf("stored: got %q version %d (%v), want %q version %d", got.AccessToken, got.Version, err, winner.Load(), first.Version+1)
	}
}

// TestClaimDeliveriesNeverHandsOneOutTwice: workers on several stores claim
// due deliveries at once; each delivery goes to exactly one of them.
func TestClaimDeliveriesNeverHandsOneOutTwice(t *testing.T) {
	peers := openPeers(t, 3, sealedOptions(t))
	ctx := context.Background()
	if err := peers[0].SetWebhookURL(ctx, "https://hooks.example.com/x"); err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if _, err := peers[0].QueueTestEvent(ctx, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	together(9, func(i int) {
		for {
			ds, err := peers[i%len(peers)].ClaimDeliveries(ctx, 4, time.Minute)
			if err != nil {
				t.Errorf("claim: %v", err)
				return
			}
			if len(ds) == 0 {
				return
			}
			mu.Lock()
			for _, d := range ds {
				seen[d.ID]++
			}
			mu.Unlock()
		}
	})
	if len(seen) != n {
		t.Errorf("deliveries claimed: got %d, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %d: claimed %d times, want once", id, c)
		}
	}
}

// TestTakeFlowOnceAcrossPeers: one state's callback arriving at several
// replicas at once is taken by one of them; the others are told it was used.
func TestTakeFlowOnceAcrossPeers(t *testing.T) {
	peers := openPeers(t, 3, sealedOptions(t))
	ctx := context.Background()
	a := newAccount(t, peers[0])
	now := time.Now()
	for round := range 10 {
		state := fmt.Sprint("state-", round)
		if err := peers[0].CreateFlow(ctx, state, PendingFlow{SessionHash: "sess", AccountID: a.ID, IntegrationID: a.IntegrationID,
			Verifier: "v", RedirectURI: "https://x/cb", TokenURL: "https://x/token", Realm: "us", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		var took, used atomic.Int64
		together(12, func(i int) {
			_, err := peers[i%len(peers)].TakeFlow(ctx, state, "sess")
			switch {
			case err == nil:
				took.Add(1)
			case errors.Is(err, ErrFlowUsed):
				used.Add(1)
			default:
				t.Errorf("take %d: %v", i, err)
			}
		})
		if took.Load() != 1 || used.Load() != 11 {
			t.Fatalf("round %d: got %d taken and %d already used, want 1 and 11", round, took.Load(), used.Load())
		}
	}
}

// TestFirstAdminAndLastAdminAcrossPeers: two setup forms at once make one
// first admin; two admins disabling each other at once leave one enabled.
func TestFirstAdminAndLastAdminAcrossPeers(t *testing.T) {
	peers := openPeers(t, 2, Options{})
	ctx := context.Background()
	var made atomic.Int64
	together(8, func(i int) {
		if _, err := peers[i%2].CreateFirstAdmin(ctx, fmt.Sprintf("admin%d@example.com", i), "h"); err == nil {
			made.Add(1)
		} else if !errors.Is(err, ErrConflict) {
			t.Errorf("first admin %d: %v", i, err)
		}
	})
	if n, _ := peers[0].CountUsers(ctx); made.Load() != 1 || n != 1 {
		t.Fatalf("first admins: got %d made and %d users, want 1 and 1", made.Load(), n)
	}
	for round := range 10 {
		us, _ := peers[0].ListUsers(ctx)
		a := us[0]
		b, err := peers[0].CreateUser(ctx, fmt.Sprintf("second%d@example.com", round), "h", RoleAdmin, false)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{a.ID, b.ID}
		together(2, func(i int) {
			if err := peers[i].SetUserDisabled(ctx, ids[i], true); err != nil && !errors.Is(err, ErrLastAdmin) {
				t.Errorf("disable: %v", err)
			}
		})
		var enabled int
		us, _ = peers[1].ListUsers(ctx)
		for _, u := range us {
			if u.Role == RoleAdmin && !u.Disabled() {
				enabled++
			}
		}
		if enabled != 1 {
			t.Fatalf("round %d: enabled admins after two disabled each other at once: got %d, want 1", round, enabled)
		}
		for _, u := range us { // start the next round from one enabled admin and no other
			if u.Disabled() {
				if _, err := peers[0].DeleteUser(ctx, u.ID, -1); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestClaimKeepaliveOnceAcrossPeers: replicas that listed the same due
// account at once claim it once.
func TestClaimKeepaliveOnceAcrossPeers(t *testing.T) {
	peers := openPeers(t, 3, sealedOptions(t))
	ctx := context.Background()
	a := newAccount(t, peers[0])
	var claimed atomic.Int64
	together(9, func(i int) {
		ok, err := peers[i%len(peers)].ClaimKeepalive(ctx, a.ID, time.Now().Add(-time.Hour))
		if err != nil {
			t.Errorf("claim: %v", err)
		}
		if ok {
			claimed.Add(1)
		}
	})
	if claimed.Load() != 1 {
		t.Errorf("claims: got %d, want 1", claimed.Load())
	}
}

// TestReplicasStartingTogetherMigrateOnce: stores opening one empty
// PostgreSQL database at once all open, and each migration is applied (and
// recorded) once: the advisory lock lets one migrate while the others wait.
func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	postgresOnly(t, "the migration lock is PostgreSQL's (SQLite has one process, holding the data dir)")
	url := pgtest.EmptyDatabase(t)
	ctx := context.Background()
	stores := make([]*Store, 5)
	together(len(stores), func(i int) {
		s, err := OpenPostgres(ctx, url, Options{})
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
			return
		}
		stores[i] = s
	})
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	if t.Failed() {
		return
	}
	var rows, versions int
	if err := stores[0].read.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	all, _ := loadMigrationsIn(postgresMigrations)
	if rows != len(all) || versions != len(all) {
		t.Errorf("schema_migrations: got %d rows of %d versions, want %d of each", rows, versions, len(all))
	}
}

// TestBackgroundJobsRunOnceAtATime: while one replica holds a job (its
// transaction open), another running the same job skips it; afterwards it
// runs.
func TestBackgroundJobsRunOnceAtATime(t *testing.T) {
	postgresOnly(t, "job locks are PostgreSQL's (SQLite has one process)")
	peers := openPeers(t, 2, Options{})
	ctx := context.Background()
	if err := peers[0].AddActivity(ctx, Activity{Kind: "request", At: time.Now().Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tx, err := peers[0].write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := peers[0].tryLock(ctx, tx, "job:prune-activity"); !ok || err != nil {
		t.Fatalf("first holder: got %v (%v), want the lock", ok, err)
	}
	if n, err := peers[1].PruneActivity(ctx, 24*time.Hour); n != 0 || err != nil {
		t.Errorf("prune while another replica prunes: got %d (%v), want 0 rows, skipped", n, err)
	}
	tx.Rollback()
	if n, err := peers[1].PruneActivity(ctx, 24*time.Hour); n != 1 || err != nil {
		t.Errorf("prune afterwards: got %d (%v), want 1", n, err)
	}
}

// TestTextFromOutsideIsStoredOnBoth: a NUL byte and invalid UTF-8 (which
// PostgreSQL's TEXT refuses) in a provider's error or a request's URL do not
// cost the activity row, nor the batch it is written in.
func TestTextFromOutsideIsStoredOnBoth(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	bad := "bad\x00byte \xff\xfe end"
	if err := s.AddActivity(ctx, Activity{Kind: "request", AccountID: a.ID, URL: "https://api.example.com/" + bad, Detail: bad},
		Activity{Kind: "request", AccountID: a.ID, Detail: "the good row of the batch"}); err != nil {
		t.Fatalf("add activity: %v", err)
	}
	if err := s.RecordRefreshFailure(ctx, a.ID, oauthflow.RefreshEvent{Kind: oauthflow.KindTemporary, Error: bad}); err != nil {
		t.Fatalf("record a failure: %v", err)
	}
	rows, _, err := s.ListActivity(ctx, ActivityFilter{AccountID: a.ID}, 10, "")
	if err != nil || len(rows) != 3 {
		t.Fatalf("activity: got %d rows (%v), want 3", len(rows), err)
	}
	if got, want := rows[2].Detail, "badbyte \uFFFD end"; got != want {
		t.Errorf("detail: got %q, want %q", got, want)
	}
}
