package oauthflow

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// TraceBatchStore is a TraceStore that stores several traces in one write
// (one transaction, one prepared statement). The token manager's trace
// writer uses it when the store has it.
type TraceBatchStore interface {
	TraceStore
	// SaveTraces stores ts (already masked) and returns their ids in order.
	SaveTraces(ctx context.Context, ts ...Trace) ([]int64, error)
}

const (
	// traceQueueMax bounds the traces waiting for the database by default
	// (ManagerOptions.TraceQueue): a disk far behind drops traces (counted
	// and logged) rather than holding refreshes up or growing memory
	// without end.
	traceQueueMax = 4096
	// traceBatchMax is the most traces written in one transaction.
	traceBatchMax = 256
	// traceGather is how long the traces of background refreshes gather
	// before they are written together.
	traceGather = 100 * time.Millisecond
)

// traceWriter writes the manager's refresh traces off the refresh path,
// batched: the traces of background refreshes gather for traceGather (or
// until traceBatchMax are waiting) and go in one write; a trace a caller
// waits for (a refresh a person asked for) is written at once, with
// whatever else is waiting. The goroutine that writes runs only while
// traces wait, and counts in the manager's running group, so Wait (the
// shutdown path) returns only after every queued trace is stored.
type traceWriter struct {
	st      TraceStore
	log     *slog.Logger
	running *sync.WaitGroup
	max     int

	mu        sync.Mutex
	queue     []queuedTrace
	urgent    bool // write what waits now, without gathering
	scheduled bool // a writing goroutine is running
	wake      chan struct{}
	dropped   atomic.Int64
}

type queuedTrace struct {
	t  Trace
	id chan int64 // nil when nobody waits for the id
}

func newTraceWriter(st TraceStore, log *slog.Logger, running *sync.WaitGroup, max int) *traceWriter {
	if max <= 0 {
		max = traceQueueMax
	}
	return &traceWriter{st: st, log: log, running: running, max: max, wake: make(chan struct{}, 1)}
}

// add queues t. With wait, it is written at once (with whatever else
// waits) rather than gathered, and the returned channel receives its id (0
// when it could not be stored) once it is written. add never blocks: when
// the queue is full the trace is dropped, counted and logged, and the
// refresh it records goes on as if traces were off.
func (w *traceWriter) add(t Trace, wait bool) <-chan int64 {
	var id chan int64
	if wait {
		id = make(chan int64, 1)
	}
	w.mu.Lock()
	if len(w.queue) >= w.max {
		w.mu.Unlock()
		n := w.dropped.Add(1)
		if n == 1 || n%100 == 0 {
			w.log.Warn("trace queue full: traces dropped (the database is far behind)", "dropped_total", n,
				"account_id", t.AccountID, "kind", t.Kind)
		}
		if id != nil {
			id <- 0
		}
		return id
	}
	w.queue = append(w.queue, queuedTrace{t: t, id: id})
	kick := wait || len(w.queue) >= traceBatchMax
	w.urgent = w.urgent || kick
	if !w.scheduled {
		w.scheduled = true
		w.running.Add(1)
		go w.run()
	}
	w.mu.Unlock()
	if kick {
		w.signal()
	}
	return id
}

// flush has what waits written now, without gathering (Wait calls it).
func (w *traceWriter) flush() {
	w.mu.Lock()
	w.urgent = true
	w.mu.Unlock()
	w.signal()
}

func (w *traceWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes batches until the queue is empty.
func (w *traceWriter) run() {
	defer w.running.Done()
	var gather *time.Timer
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.scheduled = false
			w.mu.Unlock()
			return
		}
		if !w.urgent {
			w.mu.Unlock()
			if gather == nil {
				gather = time.NewTimer(traceGather)
			}
			select {
			case <-gather.C:
				gather = nil
				w.mu.Lock()
				w.urgent = true
				w.mu.Unlock()
			case <-w.wake:
			}
			continue
		}
		batch := w.queue[:min(len(w.queue), traceBatchMax)]
		w.queue = w.queue[len(batch):]
		if len(w.queue) == 0 {
			w.queue, w.urgent = nil, false
		}
		w.mu.Unlock()
		if gather != nil {
			gather.Stop()
			gather = nil
		}
		w.write(batch)
	}
}

// write stores a batch and hands out the ids; a failure is logged and
// nothing else (the refreshes have happened).
func (w *traceWriter) write(batch []queuedTrace) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range batch {
		batch[i].t.mask() // here, off the refresh path: nothing unmasked goes further
	}
	ids := make([]int64, len(batch))
	var err error
	if bs, ok := w.st.(TraceBatchStore); ok {
		ts := make([]Trace, len(batch))
		for i, q := range batch {
			ts[i] = q.t
		}
		var got []int64
		if got, err = bs.SaveTraces(ctx, ts...); err == nil {
			copy(ids, got)
		}
	} else {
		for i, q := range batch {
			if ids[i], err = w.st.SaveTrace(ctx, q.t); err != nil {
				break
			}
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		w.log.Warn("could not save traces", "traces", len(batch), "err", err)
	}
	for i, q := range batch {
		if q.id != nil {
			q.id <- ids[i]
		}
	}
}
