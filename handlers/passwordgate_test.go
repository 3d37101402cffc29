package handlers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPasswordGateBoundsConcurrency: however many checks arrive at once, no
// more than the gate's slots run together, and each waiting one still runs.
func TestPasswordGateBoundsConcurrency(t *testing.T) {
	for _, slots := range []int{1, 2, 4} {
		g := newPasswordGate(slots, 10*time.Second)
		var running, peak atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := g.run(context.Background(), func() {
					n := running.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					running.Add(-1)
				})
				if err != nil {
					t.Errorf("run: %v", err)
				}
			}()
		}
		wg.Wait()
		if got := peak.Load(); got > int64(slots) || got == 0 {
			t.Errorf("%d slots: got %d checks at once, want 1..%d", slots, got, slots)
		}
		if got := g.checks.Load(); got != 40 {
			t.Errorf("%d slots: checks run got %d, want 40", slots, got)
		}
	}
}

// TestPasswordGateRefusesInsteadOfQueueing: a check waits for a slot at most
// the gate's wait, and past 64 waiters per slot it is refused at once.
func TestPasswordGateRefusesInsteadOfQueueing(t *testing.T) {
	g := newPasswordGate(1, 50*time.Millisecond)
	hold, held := make(chan struct{}), make(chan struct{})
	go g.run(context.Background(), func() { close(held); <-hold })
	<-held
	start := time.Now()
	if err := g.run(context.Background(), func() { t.Error("ran while the slot was held") }); !errors.Is(err, errPasswordsBusy) {
		t.Errorf("waiting for a held slot: got %v, want errPasswordsBusy", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
		t.Errorf("refused after %v, want about the 50 ms wait", d)
	}

	g.wait = time.Minute // waiters now wait until the slot frees
	var wg sync.WaitGroup
	for range g.maxWaiting {
		wg.Add(1)
		go func() { defer wg.Done(); g.run(context.Background(), func() {}) }()
	}
	for g.waiting.Load() < g.maxWaiting {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if err := g.run(context.Background(), func() {}); !errors.Is(err, errPasswordsBusy) || time.Since(start) > time.Second {
		t.Errorf("one waiter past the cap: got %v after %v, want errPasswordsBusy at once", err, time.Since(start))
	}
	close(hold)
	wg.Wait()
	if got, want := g.checks.Load(), 1+g.maxWaiting; got != want {
		t.Errorf("checks run: got %d, want %d (the holder and every waiter)", got, want)
	}
}
