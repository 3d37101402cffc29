package oauthflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// TestTraceQueuedBeforeShutdownIsStored: the traces of background
// refreshes that are still gathering in the trace writer's queue (more
// than one batch of them) are all stored when Wait — the shutdown path —
// returns, without anyone waiting out the gathering time first.
func TestTraceQueuedBeforeShutdownIsStored(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	m := oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, Traces: e.store})
	ctx := context.Background()
	const n = 260 // more than one batch (256)
	for range n {
		if _, err := m.Refresh(ctx, e.acct, e.in, oauthflow.ReasonKeepalive); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	var got int
	for cursor := ""; ; {
		page, next, err := e.store.ListTraces(ctx, e.acct.ID, 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	if got != n {
		t.Errorf("traces stored after Wait: got %d, want %d", got, n)
	}
}

// blockingTraces is a TraceStore (without SaveTraces: the writer's one by
// one path) whose saves wait for release; entered is told of the first.
type blockingTraces struct {
	oauthflow.TraceStore
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingTraces) SaveTrace(ctx context.Context, t oauthflow.Trace) (int64, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.TraceStore.SaveTrace(ctx, t)
}

// syncBuffer is a bytes.Buffer safe for the log's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTraceQueueFullDoesNotBlockRefresh: with the store stuck on a trace
// and the queue full, further refreshes — a manual one too, which waits
// for its trace when there is room — return at once; their traces are
// dropped with a logged count, and the queued ones are stored once the
// store comes back.
func TestTraceQueueFullDoesNotBlockRefresh(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	bt := &blockingTraces{TraceStore: e.store, entered: make(chan struct{}), release: make(chan struct{})}
	var logs syncBuffer
	m := oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, Traces: bt, TraceQueue: 1,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	refresh := func(reason string) {
		t.Helper()
		if _, err := m.Refresh(ctx, e.acct, e.in, reason); err != nil {
			t.Fatal(err)
		}
	}
	refresh(oauthflow.ReasonKeepalive) // taken by the writer, which gets stuck in the store
	select {
	case <-bt.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the trace writer never reached the store")
	}
	refresh(oauthflow.ReasonKeepalive) // queued: the queue is now full
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, reason := range []string{oauthflow.ReasonKeepalive, oauthflow.ReasonManual} {
			if _, err := m.Refresh(ctx, e.acct, e.in, reason); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		close(bt.release)
		t.Fatal("refreshes waited for a full trace queue, want them to return at once")
	}
	if got := logs.String(); !strings.Contains(got, "trace queue full") || !strings.Contains(got, "dropped_total=1") {
		t.Errorf("log: got %q, want the dropped traces counted", got)
	}
	close(bt.release)
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _, err := e.store.ListTraces(ctx, e.acct.ID, 10, ""); err != nil || len(list) != 2 {
		t.Errorf("traces stored: got %d (%v), want the 2 that were queued", len(list), err)
	}
}

// TestFailedManualRefreshTraceStoredOnReturn: a failed refresh a person
// asked for has its trace stored when Refresh returns, without Wait, so the
// page that reports the failure can link to it.
func TestFailedManualRefreshTraceStoredOnReturn(t *testing.T) {
	e := newEngine(t, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
	e.connect()
	m := oauthflow.NewManager(oauthflow.ManagerOptions{Store: e.store, Client: e.client, Now: e.clock.Now, Traces: e.store})
	defer m.Wait(context.Background())
	ctx := context.Background()
	e.provider.FailNextToken(400, `{"error":"invalid_client"}`, 1)
	if _, err := m.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); err == nil {
		t.Fatal("refresh: got no error, want invalid_client")
	}
	list, _, err := e.store.ListTraces(ctx, e.acct.ID, 10, "")
	if err != nil || len(list) != 1 || list[0].Outcome != oauthflow.TraceFailed {
		t.Fatalf("traces right after the failed refresh: got %v, %v; want the failed one", list, err)
	}
}
