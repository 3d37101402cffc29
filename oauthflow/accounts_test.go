package oauthflow_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// accounts is the accounts service over the engine's store and manager;
// notify hears the ids it reports to other processes.
func (e *engine) accounts(notify func(string)) *oauthflow.Accounts {
	hc := oauthflow.NewHTTPClient(oauthflow.HTTPOptions{Guard: &oauthflow.DialGuard{AllowPrivate: true, Dial: loopbackOnly(e.t)}}, oauthflow.SameOriginRedirects)
	return oauthflow.NewAccounts(oauthflow.AccountsOptions{Store: e.store, Manager: e.mgr, Client: e.client,
		Runner: oauthflow.NewRunner(oauthflow.RunnerOptions{Manager: e.mgr, HTTP: hc}), CallbackURL: "http://127.0.0.1:1/cb",
		PublicURL: "http://127.0.0.1:1", Now: e.clock.Now, Notify: notify})
}

type idLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *idLog) add(id string) { l.mu.Lock(); defer l.mu.Unlock(); l.ids = append(l.ids, id) }
func (l *idLog) has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.ids, id)
}

// TestAccountsHearTheManagersVerdicts: a refresh the manager fails outside
// the service (keep-alive's) reaches the request path at once, within the
// cache's TTL, and is passed on to other processes.
func TestAccountsHearTheManagersVerdicts(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{AccessTTL: 2 * time.Hour}, oauthflow.GrantAuthorizationCode)
	var notified idLog
	svc := e.accounts(notified.add)
	ctx := context.Background()
	e.connect()
	if a, err := svc.Get(ctx, e.acct.ID); err != nil || a.Status != oauthflow.StatusConnected {
		t.Fatalf("after connecting: got %v %v, want connected", a.Status, err)
	}
	e.provider.RevokeAll()
	if _, err := e.mgr.Refresh(ctx, e.acct, e.in, oauthflow.ReasonKeepalive); err == nil {
		t.Fatal("keep-alive refresh of a revoked grant succeeded")
	}
	if a, err := svc.Get(ctx, e.acct.ID); err != nil || a.Status != oauthflow.StatusNeedsReconnect {
		t.Errorf("right after keep-alive's verdict: got %v %v, want needs_reconnect", a.Status, err)
	}
	if !notified.has(e.acct.ID) {
		t.Error("other processes were not told of the verdict")
	}
}

// TestAccountsInvalidateIsTheSeamForOtherProcesses: what another process
// writes is seen after Invalidate (or InvalidateAll), at once.
func TestAccountsInvalidateIsTheSeamForOtherProcesses(t *testing.T) {
	for _, all := range []bool{false, true} {
		e := newEngine(t, fakeprovider.Options{AccessTTL: 2 * time.Hour}, oauthflow.GrantAuthorizationCode)
		svc := e.accounts(nil)
		ctx := context.Background()
		e.connect()
		if _, err := svc.Get(ctx, e.acct.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetAccountStatus(ctx, e.acct.ID, oauthflow.StatusDisconnected, ""); err != nil { // another process
			t.Fatal(err)
		}
		if a, _ := svc.Get(ctx, e.acct.ID); a.Status != oauthflow.StatusConnected {
			t.Fatalf("before the notification: got %s, want the cached connected", a.Status)
		}
		if all {
			svc.InvalidateAll()
		} else {
			svc.Invalidate(e.acct.ID)
		}
		if a, _ := svc.Get(ctx, e.acct.ID); a.Status != oauthflow.StatusDisconnected {
			t.Errorf("after Invalidate (all %v): got %s, want disconnected", all, a.Status)
		}
	}
}
