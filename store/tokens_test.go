package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
)

func newAccount(t *testing.T, s *Store) AccountRow {
	t.Helper()
	ctx := context.Background()
	in, err := s.CreateIntegration(ctx, sampleIntegration("acme"+NewAccountID()[4:10]))
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: in.ID, Name: "prod", Parameters: map[string]string{"serverName": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSaveTokenCompareAndSwap(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	if _, err := s.LoadToken(ctx, a.ID); !errors.Is(err, oauthflow.ErrNoToken) {
		t.Fatalf("no token yet: got %v, want ErrNoToken", err)
	}
	tok := oauthflow.Token{AccessToken: "AT-one-secret", RefreshToken: "RT-one-secret", TokenType: "Bearer",
		Expiry: time.Now().Add(time.Hour).Truncate(time.Millisecond), ObtainedAt: time.Now().Truncate(time.Millisecond), Scopes: []string{"read", "write"}}
	saved, err := s.SaveToken(ctx, a.ID, 0, tok, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
	if err != nil || saved.Version != 1 {
		t.Fatalf("first save: got version %d (%v), want 1", saved.Version, err)
	}
	if _, err := s.SaveToken(ctx, a.ID, 0, tok, oauthflow.RefreshEvent{}); !errors.Is(err, oauthflow.ErrTokenConflict) {
		t.Errorf("save from a stale version: got %v, want ErrTokenConflict", err)
	}
	tok2 := tok
	tok2.AccessToken, tok2.RefreshToken = "AT-two-secret", ""
	if saved, err = s.SaveToken(ctx, a.ID, 1, tok2, oauthflow.RefreshEvent{Reason: oauthflow.ReasonExpiring}); err != nil || saved.Version != 2 {
		t.Fatalf("second save: got %d (%v)", saved.Version, err)
	}
	got, err := s.LoadToken(ctx, a.ID)
	if err != nil || got.AccessToken != "AT-two-secret" || got.RefreshToken != "" || got.Version != 2 || !got.Expiry.Equal(tok.Expiry) || len(got.Scopes) != 2 {
		t.Errorf("loaded: got %+v (%v)", got, err)
	}
	acc, _ := s.GetAccount(ctx, a.ID)
	if acc.Status != oauthflow.StatusConnected || acc.LastRefreshedAt.IsZero() || !acc.ExpiresAt.Equal(tok.Expiry) {
		t.Errorf("account after save: status %s refreshed %v expires %v", acc.Status, acc.LastRefreshedAt, acc.ExpiresAt)
	}
	for where, text := range storedText(t, s) {
		for _, secret := range []string{"AT-one-secret", "RT-one-secret", "AT-two-secret"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains %s in clear", where, secret)
			}
		}
	}
}

func TestLeaseExcludesOtherHoldersUntilExpiry(t *testing.T) {
	s, clk := openClocked(t)
	ctx := context.Background()
	key := make([]byte, KeySize)
	s.sealer, _ = NewSealer(key)
	a := newAccount(t, s)
	if ok, err := s.AcquireLease(ctx, a.ID, "p1", time.Minute); !ok || err != nil {
		t.Fatalf("p1 first: got %v (%v)", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, a.ID, "p2", time.Minute); ok {
		t.Error("p2 took a lease p1 holds")
	}
	if ok, _ := s.AcquireLease(ctx, a.ID, "p1", time.Minute); !ok {
		t.Error("p1 could not renew its own lease")
	}
	clk.Add(61 * time.Second)
	if ok, _ := s.AcquireLease(ctx, a.ID, "p2", time.Minute); !ok {
		t.Error("p2 could not take an expired lease")
	}
	s.ReleaseLease(ctx, a.ID, "p1") // not the holder: no effect
	if ok, _ := s.AcquireLease(ctx, a.ID, "p1", time.Minute); ok {
		t.Error("a release by a non-holder freed the lease")
	}
	s.ReleaseLease(ctx, a.ID, "p2")
	if ok, _ := s.AcquireLease(ctx, a.ID, "p1", time.Minute); !ok {
		t.Error("p1 could not take a released lease")
	}
}

func TestFlowsAreSingleUseAndExpire(t *testing.T) {
	s, clk := openClocked(t)
	ctx := context.Background()
	s.sealer, _ = NewSealer(make([]byte, KeySize))
	a := newAccount(t, s)
	f := PendingFlow{SessionHash: "sess", AccountID: a.ID, IntegrationID: a.IntegrationID, Verifier: "verifier-x",
		RedirectURI: "http://127.0.0.1/cb", TokenURL: "https://t", Realm: "us", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(10 * time.Minute)}
	if err := s.CreateFlow(ctx, "state-1", f); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFlow(ctx, "state-2", f); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeFlow(ctx, "state-1", "sess")
	if err != nil || got.Verifier != "verifier-x" || got.AccountID != a.ID {
		t.Fatalf("take: got %+v (%v)", got, err)
	}
	if _, err := s.TakeFlow(ctx, "state-1", "sess"); !errors.Is(err, ErrFlowUsed) {
		t.Errorf("second take: got %v, want ErrFlowUsed", err)
	}
	if _, err := s.TakeFlow(ctx, "nope", "sess"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown state: got %v, want ErrNotFound", err)
	}
	clk.Add(11 * time.Minute)
	if _, err := s.TakeFlow(ctx, "state-2", "sess"); !errors.Is(err, ErrFlowExpired) {
		t.Errorf("late take: got %v, want ErrFlowExpired", err)
	}
}

func TestUpdateAccountParamsMarksNeedsReconnect(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	if _, err := s.SaveToken(ctx, a.ID, 0, oauthflow.Token{AccessToken: "x", ObtainedAt: time.Now()}, oauthflow.RefreshEvent{}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.UpdateAccount(ctx, a.ID, "renamed", map[string]string{"serverName": "prod"})
	if r.Status != oauthflow.StatusConnected || r.Name != "renamed" {
		t.Errorf("rename only: got %s %q", r.Status, r.Name)
	}
	r, _ = s.UpdateAccount(ctx, a.ID, "renamed", map[string]string{"serverName": "qa"})
	if r.Status != oauthflow.StatusNeedsReconnect {
		t.Errorf("changed parameters: got %s, want needs_reconnect", r.Status)
	}
}

func TestActivityNewestFirstWithPages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	for i := range 5 {
		if err := s.AddActivity(ctx, Activity{AccountID: a.ID, Kind: "request", Status: 200 + i}); err != nil {
			t.Fatal(err)
		}
	}
	p1, next, err := s.ListActivity(ctx, ActivityFilter{AccountID: a.ID}, 3, "")
	if err != nil || len(p1) != 3 || p1[0].Status != 204 || next == "" {
		t.Fatalf("page 1: got %d rows first status %d next %q (%v)", len(p1), p1[0].Status, next, err)
	}
	if p1[0].AccountName != "prod" || p1[0].IntegrationKey == "" {
		t.Errorf("names not filled in: %+v", p1[0])
	}
	p2, next2, _ := s.ListActivity(ctx, ActivityFilter{AccountID: a.ID}, 3, next)
	if len(p2) != 2 || p2[1].Status != 200 || next2 != "" {
		t.Errorf("page 2: got %d rows next %q", len(p2), next2)
	}
}

// TestVersionsNeverRepeatAcrossADisconnect: a refresh that began before a
// disconnect (holding version 1) cannot save over the connection made after.
func TestVersionsNeverRepeatAcrossADisconnect(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	tok := oauthflow.Token{AccessToken: "old-grant", RefreshToken: "old-refresh", ObtainedAt: time.Now()}
	if _, err := s.SaveToken(ctx, a.ID, 0, tok, oauthflow.RefreshEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DisconnectAccount(ctx, a.ID, true, "test", "test"); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.SaveToken(ctx, a.ID, -1, oauthflow.Token{AccessToken: "new-grant", ObtainedAt: time.Now()}, oauthflow.RefreshEvent{Reason: oauthflow.ReasonConnect})
	if err != nil || fresh.Version <= 1 {
		t.Fatalf("reconnect: got version %d (%v), want more than 1", fresh.Version, err)
	}
	stale := oauthflow.Token{AccessToken: "old-grant-2", ObtainedAt: time.Now()}
	if _, err := s.SaveToken(ctx, a.ID, 1, stale, oauthflow.RefreshEvent{}); !errors.Is(err, oauthflow.ErrTokenConflict) {
		t.Errorf("stale save after a reconnect: got %v, want ErrTokenConflict", err)
	}
	if got, _ := s.LoadToken(ctx, a.ID); got.AccessToken != "new-grant" {
		t.Errorf("stored: got %q, want the new connection's token", got.AccessToken)
	}
}
