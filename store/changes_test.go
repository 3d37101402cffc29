package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
)

// changeLog collects what a listener hears.
type changeLog struct {
	mu      sync.Mutex
	changes []Change
	lost    int
}

func (l *changeLog) listener() ChangeListener {
	return ChangeListener{
		Changed: func(c Change) { l.mu.Lock(); l.changes = append(l.changes, c); l.mu.Unlock() },
		Lost:    func() { l.mu.Lock(); l.lost++; l.mu.Unlock() },
	}
}

// waitFor waits up to within for a change matching want and reports how
// long it took.
func (l *changeLog) waitFor(t *testing.T, want Change, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		l.mu.Lock()
		for i, c := range l.changes {
			if c == want {
				l.changes = append(l.changes[:i], l.changes[i+1:]...)
				l.mu.Unlock()
				return time.Since(start)
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %+v heard within %s", want, within)
	return 0
}

func (l *changeLog) lostCount() int { l.mu.Lock(); defer l.mu.Unlock(); return l.lost }

// TestChangesReachTheOtherReplicas: every write another replica's caches
// hold a copy of — an account's token saved or failed, its disconnect,
// values, status or deletion, an integration's edit or deletion, an API
// key disabled or deleted — is heard by the other replicas within a
// second (well within: notifications are sent at commit), never by the
// replica that made it. A listener whose connection the server ends is
// told its caches must go, and hears changes again once it has
// reconnected.
func TestChangesReachTheOtherReplicas(t *testing.T) {
	postgresOnly(t, "LISTEN/NOTIFY (SQLite has one process)")
	peers := openPeers(t, 2, sealedOptions(t))
	a, b := peers[0], peers[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var heardByA, heardByB changeLog
	var wg sync.WaitGroup
	for _, l := range []struct {
		s   *Store
		log *changeLog
	}{{a, &heardByA}, {b, &heardByB}} {
		wg.Add(1)
		go func() { defer wg.Done(); l.s.ListenChanges(ctx, l.log.listener()) }()
	}
	defer wg.Wait()
	defer cancel()
	for heardByB.lostCount() == 0 || heardByA.lostCount() == 0 { // both listening
		time.Sleep(5 * time.Millisecond)
	}
	acct := newAccount(t, a)
	in, _ := a.GetIntegrationByID(ctx, acct.IntegrationID)
	key, err := a.CreateAPIKey(ctx, "ci", RoleAdmin, "hash-of-the-key", "abcd", "")
	if err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		name  string
		write func() error
		want  Change
	}{
		{"save token", func() error {
			_, err := a.SaveToken(ctx, acct.ID, -1, oauthflow.Token{AccessToken: "at"}, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
			return err
		}, Change{AccountID: acct.ID}},
		{"record refresh failure", func() error {
			return a.RecordRefreshFailure(ctx, acct.ID, oauthflow.RefreshEvent{Kind: oauthflow.KindTemporary, Error: "x"})
		}, Change{AccountID: acct.ID}},
		{"set status", func() error { return a.SetAccountStatus(ctx, acct.ID, oauthflow.StatusError, "broken") }, Change{AccountID: acct.ID}},
		{"update values", func() error {
			_, err := a.UpdateAccount(ctx, acct.ID, "renamed", map[string]string{"serverName": "eu"})
			return err
		}, Change{AccountID: acct.ID}},
		{"disconnect", func() error { return a.DisconnectAccount(ctx, acct.ID, false, "", "ada") }, Change{AccountID: acct.ID}},
		{"edit integration", func() error { _, err := a.UpdateIntegration(ctx, in.Key, in); return err }, Change{Integrations: true}},
		{"disable api key", func() error { _, err := a.DisableAPIKey(ctx, key.ID); return err }, Change{APIKeyHash: key.Hash}},
		{"delete api key", func() error { _, err := a.DeleteAPIKey(ctx, key.ID); return err }, Change{APIKeyHash: key.Hash}},
		{"delete account", func() error { return a.DeleteAccount(ctx, acct.ID) }, Change{AccountID: acct.ID}},
		{"delete integration", func() error { _, err := a.DeleteIntegration(ctx, in.Key); return err }, Change{Integrations: true}},
	}
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if took := heardByB.waitFor(t, w.want, time.Second); took > 500*time.Millisecond {
			t.Errorf("%s: heard after %s, want well within 1 s", w.name, took)
		}
	}
	time.Sleep(50 * time.Millisecond)
	heardByA.mu.Lock()
	if len(heardByA.changes) != 0 {
		t.Errorf("the writing replica heard its own changes: %+v", heardByA.changes)
	}
	heardByA.mu.Unlock()

	// The server ends B's listening connection: B is told to drop its
	// caches, reconnects by itself, and hears the next change.
	lostBefore := heardByB.lostCount()
	if _, err := a.write.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+changesChannel+`' AND pid != pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for heardByB.lostCount() < lostBefore+2 { // once at the loss, once listening again
		if time.Now().After(deadline) {
			t.Fatalf("lost connection: Lost called %d more times within 5 s, want 2", heardByB.lostCount()-lostBefore)
		}
		time.Sleep(10 * time.Millisecond)
	}
	other := newAccount(t, a)
	if err := a.SetAccountStatus(ctx, other.ID, oauthflow.StatusError, "x"); err != nil {
		t.Fatal(err)
	}
	heardByB.waitFor(t, Change{AccountID: other.ID}, time.Second)
}

func TestChangePayloads(t *testing.T) {
	for _, c := range []Change{{AccountID: "acc_1"}, {Integrations: true}, {APIKeyHash: "ab12"}} {
		sender, got, ok := decodeChange(c.encode("s1"))
		if !ok || sender != "s1" || got != c {
			t.Errorf("round trip of %+v: got %q %+v %v", c, sender, got, ok)
		}
	}
	for _, bad := range []string{"", "s1", "s1:x:1", "s1:a"} {
		if _, _, ok := decodeChange(bad); ok {
			t.Errorf("decode %q: got ok, want refused", bad)
		}
	}
}
