package store

import (
	"context"
	"testing"
	"time"
)

// TestActivityFlushWaitsForTheLoop: rows the background loop has taken but
// not yet written are on disk when Flush returns.
func TestActivityFlushWaitsForTheLoop(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := newAccount(t, s)
	l := s.NewActivityLog(time.Millisecond, func(err error) { t.Error(err) })
	defer l.Close(ctx)
	total := 0
	for round := range 3 {
		for range 1000 {
			l.Add(Activity{AccountID: a.ID, Kind: "request"})
		}
		total += 1000
		time.Sleep(3 * time.Millisecond) // the loop takes the batch and starts writing it
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows, _, err := s.ListActivity(ctx, ActivityFilter{AccountID: a.ID}, 100000, "")
		if err != nil || len(rows) != total {
			t.Fatalf("round %d: %d rows on disk after Flush, want %d (%v)", round, len(rows), total, err)
		}
	}
}
