package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ActivityLog batches activity rows off the request path: Add never waits for
// the disk, a background loop writes what gathered at least every second,
// and Close writes the rest. When the buffer is full (the disk is far behind)
// new rows are dropped and counted rather than slowing requests down; so are
// rows the database refuses (a full disk, a lock held too long).
type ActivityLog struct {
	s       *Store
	flushMu sync.Mutex // one flush at a time: Flush returns after rows taken by another flush are written too
	mu      sync.Mutex
	buf     []Activity
	minutes map[minuteKey]*digest // requests summed per account and minute
	max     int
	every   time.Duration
	dropped atomic.Int64
	wake    chan struct{}
	done    chan struct{}
	stop    chan struct{}
	onError func(error)
}

// NewActivityLog starts the loop; call Close to flush and stop it.
func (s *Store) NewActivityLog(every time.Duration, onError func(error)) *ActivityLog {
	if every <= 0 {
		every = time.Second
	}
	l := &ActivityLog{s: s, max: 50000, every: every, minutes: map[minuteKey]*digest{}, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stop: make(chan struct{}), onError: onError}
	go l.loop()
	return l
}

// Add queues a row.
func (l *ActivityLog) Add(a Activity) {
	if a.At.IsZero() {
		a.At = l.s.now()
	}
	l.mu.Lock()
	if len(l.buf) >= l.max {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.buf = append(l.buf, a)
	full := len(l.buf) >= 1000
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Dropped is how many rows were dropped: the buffer was full, or the database
// refused to write them.
func (l *ActivityLog) Dropped() int64 { return l.dropped.Load() }

// Flush writes what is queued now, with the summaries of minutes that are
// over, and waits for a flush already under way (the background loop's), so
// every row added before it is on disk after it.
func (l *ActivityLog) Flush(ctx context.Context) error {
	return l.flush(ctx, false)
}

// flush writes the queued rows and the summaries of minutes that are over
// (of every minute, with all).
func (l *ActivityLog) flush(ctx context.Context, all bool) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	l.takeMinutesLocked(l.s.now(), all)
	rows := l.buf
	l.buf = nil
	l.mu.Unlock()
	for len(rows) > 0 {
		n := min(len(rows), 500)
		if err := l.s.AddActivity(ctx, rows[:n]...); err != nil {
			// The database refuses writes (full, locked): the rows are
			// dropped and counted, never held up or retried on the request
			// path.
			l.dropped.Add(int64(len(rows)))
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (l *ActivityLog) loop() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.wake:
		}
		if err := l.Flush(context.Background()); err != nil && l.onError != nil {
			l.onError(err)
		}
	}
}

// Close stops the loop and writes what is left, the current minute's
// summaries included.
func (l *ActivityLog) Close(ctx context.Context) error {
	close(l.stop)
	<-l.done
	return l.flush(ctx, true)
}
